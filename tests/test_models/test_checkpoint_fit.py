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
from tests.conftest import SAMPLE, SAMPLE_CONFIG, run_mim, stock_model_cfg

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


def _test_cfg(cfg, tmp_path, checkpoint):
    """The sample config testing ``checkpoint`` on the OCHuman sample, without the
    test-time hook (a MIPNet config written by hand, or one whose hook was removed)."""
    test_cfg = copy.deepcopy(cfg)
    test_cfg.default_hooks.pop('multi_instance_test')
    test_cfg.work_dir = str(tmp_path / 'work')
    test_cfg.load_from = str(checkpoint)
    test_cfg.test_dataloader.dataset.data_root = str(SAMPLE)
    test_cfg.test_evaluator.ann_file = str(SAMPLE / 'ochuman' / 'test_ochuman.json')
    test_cfg.custom_hooks = [h for h in test_cfg.custom_hooks
                             if h['type'] != 'MultiInstanceVisualizationHook']
    return test_cfg


@pytest.mark.parametrize('kind', ['stock', 'wider'])
def test_runner_test_without_the_test_hook_is_still_strict(cfg, tmp_path, kind):
    """The check is the model's, not one hook's: a runner test without
    ``default_hooks.multi_instance_test`` refuses a stock or another width's checkpoint
    instead of reporting the AP of a partly random model."""
    from mmengine.runner import Runner
    model_cfg = stock_model_cfg(cfg.model) if kind == 'stock' else _wider(cfg.model)
    checkpoint = _save(MODELS.build(model_cfg), tmp_path / f'{kind}.pth')
    runner = Runner.from_cfg(_test_cfg(cfg, tmp_path, checkpoint))
    assert not any(type(h).__name__ == 'MultiInstanceTestHook' for h in runner.hooks)
    described = ('a stock model without MIMBs (N=1)' if kind == 'stock' else
                 'HRNet stage-4 widths (32, 64, 128, 256)')
    with pytest.raises(CheckpointMismatchError,
                       match=rf'^the checkpoint loaded into this MultiInstanceTopdownPoseEstimator '
                       rf'does not fit .* The checkpoint is [^;]*{re.escape(described)}'):
        runner.test()
    # The same model with its own checkpoint tests (and evaluates).
    own = _save(MODELS.build(cfg.model), tmp_path / 'own.pth')
    metrics = Runner.from_cfg(_test_cfg(cfg, tmp_path / 'own', own)).test()
    assert 0.0 <= metrics['coco/AP'] <= 1.0


def test_mmpose_init_model_with_a_stock_checkpoint_refuses_to_predict(cfg, tmp_path):
    """MMPose's own API (init_model + inference_topdown) loads with strict=False; the
    MIPNet model refuses to predict with the weights it was left with."""
    from mmpose.apis import inference_topdown, init_model
    stock = _save(MODELS.build(stock_model_cfg(cfg.model)), tmp_path / 'stock.pth')
    model = init_model(str(SAMPLE_CONFIG), str(stock), device='cpu')
    image = str(SAMPLE / 'ochuman' / '003896.jpg')
    with pytest.raises(CheckpointMismatchError, match=r'^the checkpoint loaded into this '
                       r'MultiInstanceTopdownPoseEstimator does not fit .*backbone\.mip_meta'):
        inference_topdown(model, image)
    # Its own checkpoint loaded over it: predictions again.
    own = _save(MODELS.build(cfg.model), tmp_path / 'own.pth')
    from mmengine.runner import load_checkpoint
    load_checkpoint(model, str(own), map_location='cpu')
    assert len(inference_topdown(model, image)[0].pred_instances.keypoints) == 2


def test_fine_tuning_from_a_stock_checkpoint_lifts_the_refusal(cfg):
    """``load_from`` a stock checkpoint is how MIPNet training starts: once trained
    (a loss computed), the model predicts."""
    from mmengine.dataset import pseudo_collate
    from mmengine.runner.checkpoint import load_state_dict
    from mmpose.registry import DATASETS
    model = MODELS.build(cfg.model)
    load_state_dict(model, MODELS.build(stock_model_cfg(cfg.model)).state_dict())
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.data_root = str(SAMPLE)
    dataset = DATASETS.build(dataset_cfg)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(2)]), True)
    with pytest.raises(CheckpointMismatchError), torch.no_grad():
        model.eval().predict(batch['inputs'], batch['data_samples'])
    model.train().loss(batch['inputs'], batch['data_samples'])
    with torch.no_grad():
        predictions = model.eval().predict(batch['inputs'], batch['data_samples'])
    assert len(predictions) == 2
