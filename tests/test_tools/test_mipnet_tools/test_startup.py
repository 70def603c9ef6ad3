"""The tools' start-up drops the dependency warnings every command prints, and only those."""
import subprocess
import sys

import pytest

from tests.conftest import REPO

# A tool's process: optionally the start-up, then what every tool does (mmengine's runner
# module, which imports torch.distributed.optim) and what the demo does (mmengine loads
# weights), then a warning with the same text from elsewhere, which must still show.
_TOOL = '''
import sys, warnings
import torch
sys.path.insert(0, 'tools')
if sys.argv[1] == 'quiet':
    from mipnet_tools.startup import quiet_dependency_warnings
    quiet_dependency_warnings()
from mmengine.runner import CheckpointLoader
torch.save({'w': torch.zeros(1)}, sys.argv[2])
CheckpointLoader.load_checkpoint(sys.argv[2], map_location='cpu')
warnings.warn('You are using `torch.load` with `weights_only=False` here', FutureWarning)
'''

TORCHSCRIPT = 'DeprecationWarning: `TorchScript` support for functional optimizers'
WEIGHTS_ONLY = 'FutureWarning: You are using `torch.load` with `weights_only=False`'


@pytest.mark.slow
def test_startup_drops_the_dependency_warnings_and_no_other(tmp_path):
    def stderr(mode: str) -> str:
        done = subprocess.run([sys.executable, '-c', _TOOL, mode, str(tmp_path / 'w.pth')],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stderr

    loud, quiet = stderr('loud'), stderr('quiet')
    # Without it, torch 2.4 prints both through mmengine's modules.
    assert TORCHSCRIPT in loud and 'mmengine/optim/optimizer/zero_optimizer.py' in loud
    assert 'mmengine/runner/checkpoint.py' in loud and loud.count(WEIGHTS_ONLY) == 2
    # With it, neither; the same text warned from another module still shows.
    assert TORCHSCRIPT not in quiet and 'mmengine/runner/checkpoint.py' not in quiet
    assert quiet.count(WEIGHTS_ONLY) == 1 and '<string>' in quiet
