"""Shared fixtures: small real MMPose models and paths to the bundled sample data."""
import os
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / 'data' / 'sample'
# The helpers of tools/ (mipnet_tools), importable as the scripts there import them.
sys.path.insert(0, str(REPO / 'tools'))
from mipnet_tools.models import small_hrnet_extra  # noqa: E402,F401

# Two cores: keep torch from oversubscribing them when tests run models.
torch.set_num_threads(int(os.environ.get('MIPNET_TEST_THREADS', '2')))


def load_tool(path: Path, module_name: str):
    """Import a script of ``tools/`` as a module (``tools/`` is no package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stock_model_cfg(model_cfg):
    """The stock MMPose top-down config of a MIPNet model config (same backbone and
    head: the MIPNet estimator builds them from stock configs)."""
    import copy
    stock = copy.deepcopy(model_cfg)
    stock.type = 'TopdownPoseEstimator'
    for key in ('num_instances', 'lambda_encoding', 'mimb_sites', 'mimb_reduction'):
        stock.pop(key, None)
    return stock


@pytest.fixture(scope='session', autouse=True)
def _register_plugin():
    """Import the plugin (registers its modules) and use MMPose's registry scope."""
    from mmengine.registry import init_default_scope

    import mipnet_mmpose  # noqa: F401
    init_default_scope('mmpose')


def is_converted_config(path) -> bool:
    """A config written by tools/convert_config.py (MMPose's model, MIPNet's changes)."""
    return 'written by tools/convert_config.py' in Path(path).read_text()


def is_alias_config(path) -> bool:
    """An old config name kept for another config (a file that only sets ``_base_``)."""
    # Imported here: the metafile module imports the plugin, which the fixture above does.
    from mipnet_tools.metafile import is_alias_config as alias
    return alias(path)


def reproduction_configs() -> list:
    """The configs that train as the authors did: every configs/mipnet*.py but the
    sample ones, those converted from MMPose's own configs and old-name aliases."""
    return sorted(p for p in (REPO / 'configs').glob('mipnet*.py')
                  if 'sample' not in p.name and not is_converted_config(p)
                  and not is_alias_config(p))


SAMPLE_CONFIG = REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-mini-128x96.py'
SAMPLE_DET_CONFIG = REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-det-128x96.py'
SAMPLE_TEST_EPOCHS = 16


def run_mim(*args: str, cwd: Path = REPO) -> str:
    """Run ``mim <args>`` with this venv's mim; return its output, fail with it shown."""
    import subprocess
    import sys
    mim = Path(sys.executable).with_name('mim')
    env = dict(os.environ, OMP_NUM_THREADS='2')
    proc = subprocess.run([str(mim), *args], cwd=cwd, env=env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'mim {" ".join(args)} failed:\n{output[-6000:]}'
    return output


@pytest.fixture(scope='session')
def sample_training(tmp_path_factory):
    """Train the sample config once per test session with ``mim train``.

    Returns the work dir and the training output; tests that need a trained
    checkpoint share it.
    """
    work_dir = tmp_path_factory.mktemp('mipnet_sample')
    output = run_mim(
        'train', 'mmpose', str(SAMPLE_CONFIG), '--work-dir', str(work_dir), '--cfg-options',
        f'train_cfg.max_epochs={SAMPLE_TEST_EPOCHS}',
        f'train_cfg.val_interval={SAMPLE_TEST_EPOCHS}',
        f'param_scheduler.0.end={SAMPLE_TEST_EPOCHS}', 'default_hooks.checkpoint.interval=8')
    return work_dir, output


#: Fixtures that train or run whole tools: a test that uses one is slow.
SLOW_FIXTURES = frozenset({'sample_training'})


#: Tests measured at 5 s or more (see the file's header).
SLOW_TESTS = REPO / 'tests' / 'slow_tests.txt'


def pytest_collection_modifyitems(config, items):
    """Mark as ``slow`` the end-to-end tests, those needing a trained sample model and
    those measured slow, so that ``pytest -m "not slow"`` is a quick loop for development
    (README and CI run everything)."""
    measured = {line.strip() for line in SLOW_TESTS.read_text().splitlines()
                if line.strip() and not line.startswith('#')}
    for item in items:
        if ('test_e2e' in item.path.parts or SLOW_FIXTURES & set(item.fixturenames)
                or item.nodeid in measured):
            item.add_marker(pytest.mark.slow)
