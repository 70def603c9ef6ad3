"""Shared fixtures: small real MMPose models and paths to the bundled sample data."""
import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / 'data' / 'sample'

# Two cores: keep torch from oversubscribing them when tests run models.
torch.set_num_threads(int(os.environ.get('MIPNET_TEST_THREADS', '2')))


def small_hrnet_extra(width: int = 8) -> dict:
    """A narrow HRNet (stage-4 channels width, 2*width, 4*width, 8*width), one block per branch."""
    w = width
    return dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                    num_channels=(16, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                    num_channels=(w, 2 * w)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                    num_channels=(w, 2 * w, 4 * w)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                    num_channels=(w, 2 * w, 4 * w, 8 * w)))


@pytest.fixture(scope='session', autouse=True)
def _register_plugin():
    """Import the plugin (registers its modules) and use MMPose's registry scope."""
    from mmengine.registry import init_default_scope

    import mipnet_mmpose  # noqa: F401
    init_default_scope('mmpose')
