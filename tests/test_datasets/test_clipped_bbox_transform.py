"""ClippedRandomBBoxTransform draws boxes as the authors' JointsLambdaDataset does.

20,000 boxes go through the box transform of every reproduction config's training
pipeline; the scale and rotation distributions are compared with the authors'
formulas (clipped normals) by mean, standard deviation, range and the share of draws
at the bounds, within sampling error, and no box is ever shifted.
"""
import math

import numpy as np
import pytest
from mmengine.config import Config
from mmpose.registry import TRANSFORMS
from scipy.stats import norm

from mipnet_mmpose.datasets.transforms import ClippedRandomBBoxTransform
from tests.conftest import reproduction_configs

NUM_DRAWS = 20_000
# Sampling tolerance in standard errors: a correct sampler fails with p < 1e-4.
Z = 4.0
REPRODUCTION_CONFIGS = reproduction_configs()


def _clipped_normal_moments(bound: float):
    """Mean 0, std and share at the bounds of clip(n, -bound, bound), n ~ N(0, 1)."""
    inside = 2 * norm.cdf(bound) - 1 - 2 * bound * norm.pdf(bound)
    tails = 2 * norm.sf(bound)
    return math.sqrt(inside + tails * bound**2), tails


def _draw(transform, rng_seed: int = 0):
    """Push NUM_DRAWS boxes through the transform in one call."""
    np.random.seed(rng_seed)
    center = np.tile(np.array([[320., 240.]], np.float32), (NUM_DRAWS, 1))
    scale = np.tile(np.array([[120., 160.]], np.float32), (NUM_DRAWS, 1))
    out = transform(dict(bbox_center=center.copy(), bbox_scale=scale.copy()))
    return (out['bbox_center'] - center, out['bbox_scale'][:, 0] / scale[:, 0],
            out['bbox_rotation'])


def check_authors_distribution(transform, scale_sigma: float, rotate_sigma: float,
                               rotate_prob: float = 0.6) -> None:
    """Assert the draws of ``transform`` follow the authors' formulas."""
    shift, scale, rotate = _draw(transform)
    assert not np.any(shift), 'the authors never shift the box'

    # scale = 1 + sigma * clip(n, -1, 1)
    std_unit, at_bounds = _clipped_normal_moments(1.0)
    s_std = scale_sigma * std_unit
    assert abs(scale.mean() - 1) < Z * s_std / math.sqrt(NUM_DRAWS)
    assert abs(scale.std() - s_std) < Z * s_std / math.sqrt(2 * NUM_DRAWS)
    assert scale.min() >= 1 - scale_sigma - 1e-6 and scale.max() <= 1 + scale_sigma + 1e-6
    share = np.mean(np.isclose(np.abs(scale - 1), scale_sigma, atol=1e-5))
    assert abs(share - at_bounds) < Z * math.sqrt(at_bounds * (1 - at_bounds) / NUM_DRAWS)

    # rotation = sigma * clip(n, -2, 2) with probability p, else 0
    rotated = rotate[rotate != 0]
    applied = len(rotated) / NUM_DRAWS
    assert abs(applied - rotate_prob) < Z * math.sqrt(rotate_prob * (1 - rotate_prob) /
                                                      NUM_DRAWS)
    std_unit, at_bounds = _clipped_normal_moments(2.0)
    r_std = rotate_sigma * std_unit
    assert abs(rotated.mean()) < Z * r_std / math.sqrt(len(rotated))
    assert abs(rotated.std() - r_std) < Z * r_std / math.sqrt(2 * len(rotated))
    assert np.abs(rotated).max() <= 2 * rotate_sigma + 1e-4
    share = np.mean(np.isclose(np.abs(rotated), 2 * rotate_sigma, atol=1e-3))
    assert abs(share - at_bounds) < Z * math.sqrt(at_bounds * (1 - at_bounds) / len(rotated))


def _box_transform(config_path):
    cfg = Config.fromfile(str(config_path))
    boxes = [t for t in cfg.train_pipeline if 'BBoxTransform' in t['type']]
    assert len(boxes) == 1, f'{config_path.name}: {len(boxes)} box transforms'
    return boxes[0]


@pytest.mark.parametrize('config_path', REPRODUCTION_CONFIGS, ids=lambda p: p.stem)
def test_reproduction_pipelines_draw_as_the_authors(config_path):
    spec = _box_transform(config_path)
    assert spec['type'] == 'ClippedRandomBBoxTransform'
    resnet = 'res' in config_path.name.split('_')[1]
    # The authors' yaml files: HRNet scale 0.35 / rotation 45, ResNet 0.3 / 40.
    expected = (0.3, 40) if resnet else (0.35, 45)
    assert (spec['scale_sigma'], spec['rotate_sigma']) == expected
    check_authors_distribution(TRANSFORMS.build(spec), *expected)


def test_stock_transform_fails_the_check():
    """The check tells the distributions apart: MMPose's truncated normal and shift fail it."""
    stock = TRANSFORMS.build(
        dict(type='RandomBBoxTransform', scale_factor=(0.65, 1.35), rotate_factor=45,
             rotate_prob=0.6))
    with pytest.raises(AssertionError):
        check_authors_distribution(stock, 0.35, 45)
    no_shift = TRANSFORMS.build(
        dict(type='RandomBBoxTransform', scale_factor=(0.65, 1.35), rotate_factor=45,
             rotate_prob=0.6, shift_prob=0.))
    with pytest.raises(AssertionError, match=''):
        check_authors_distribution(no_shift, 0.35, 45)
    _, scale, _ = _draw(no_shift)
    assert scale.std() < 0.2  # truncated at one sigma: about 0.19, not 0.25


def test_arguments_are_checked_and_shown():
    with pytest.raises(ValueError, match='scale_sigma'):
        ClippedRandomBBoxTransform(scale_sigma=1.2)
    with pytest.raises(ValueError, match='rotate_prob'):
        ClippedRandomBBoxTransform(rotate_prob=1.5)
    text = repr(ClippedRandomBBoxTransform(scale_sigma=0.3, rotate_sigma=40))
    assert 'scale_sigma=0.3' in text and 'rotate_sigma=40.0' in text


def test_shift_is_the_stock_one_when_asked():
    transform = ClippedRandomBBoxTransform(shift_prob=1.0)
    shift, _, _ = _draw(transform)
    # truncated normal in [-1, 1] times 0.16 of the box size, in every box
    assert np.all(np.abs(shift) <= 0.16 * np.array([120., 160.]) + 1e-3)
    assert np.mean(np.any(shift != 0, axis=1)) == 1.0
