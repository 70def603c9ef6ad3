"""Installing the plugin into an environment that already has the OpenMMLab stack.

Checked against the environment the tests run in (the one tools/setup.sh builds with
requirements.txt's pins): the plugin's declared ranges (setup.py) accept every installed
version, `pip install -e . --dry-run` would install the plugin and nothing else (no
torch, mmcv or numpy replaced), and a `--no-deps` install leaves `pip check` clean.
The plugin is never installed into this environment: the dry run installs nothing and
the `--no-deps` install goes to a throwaway `--target` folder.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from .conftest import REPO

#: The one problem `pip check` reports in the environment tools/setup.sh builds, on
#: purpose: openmim is installed without its opendatalab -> openxlab dependency, which
#: would downgrade setuptools to 60.2 (see tools/setup.sh); `mim train/test/search` do
#: not use it. Nothing else may be reported.
KNOWN_PIP_CHECK = {'openmim 0.3.9 requires opendatalab, which is not installed.'}


def _pip(*args: str, env=None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'pip', '--disable-pip-version-check', *args],
                          capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


@pytest.fixture(scope='module')
def source_copy(tmp_path_factory) -> Path:
    """What setup.py needs, copied, so that pip writes no build files into the checkout."""
    out = tmp_path_factory.mktemp('plugin_source')
    for name in ('setup.py', 'README.md', 'requirements-tests.txt', 'MANIFEST.in',
                 'model-index.yml'):
        if (REPO / name).exists():
            shutil.copy(REPO / name, out / name)
    for folder in ('mipnet_mmpose', 'configs'):
        shutil.copytree(REPO / folder, out / folder,
                        ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    return out


@pytest.fixture(scope='module')
def dry_run_report(source_copy, tmp_path_factory) -> dict:
    """pip's report of `pip install -e . --dry-run` in this environment."""
    report = tmp_path_factory.mktemp('pip_report') / 'report.json'
    done = _pip('install', '--dry-run', '--quiet', '--report', str(report),
                '-e', str(source_copy))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(report.read_text())


def _runtime_requirements(report: dict) -> list:
    plugin, = [item for item in report['install']
               if item['metadata']['name'].replace('_', '-') == 'mipnet-mmpose']
    reqs = [Requirement(r) for r in plugin['metadata'].get('requires_dist', [])]
    return [r for r in reqs if r.marker is None]


@pytest.mark.new_torch
def test_dry_run_installs_only_the_plugin(dry_run_report):
    names = [item['metadata']['name'] for item in dry_run_report['install']]
    assert [n.replace('_', '-') for n in names] == ['mipnet-mmpose'], (
        f'pip install -e . would also install or replace {names}')


@pytest.mark.new_torch
def test_declared_ranges_accept_the_tested_versions(dry_run_report):
    from importlib.metadata import PackageNotFoundError, version
    reqs = _runtime_requirements(dry_run_report)
    assert {r.name for r in reqs} >= {'torch', 'mmcv', 'mmengine', 'mmpose', 'numpy'}
    for req in reqs:
        # Ranges, not the tested pins: an environment with another torch build keeps it.
        assert not any(spec.operator == '==' for spec in req.specifier), (
            f'{req} pins one version; pins belong in requirements.txt')
        try:
            installed = version(req.name)
        except PackageNotFoundError:
            pytest.fail(f'{req.name} (required: {req}) is not installed')
        assert req.specifier.contains(installed, prereleases=True), (
            f'installed {req.name} {installed} is outside the declared {req}')


def test_requirements_txt_pins_are_inside_the_ranges(dry_run_report):
    """The tested pins (requirements.txt, what tools/setup.sh installs) fit the ranges."""
    pins = {}
    for line in (REPO / 'requirements.txt').read_text().splitlines():
        line = line.split('#')[0].strip()
        if line:
            req = Requirement(line)
            pins[req.name] = next(iter(req.specifier)).version
    for req in _runtime_requirements(dry_run_report):
        assert req.name in pins, f'{req.name} has no tested pin in requirements.txt'
        assert req.specifier.contains(pins[req.name]), (
            f'requirements.txt pins {req.name}=={pins[req.name]}, outside {req}')


@pytest.fixture(scope='module')
def target_install(source_copy, tmp_path_factory) -> Path:
    """`pip install --no-deps` of the plugin into a throwaway folder (put on PYTHONPATH)."""
    target = tmp_path_factory.mktemp('site')
    done = _pip('install', '--quiet', '--no-deps', '--target', str(target), str(source_copy))
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def test_no_deps_install_leaves_pip_check_clean(target_install):
    target = target_install
    env = dict(os.environ, PYTHONPATH=str(target))
    # The installed copy's metadata (not the checkout's editable one) is what is checked.
    where = subprocess.run(
        [sys.executable, '-c', 'import importlib.metadata as m, os; '
         "print(os.path.abspath(m.distribution('mipnet_mmpose')._path))"],
        capture_output=True, text=True, env=env, check=True, cwd=target).stdout
    assert where.startswith(str(target)), where
    # Run from the throwaway folder: `python -m` puts the working directory first on
    # sys.path, and a checkout's own mipnet_mmpose.egg-info would shadow the install.
    check = _pip('check', env=env, cwd=target)
    problems = {line.strip() for line in check.stdout.splitlines() if line.strip()}
    problems -= {'No broken requirements found.'}
    assert problems <= KNOWN_PIP_CHECK, f'pip check: {sorted(problems - KNOWN_PIP_CHECK)}'


def test_mim_search_lists_the_configs_of_the_installed_plugin(target_install):
    """`mim search mipnet_mmpose --model mipnet` reads the installed package's
    .mim/model-index.yml (model-index.yml and configs/metafile.yml of the checkout)."""
    import yaml

    from .conftest import is_alias_config
    env = dict(os.environ, PYTHONPATH=str(target_install))
    mim = Path(sys.executable).with_name('mim')
    # Wide enough that mim shows links and commands whole.
    done = subprocess.run([str(mim), 'search', 'mipnet_mmpose', '--model', 'mipnet',
                           '--display-width', '400'],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    listed = set(re.findall(r'config id: (\S+)', done.stdout))
    configs = {p.stem for p in (REPO / 'configs').glob('mipnet*.py') if not is_alias_config(p)}
    # Released weights too: the authors' checkpoint (one entry per evaluation) and
    # MMPose's HRNet checkpoints, the N=1 baselines.
    from mipnet_tools.metafile import AUTHORS_RELEASE, MMPOSE_BASELINES
    released = {name for name, _, _ in AUTHORS_RELEASE} | set(MMPOSE_BASELINES)
    assert listed == configs | released, \
        (sorted(configs | released - listed), sorted(listed - configs - released))
    meta = yaml.safe_load((REPO / 'configs' / 'metafile.yml').read_text())
    blocks = {b.split()[0]: b for b in done.stdout.split('config id: ')[1:]}
    for model in meta['Models']:
        if model['Config'].startswith('mmpose::'):
            from mipnet_mmpose.conversion import resolve_config_path
            assert Path(resolve_config_path(model['Config'])).is_file(), model['Config']
        else:
            assert (REPO / model['Config']).is_file(), model['Config']
        for result in model['Results']:
            for name, value in result['Metrics'].items():
                assert value == 'to be measured' or isinstance(value, float), (model, name)
        if model['Name'] in released:
            # mim shows the published AP, labelled as published, and the weights' link.
            block = blocks[model['Name']]
            assert model['Weights'] in block
            for name, value in model['Results'][0]['Metrics'].items():
                key = f"{model['Results'][0]['Dataset']}/{'_'.join(name.split())}".lower()
                assert re.search(rf'^{re.escape(key)}\s+{value}$', block, re.M), (key, block)
            assert model['Results'][0]['Dataset'].endswith('(published)')
            assert 'not re-measured here' in model['Metadata']['AP source']


def test_metafile_is_the_configs():
    """configs/metafile.yml is what tools/write_metafile.py writes from the configs now."""
    from mipnet_tools.metafile import listed_configs, metafile_text
    assert (REPO / 'configs' / 'metafile.yml').read_text() == \
        metafile_text(listed_configs(REPO / 'configs')), 'run tools/write_metafile.py'


def test_released_weights_fit_their_configs():
    """The authors' release (HRNet-W48 384x288, N=2, one-hot λ) is listed under configs that
    build that model; MMPose's baselines are the files the HRNet configs start from
    (``start_checkpoints['mmpose']``), what ``mim download mmpose`` writes."""
    import yaml
    from mmengine.config import Config

    from mipnet_tools.metafile import AUTHORS_RELEASE, MMPOSE_BASELINES, mmpose_download_command
    meta = {m['Name']: m for m in
            yaml.safe_load((REPO / 'configs' / 'metafile.yml').read_text())['Models']}
    for name, config, _ in AUTHORS_RELEASE:
        cfg = Config.fromfile(str(REPO / 'configs' / config))
        assert (cfg.model.num_instances, cfg.model.lambda_encoding) == (2, 'one_hot')
        assert cfg.model.backbone.extra.stage4.num_channels == (48, 96, 192, 384)
        assert tuple(cfg.codec.input_size) == (288, 384)
        # The authors' table is with GT boxes: so are these configs' test sets.
        assert cfg.test_dataloader.dataset.get('bbox_file') is None, config
        assert 'GT boxes' in meta[name]['Results'][0]['Dataset']
    for name, config in MMPOSE_BASELINES.items():
        start = Config.fromfile(str(REPO / 'configs' / config)).start_checkpoints['mmpose']
        assert meta[name]['Weights'].rsplit('/', 1)[1] == Path(start).name
        assert meta[name]['Metadata']['Get it'] == mmpose_download_command(name)
        assert Path(start).parent.name == 'checkpoints' and '--dest checkpoints' in \
            mmpose_download_command(name)
