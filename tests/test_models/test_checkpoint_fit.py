"""Testing and inference refuse checkpoints that leave weights of the model unloaded."""
import copy
import re

import pytest
import torch
from mmengine.config import Config
from mmpose.registry import MODELS

from mipnet_mmpose.apis import init_mipnet
from mipnet_mmpose.models.utils.checkpoint_fit import (
    CheckpointMismatchError,
    check_checkpoint_fits,
    describe_checkpoint,
)
from tests.conftest import SAMPLE_CONFIG, run_mim, stock_model_cfg

# Checkpoints written and loaded: CI runs these on the newest torch too.
pytestmark = pytest.mark.new_torch


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(str(SAMPLE_CONFIG))


def _save(model, path):
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def _wider(model_cfg, factor=2):
    """The sample model with every HRNet branch `factor` times wider."""
    model_cfg = copy.deepcopy(model_cfg)
    extra = model_cfg.backbone.extra
    for stage in ('stage2', 'stage3', 'stage4'):
        extra[stage].num_channels = tuple(c * factor for c in extra[stage].num_channels)
    model_cfg.head.in_channels = extra.stage4.num_channels[0]
    return model_cfg


def test_matching_checkpoint_passes(cfg):
    model = MODELS.build(cfg.model)
    check_checkpoint_fits(model, dict(state_dict=model.state_dict()))
    assert describe_checkpoint(model.state_dict()) == (
        'HRNet stage-4 widths (16, 32, 64, 128), MIPNet N=2 (one_hot λ code), '
        '17 heatmap channels')


def test_other_width_is_refused_naming_both_models(cfg):
    model = MODELS.build(cfg.model)
    wide = MODELS.build(_wider(cfg.model))
    with pytest.raises(CheckpointMismatchError) as error:
        check_checkpoint_fits(model, dict(state_dict=wide.state_dict()), 'w32.pth', 'cfg.py')
    message = str(error.value)
    assert message.startswith('w32.pth does not fit the model built from cfg.py')
    assert re.search(r'\d+ key\(s\) of another shape \(checkpoint vs model\): backbone\.', message)
    assert 'The checkpoint is HRNet stage-4 widths (32, 64, 128, 256)' in message
    assert 'the config builds HRNet stage-4 widths (16, 32, 64, 128)' in message


def test_stock_checkpoint_is_refused_for_testing(cfg):
    model = MODELS.build(cfg.model)
    stock = MODELS.build(stock_model_cfg(cfg.model))
    with pytest.raises(CheckpointMismatchError,
                       match=r'(?s)key\(s\) missing from the checkpoint: backbone\.mip_meta.*'
                       r'a stock model without MIMBs \(N=1\)'):
        check_checkpoint_fits(model, dict(state_dict=stock.state_dict()))


def test_other_keypoint_number_is_refused(cfg):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.head.out_channels = 14
    crowd = MODELS.build(model_cfg)
    with pytest.raises(CheckpointMismatchError, match='14 heatmap channels'):
        check_checkpoint_fits(MODELS.build(cfg.model), dict(state_dict=crowd.state_dict()))


def test_init_mipnet_is_strict_and_loads_a_fitting_checkpoint(cfg, tmp_path):
    torch.manual_seed(0)
    good = _save(MODELS.build(cfg.model), tmp_path / 'good.pth')
    model = init_mipnet(str(SAMPLE_CONFIG), str(good), device='cpu')
    reference = torch.load(good)['state_dict']
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, reference[key])
    stock = _save(MODELS.build(stock_model_cfg(cfg.model)), tmp_path / 'stock.pth')
    with pytest.raises(CheckpointMismatchError, match=f'{stock} does not fit'):
        init_mipnet(str(SAMPLE_CONFIG), str(stock), device='cpu')


def test_mim_test_refuses_a_checkpoint_of_another_width(cfg, tmp_path):
    """The issue's row: a W32-width checkpoint tested with the W16 sample config."""
    wide = _save(MODELS.build(_wider(cfg.model)), tmp_path / 'wide.pth')
    with pytest.raises(AssertionError) as error:
        run_mim('test', 'mmpose', str(SAMPLE_CONFIG), '--checkpoint', str(wide),
                '--work-dir', str(tmp_path / 'work'))
    output = str(error.value)
    assert 'CheckpointMismatchError' in output and f'--checkpoint {wide}' in output
    assert 'HRNet stage-4 widths (32, 64, 128, 256)' in output
    assert 'coco/AP' not in output  # no AP of a half-random model
