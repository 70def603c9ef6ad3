import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

# What the plugin works with, as ranges, so that `pip install -e .` into an existing MMPose
# environment keeps the user's torch (and its CUDA build), mmcv and numpy. The exact versions
# we test with, and the install order that builds them, are requirements.txt and
# tools/setup.sh; tests/test_install.py checks that they satisfy these ranges.
INSTALL_REQUIRES = [
    # Measured up to 2.14.1 (docs/torch_versions.md: mmcv 2.1.0 builds against 2.14 only with
    # -std=c++20, see tools/setup_new_torch.sh; 2.15 was not tried). torch >= 2.6 loads
    # checkpoints with weights_only=True, which needs the checkpoint types allowlisted.
    'torch>=2.0,<2.15',
    # numpy 2 breaks the xtcocotools 1.14 wheels (built against numpy 1).
    'numpy>=1.21,<2',
    'mmengine>=0.10.0,<1.0',
    # mmcv with its compiled ops (mmpose.models imports mmcv.ops); mmdet 3.3 refuses >= 2.2.
    # mmcv also brings OpenCV (opencv-python), which is not named here so that an
    # opencv-python-headless environment is kept.
    'mmcv>=2.0.0,<2.2.0',
    # MIPNet builds mmdet's backbones (CSPNeXt of RTMPose) by name.
    'mmdet>=3.0.0,<3.4.0',
    # We subclass MMPose's estimator, heads, codecs, data sets and metric: one minor line.
    'mmpose>=1.3.0,<1.4.0',
    'xtcocotools>=1.12',
]


#: What `mim` reads from an installed package's `.mim/` folder: `mim search mipnet_mmpose`
#: loads `mipnet_mmpose/.mim/model-index.yml`, which imports `configs/metafile.yml`.
MIM_FILES = ('model-index.yml', 'configs')


def add_mim_extension() -> None:
    """Put model-index.yml and the configs into ``mipnet_mmpose/.mim``: linked for an
    editable install (``setup.py develop``), copied when a wheel or sdist is built."""
    if 'develop' in sys.argv:
        mode = 'symlink'
    elif any(cmd in sys.argv for cmd in ('sdist', 'bdist_wheel', 'build', 'install')):
        mode = 'copy'
    else:
        return
    here = osp.dirname(osp.abspath(__file__))
    mim_dir = osp.join(here, 'mipnet_mmpose', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src, dst = osp.join(here, name), osp.join(mim_dir, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), dst)
        elif osp.isdir(src):
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, dst)


def read_version() -> str:
    namespace: dict = {}
    with open('mipnet_mmpose/version.py') as f:
        exec(f.read(), namespace)
    return namespace['__version__']


def read_requirements(path: str) -> list:
    with open(path) as f:
        return [line.strip() for line in f
                if line.strip() and not line.startswith('#')]


add_mim_extension()
setup(
    name='mipnet_mmpose',
    version=read_version(),
    description='MIPNet (Multi-Instance Pose Networks) as an MMPose plugin',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=['mipnet_mmpose', 'mipnet_mmpose.*']),
    # model-index.yml and the metafiles go with the package so that `mim search` finds them.
    package_data={'mipnet_mmpose': ['.mim/model-index.yml', '.mim/configs/*.yml',
                                    '.mim/configs/*.py', '.mim/configs/*/*.py']},
    python_requires='>=3.8',
    install_requires=INSTALL_REQUIRES,
    extras_require={
        # `mim train/test`; openmim's own openxlab dependency downgrades setuptools, see
        # tools/setup.sh for installing it without.
        'mim': ['openmim>=0.3.7'],
        'tests': read_requirements('requirements-tests.txt'),
    },
)
