from setuptools import find_packages, setup


def read_version() -> str:
    namespace: dict = {}
    with open('mipnet_mmpose/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(path: str) -> list:
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


setup(
    name='mipnet_mmpose',
    version=read_version(),
    description='MIPNet (Multi-Instance Pose Networks) as an MMPose plugin',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['mipnet_mmpose', 'mipnet_mmpose.*']),
    python_requires='>=3.8',
    install_requires=read_requirements('requirements.txt'),
    extras_require={'tests': read_requirements('requirements-tests.txt')},
)
