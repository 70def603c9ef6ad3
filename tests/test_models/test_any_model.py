"""MIPNet on MMPose's own top-down configs: conversion, training step and prediction.

Each stock config comes from MMPose's installed COCO body configs; its training data
is pointed at the real coco_mini sample and its validation data at the OCHuman
sample, then it is converted with ``convert_config`` and run through the real
pipeline (real images with their neighbours), model, loss and decoder.
"""
import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS, MODELS

from mipnet_mmpose import ConversionError, convert_config
from mipnet_mmpose.conversion import converted_config_text, resolve_config_path
from mipnet_tools.coverage import stock_on_sample as sample_config
from tests.conftest import REPO

COCO = 'mmpose::body_2d_keypoint/{}/coco/{}.py'
# One per head/codec family (the coverage tool walks all of them).
FAMILIES = {
    'rtmpose': COCO.format('rtmpose', 'rtmpose-t_8xb256-420e_coco-256x192'),
    'rle': COCO.format('topdown_regression', 'td-reg_res50_rle-8xb64-210e_coco-256x192'),
    'simcc': COCO.format('simcc', 'simcc_mobilenetv2_wo-deconv-8xb64-210e_coco-256x192'),
    'heatmap-auto-sites': COCO.format('topdown_heatmap',
                                      'td-hm_shufflenetv2_8xb64-210e_coco-256x192'),
}


def stock_on_sample(name: str) -> Config:
    """A stock config whose data are the bundled samples (the coverage tool's)."""
    return sample_config(resolve_config_path(name))[0]


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_converted_stock_model_trains_and_predicts_n_poses(family):
    cfg = convert_config(stock_on_sample(FAMILIES[family]), num_instances=2)
    assert cfg.model.type == 'MultiInstanceTopdownPoseEstimator'
    torch.manual_seed(0)
    np.random.seed(0)
    model = MODELS.build(cfg.model)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert type(train).__name__ == 'MultiInstanceCocoDataset'
    batch = model.data_preprocessor(pseudo_collate([train[i] for i in range(2)]), training=True)
    losses = model.train().loss(batch['inputs'], batch['data_samples'])
    total, _ = model.parse_losses(losses)  # the stock terms; the per-λ ones are logs
    assert torch.isfinite(total)
    terms = [k for k in losses if k.startswith('loss_') and '_lambda' not in k]
    assert terms
    for i in range(2):  # one loss term per λ for every stock loss term
        assert all(f'{t}_lambda{i}' in losses for t in terms), sorted(losses)
    total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for n, p in model.named_parameters() if 'mimb' in n)

    val = DATASETS.build(cfg.val_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([val[i] for i in range(2)]), training=False)
    with torch.no_grad():
        samples = model.eval().predict(batch['inputs'], batch['data_samples'])
    for sample in samples:
        assert sample.pred_instances.lambdas.tolist() == [0, 1]
        assert sample.pred_instances.keypoints.shape[:2] == (2, 17)


def test_converted_backbone_keeps_stock_keys_and_loads_a_stock_checkpoint():
    stock_cfg = stock_on_sample(FAMILIES['rtmpose'])
    stock = MODELS.build(copy.deepcopy(stock_cfg.model))
    mip = MODELS.build(convert_config(stock_cfg).model)
    stock_keys, mip_keys = set(stock.state_dict()), set(mip.state_dict())
    assert stock_keys <= mip_keys
    extra = mip_keys - stock_keys
    assert extra and all('mimb' in k or k.endswith('mip_meta') for k in extra)
    result = mip.load_state_dict(stock.state_dict(), strict=False)
    # torch does not report a BN's num_batches_tracked as missing.
    assert not result.unexpected_keys
    assert set(result.missing_keys) == {k for k in extra if 'num_batches_tracked' not in k}


def test_num_instances_one_is_the_stock_model():
    stock_cfg = stock_on_sample(FAMILIES['rle'])
    stock = MODELS.build(copy.deepcopy(stock_cfg.model)).eval()
    mip = MODELS.build(convert_config(stock_cfg, num_instances=1).model).eval()
    assert set(stock.state_dict()) == set(mip.state_dict())
    mip.load_state_dict(stock.state_dict())
    x = torch.randn(2, 3, 256, 192)
    with torch.no_grad():
        torch.testing.assert_close(mip.head(mip.extract_feat(x)), stock.head(stock.extract_feat(x)))


@pytest.mark.parametrize('name, part', [
    (COCO.format('topdown_heatmap', 'td-hm_cpm_8xb64-210e_coco-256x192'), 'multi-stage'),
    (COCO.format('topdown_heatmap', 'td-hm_4xmspn50_8xb32-210e_coco-256x192'), 'multi-stage'),
])
def test_unconvertible_configs_name_the_part_and_why(name, part):
    with pytest.raises(ConversionError, match=part):
        convert_config(Config.fromfile(resolve_config_path(name)))


def test_convert_tool_refuses_a_missing_file(tmp_path, capsys):
    from tools.convert_config import main
    assert main([str(tmp_path / 'nope.py'), str(tmp_path / 'out.py')]) == 1
    assert 'nope.py' in capsys.readouterr().err
    assert not Path(tmp_path / 'out.py').exists()


def test_text_n_change_reaches_model_and_slots():
    stock = Config.fromfile(resolve_config_path(FAMILIES['rtmpose']))
    text = converted_config_text(stock, num_instances=3, lambda_encoding='binary')
    assert 'num_instances = 3' in text and "lambda_encoding='binary'" in text


def test_converted_model_pickles_into_a_fresh_process(tmp_path):
    """torch.save of a whole converted model loads where its classes were never made."""
    import subprocess
    import sys
    cfg = convert_config(stock_on_sample(FAMILIES['rtmpose']))
    model = MODELS.build(cfg.model).eval()
    x = torch.randn(1, 3, 256, 192)
    with torch.no_grad():
        expected = model.head(model.backbone(x, num_instances=2))
    torch.save(dict(model=model, x=x, expected=expected), tmp_path / 'model.pt')
    code = (
        'import torch, mipnet_mmpose\n'
        f"d = torch.load({str(tmp_path / 'model.pt')!r}, weights_only=False)\n"
        'm = d["model"]\n'
        'assert type(m.backbone).__name__ == "MultiInstanceCSPNeXt", type(m.backbone)\n'
        'with torch.no_grad():\n'
        '    out = m.head(m.backbone(d["x"], num_instances=2))\n'
        'for a, b in zip(out, d["expected"]):\n'
        '    torch.testing.assert_close(a, b)\n'
        'print("ok")\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=str(REPO))
    assert result.returncode == 0 and 'ok' in result.stdout, result.stderr[-2000:]


@pytest.mark.parametrize('n', [2, 3, 4, 5])
def test_python_and_cli_give_one_lambda_code_for_n(tmp_path, n):
    """convert_config and tools/convert_config.py ask one rule for the default λ code:
    the authors' one-hot for N=2 and 2-bit code for N = 3, 4."""
    from mipnet_mmpose.models import default_lambda_encoding
    from tools.convert_config import main
    expected = 'binary' if n in (3, 4) else 'one_hot'
    assert default_lambda_encoding(n) == expected
    stock = Config.fromfile(resolve_config_path(FAMILIES['rtmpose']))
    assert convert_config(stock, num_instances=n).model.lambda_encoding == expected
    out = tmp_path / 'out.py'
    assert main([FAMILIES['rtmpose'], str(out), '--num-instances', str(n)]) == 0
    assert Config.fromfile(str(out)).model.lambda_encoding == expected
