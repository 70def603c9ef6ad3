"""MIPNet's model, loss and metric under CPU autocast (bfloat16) on real sample batches.

The CPU half of mixed-precision training (``tools/benchmark.py --amp``; on a GPU the same
model runs float16 through mmengine's AmpOptimWrapper, see ``tools/gpu_checks.sh``):
losses finite and close to float32's, predictions close to float32's, the metric's AP
computed from them.
"""
import copy
import math

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.evaluator import Evaluator
from mmpose.registry import DATASETS, MODELS
from torch import nn

from tests.conftest import SAMPLE, SAMPLE_CONFIG

BF16 = dict(device_type='cpu', dtype=torch.bfloat16)
# bfloat16 keeps 8 significant bits (a relative step of 2**-8 = 0.4 %); through the
# ~60 layers of the sample HRNet the heatmaps differed by 0.43 % of their range and the
# losses by up to 0.39 % (torch 2.4.1, 2026-12-07): the tolerances leave a factor
# of about 3.5.
HEATMAP_TOL = 0.015  # max |bf16 - fp32| / max |fp32| over all heatmaps
LOSS_RTOL = 0.015

# What a newer torch may change: CI runs this in the venv of tools/setup_new_torch.sh too.
pytestmark = pytest.mark.new_torch


@pytest.fixture(scope='module')
def cfg() -> Config:
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.dataset.data_root = str(SAMPLE)
    cfg.val_evaluator.ann_file = str(SAMPLE / 'ochuman' / 'test_ochuman.json')
    return cfg


@pytest.fixture(scope='module')
def model(cfg) -> nn.Module:
    """The sample model (random weights) with heatmaps of a trained model's size and
    λ-dependent MIMBs.

    The final layer's init (std 0.001) gives heatmaps of about 0.001, and the MIMB init
    gates both λ alike; larger weights give heatmaps up to about 0.25 that differ by λ,
    where a tolerance relative to them means something.
    """
    torch.manual_seed(0)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None
    model_cfg.test_cfg.flip_test = False  # the poses are decoded from the heatmaps compared
    model = MODELS.build(model_cfg)
    for name, module in model.backbone.named_modules():
        if name.startswith('mimb') and isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=2.0)
    nn.init.normal_(model.head.final_layer.weight, std=0.3)
    return model


def _batch(model: nn.Module, dataset_cfg, n_items: int, training: bool) -> dict:
    dataset = DATASETS.build(dataset_cfg)
    np.random.seed(0)  # the training pipeline's augmentation
    items = [dataset[i] for i in range(min(n_items, len(dataset)))]
    return model.data_preprocessor(pseudo_collate(items), training=training)


def test_training_losses_under_bf16_autocast_are_finite_and_close_to_fp32(cfg, model):
    model.train()
    batch = _batch(model, cfg.train_dataloader.dataset, 8, training=True)
    full = model.loss(batch['inputs'], batch['data_samples'])
    model.zero_grad()
    with torch.autocast(**BF16):
        half = model.loss(batch['inputs'], batch['data_samples'])
    assert set(half) == set(full) >= {'loss_kpt', 'loss_kpt_lambda0', 'loss_kpt_lambda1'}
    for key, value in half.items():
        assert torch.isfinite(value).all(), (key, value)
        if 'kpt' in key:  # the losses (acc_pose: thresholded, it may jump)
            assert math.isclose(value.item(), full[key].item(), rel_tol=LOSS_RTOL), (
                key, value.item(), full[key].item())
    half['loss_kpt'].backward()  # bfloat16 activations, float32 gradients
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all()
               for g in grads)


def test_predictions_and_metric_under_bf16_autocast_match_fp32(cfg, model):
    model.eval()
    batch = _batch(model, cfg.val_dataloader.dataset, 5, training=False)
    with torch.no_grad():
        full_maps = model.head.forward(model.extract_feat(batch['inputs'], 2))
        full = model.predict(batch['inputs'], copy.deepcopy(batch['data_samples']))
        with torch.autocast(**BF16):
            half_maps = model.head.forward(model.extract_feat(batch['inputs'], 2))
            half = model.predict(batch['inputs'], copy.deepcopy(batch['data_samples']))
    assert half_maps.dtype == torch.bfloat16
    assert full_maps.shape == half_maps.shape == (5 * 2, 17, 32, 24)  # (B·N, K, h, w)
    error = (half_maps.float() - full_maps).abs().max()
    assert error < HEATMAP_TOL * full_maps.abs().max(), (error, full_maps.abs().max())
    # Decoded poses (MMPose's decoder runs on float32 numpy): the same λ rows and keypoint
    # scores (the heatmap maxima) within the heatmap error. A random model's heatmaps are
    # flat, so a keypoint's cell is compared where float32's maximum beats every other cell
    # by more than twice that error: there bfloat16 must find the same cell.
    flat = full_maps.flatten(2)
    top2 = flat.topk(2, dim=-1).values
    determined = (top2[..., 0] - top2[..., 1] > 2 * error).reshape(5, 2, 17).numpy()
    assert determined.any()
    for a, b, sure in zip(full, half, determined):
        # One heatmap cell in image pixels; MMPose's decoder moves the maximum a quarter
        # cell toward its larger neighbour, which a bfloat16 error may turn the other way.
        cell = np.max(a.metainfo['input_scale'] / np.array([24, 32]))
        pa, pb = a.pred_instances, b.pred_instances
        assert pa.lambdas.tolist() == pb.lambdas.tolist() == [0, 1]
        assert np.isfinite(pb.keypoints).all() and pb.keypoints.dtype == np.float32
        np.testing.assert_allclose(pb.keypoint_scores, pa.keypoint_scores, rtol=0,
                                   atol=float(error) + 1e-6)
        np.testing.assert_allclose(pb.keypoints[sure], pa.keypoints[sure], atol=0.5 * cell)
    # The metric on both: finite, and nearly the same AP (OKS-NMS and COCO evaluation).
    results = []
    for samples in (full, half):
        evaluator = Evaluator(copy.deepcopy(cfg.val_evaluator))
        evaluator.dataset_meta = DATASETS.build(cfg.val_dataloader.dataset).metainfo
        evaluator.process(samples)
        results.append(evaluator.evaluate(len(samples)))
    assert all(np.isfinite(v) for v in results[1].values())
    assert results[1]['coco/AP'] == pytest.approx(results[0]['coco/AP'], abs=0.05)
