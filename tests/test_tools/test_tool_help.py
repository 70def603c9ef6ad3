"""Every command line of tools/ answers --help at once, and tools/setup.sh --help installs
nothing.

``--help`` is parsed before torch or OpenMMLab is imported (they take seconds to import):
each tool is run for real in a subprocess, its modules listed after argparse exits, and
timed. Alone on a 2-core machine each answers in about 0.1 s (2026-12-07); the limit is
generous for a loaded machine.
"""
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO

TOOLS = sorted((REPO / 'tools').glob('*.py'))
#: Packages whose import costs seconds; none may be imported before --help answers.
HEAVY = {'torch', 'mmengine', 'mmcv', 'mmdet', 'mmpose', 'mipnet_mmpose', 'numpy', 'cv2'}
HELP_LIMIT_S = 5.0

# Runs the tool as `python tools/X.py --help` does (tools/ first on sys.path), then lists the
# heavy packages (the other arguments) imported by then.
_PROBE = '''
import runpy, sys
path, heavy = sys.argv[1], set(sys.argv[2:])
sys.argv = [path, '--help']
sys.path.insert(0, path.rsplit('/', 1)[0])
try:
    runpy.run_path(path, run_name='__main__')
except SystemExit as e:
    code = e.code
else:
    code = 0
print('HEAVY:', sorted({m.split('.')[0] for m in sys.modules} & heavy))
sys.exit(code)
'''


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')


def test_every_tool_is_listed():
    assert {p.name for p in TOOLS} >= {'benchmark.py', 'convert_config.py',
                                       'convert_official_ckpt.py', 'demo.py', 'export_onnx.py',
                                       'prepare_data.py', 'write_metafile.py'}


@pytest.mark.parametrize('tool', TOOLS, ids=[p.name for p in TOOLS])
def test_help_answers_before_heavy_imports(tool):
    done = subprocess.run([sys.executable, '-c', _PROBE, str(tool), *sorted(HEAVY)],
                          capture_output=True,
                          text=True, cwd=REPO, env=_env(), timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith('usage:'), done.stdout
    assert 'HEAVY: []' in done.stdout, done.stdout.splitlines()[-1]
    # The command a user types, timed.
    start = time.perf_counter()
    done = subprocess.run([sys.executable, str(tool), '--help'], capture_output=True,
                          text=True, cwd=REPO, env=_env(), timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0 and done.stdout.startswith('usage:'), done.stderr
    assert elapsed < HELP_LIMIT_S, f'{tool.name} --help took {elapsed:.1f} s'


def test_convert_config_help_shows_its_defaults():
    from mipnet_mmpose.conversion import COCO_LAYOUT
    done = subprocess.run([sys.executable, str(REPO / 'tools' / 'convert_config.py'), '--help'],
                          capture_output=True, text=True, cwd=REPO, env=_env(), timeout=60)
    text = ' '.join(done.stdout.split())
    assert 'N, poses per box (default: 2)' in text
    # The data-layout options the tool names are the plugin's layout, with its defaults.
    sys.path.insert(0, str(REPO / 'tools'))
    from tests.conftest import load_tool
    tool = load_tool(REPO / 'tools' / 'convert_config.py', 'convert_config_help')
    assert tool.DATA_OPTIONS == COCO_LAYOUT
    for default in COCO_LAYOUT.values():
        assert f'default: {default}' in text


@pytest.mark.parametrize('script', ['setup.sh', 'setup_new_torch.sh'])
def test_setup_help_prints_usage_and_installs_nothing(script, tmp_path):
    """With a venv folder that does not exist and no usable Python, --help still answers
    (so it ran nothing) and creates nothing."""
    venv = tmp_path / 'venv'
    env = dict(os.environ, VENV=str(venv), PYTHON=str(tmp_path / 'no-python'))
    for flag in ('--help', '-h'):
        done = subprocess.run(['bash', str(REPO / 'tools' / script), flag],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f'usage: bash tools/{script}')
        assert 'installs nothing' in done.stdout
    done = subprocess.run(['bash', str(REPO / 'tools' / script), '--bogus'],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and "unknown argument '--bogus'" in done.stderr
    assert not venv.exists()


def test_gpu_checks_help_and_the_stop_without_a_gpu(tmp_path):
    """tools/gpu_checks.sh --help runs nothing; on a machine without a GPU its first step
    stops the script with one clear line, before any benchmark or training."""
    script = str(REPO / 'tools' / 'gpu_checks.sh')
    done = subprocess.run(['bash', script, '--help'], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith('usage: bash tools/gpu_checks.sh')
    if torch_sees_a_gpu():
        pytest.skip('this machine has a GPU: the checks would run')
    out = tmp_path / 'out'
    done = subprocess.run(['bash', script, str(out)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PY=sys.executable))
    assert done.returncode == 1
    assert 'sees no CUDA GPU (torch.cuda.is_available() is False)' in done.stdout
    assert sorted(p.name for p in out.iterdir()) == ['gpu.log']  # nothing ran after it


def torch_sees_a_gpu() -> bool:
    import torch
    return torch.cuda.is_available()
