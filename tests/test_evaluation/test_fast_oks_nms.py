"""The pruned OKS-NMS keeps exactly the poses MMPose's oks_nms keeps.

Property tests on random images of poses against MMPose's ``oks_nms`` itself:
clustered around a few persons (so that NMS removes some at every threshold), spread
as a crowd over a large image with areas over three orders of magnitude (so that the
grid and its area bins prune), and adversarial: identical poses, poses placed at the
pruning bound and at OKS = thr, zero, tiny, huge, negative and non-finite areas,
non-finite keypoints, visibility thresholds, float32/float64 keypoints, float32/int64
areas, thresholds outside (0, 1). And the bound itself: a pair it rules out never has
an OKS above the threshold in MMPose's ``oks_iou``.
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mmpose.evaluation.functional import oks_nms as mmpose_oks_nms
from mmpose.evaluation.functional.nms import oks_iou

from mipnet_mmpose.evaluation.functional import oks_nms
from mipnet_mmpose.evaluation.functional.fast_oks_nms import (
    COCO_SIGMAS,
    _Candidates,
    _PruningPlan,
    greedy_oks_nms,
)

CROWDPOSE_SIGMAS = np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89,
                             .79, .79]) / 10.0


def _same_as_mmpose(poses, thr, **kwargs):
    """Ours (pruned at any size, and as the metric calls it) and MMPose's keep the
    same poses in the same order; returns ours."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # MMPose on NaN/inf inputs
        theirs = mmpose_oks_nms(poses, thr, **kwargs)
    ours = oks_nms(poses, thr, **kwargs)
    assert list(ours) == list(theirs)
    assert list(greedy_oks_nms(poses, thr, min_pruned=0, **kwargs)[0]) == list(theirs)
    return ours


def _poses(seed: int, num: int, num_persons: int, spread: float, num_keypoints: int,
           tie_scores: bool, canvas: float = 500, area_range=(500, 40000),
           dtype=np.float32):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, canvas, size=(num_persons, 1, 2))
    shapes = rng.normal(0, 30, size=(num_persons, num_keypoints, 2))
    poses = []
    for i in range(num):
        person = centres[i % num_persons] + shapes[i % num_persons]
        xy = (person + rng.normal(0, spread, person.shape)).astype(dtype)
        scores = rng.uniform(0, 1, (num_keypoints, 1)).astype(dtype)
        score = float(rng.integers(0, 4) / 4) if tie_scores else float(rng.uniform())
        area = np.exp(rng.uniform(*np.log(area_range)))
        poses.append(dict(keypoints=np.concatenate([xy, scores], axis=1), score=score,
                          area=np.float32(area)))
    return poses


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), num=st.integers(0, 80), num_persons=st.integers(1, 6),
       spread=st.sampled_from([0.5, 3.0, 15.0, 60.0]),
       thr=st.sampled_from([0.05, 0.3, 0.5, 0.9, 0.97]), crowdpose=st.booleans(),
       tie_scores=st.booleans(), vis_thr=st.sampled_from([None, 0.2, 0.6]))
def test_same_kept_poses_as_mmpose(seed, num, num_persons, spread, thr, crowdpose, tie_scores,
                                   vis_thr):
    sigmas = CROWDPOSE_SIGMAS if crowdpose else None
    poses = _poses(seed, num, num_persons, spread, 14 if crowdpose else 17, tie_scores)
    _same_as_mmpose(poses, thr, sigmas=sigmas, vis_thr=vis_thr)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), thr=st.sampled_from([0.5, 0.9]),
       vis_thr=st.sampled_from([None, 0.3]), float64=st.booleans())
def test_a_spread_crowd_is_pruned_and_kept_as_mmpose(seed, thr, vis_thr, float64):
    # 120 persons on a 6000-px image, 3 boxes each, areas from 100 to 1e5 px²
    poses = _poses(seed, 360, 120, 4.0, 17, False, canvas=6000, area_range=(100, 1e5),
                   dtype=np.float64 if float64 else np.float32)
    kept = _same_as_mmpose(poses, thr, vis_thr=vis_thr)
    pruned, pairs = greedy_oks_nms(poses, thr, vis_thr=vis_thr, min_pruned=0)
    unpruned, all_pairs = greedy_oks_nms(poses, thr, vis_thr=vis_thr, prune=False)
    assert list(pruned) == list(unpruned) == list(kept)
    if vis_thr is None:
        # each pose meets its own person's boxes and a few neighbours, not all 360
        # (with vis_thr a keypoint scored below it, here a third of them at random,
        # is no evidence of distance: far fewer pairs can be ruled out)
        assert pairs < all_pairs / 10


def _at_the_bound(rng, base: np.ndarray, area: float, thr: float, kind: str) -> np.ndarray:
    """A copy of ``base`` (K, 3) placed where the pruning bound or the threshold is tight.

    far-edge: m keypoints beyond reach, one group's representative exactly at the
    near radius (times 1 ± 1e-9), the rest on the spot; oks-edge: every keypoint at
    the distance that makes each exp(-e_k) = thr (times 1 ± 1e-9): OKS ≈ thr.
    """
    variances = (COCO_SIGMAS * 2)**2
    s = area + np.spacing(1)  # (a + a) / 2 + eps
    pose = base.copy()
    direction = rng.normal(size=(len(base), 2))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    wobble = 1 + rng.choice([-1e-9, 0.0, 1e-9], size=(len(base), 1))
    if kind == 'far-edge':
        plan = _PruningPlan(thr, variances)
        dist = np.zeros(len(base))
        far = rng.choice(len(base), plan.max_far, replace=False)
        dist[far] = 1e6
        rep = plan.groups[rng.integers(len(plan.groups))][0]
        if rep not in far:
            dist[rep] = math.sqrt(plan.coeff[rep] * s)
    else:
        dist = np.sqrt(-math.log(thr) * 2 * variances * s)
    pose[:, :2] += direction * (dist[:, None] * wobble)
    return pose


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), thr=st.sampled_from([0.3, 0.5, 0.9, 0.97]),
       kind=st.sampled_from(['far-edge', 'oks-edge', 'identical']),
       area=st.sampled_from([0.0, 1e-6, 1.0, 3e4, 1e12]),
       area_dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       vis_thr=st.sampled_from([None, 0.5]))
def test_adversarial_poses_same_as_mmpose(seed, thr, kind, area, area_dtype, vis_thr):
    rng = np.random.default_rng(seed)
    base = np.concatenate([rng.uniform(0, 200, (17, 2)), rng.uniform(0, 1, (17, 1))], 1)
    poses = []
    for i in range(12):
        kpt = base.copy() if kind == 'identical' else _at_the_bound(rng, base, area, thr, kind)
        kpt[:, 2] = rng.uniform(0, 1, 17)
        poses.append(dict(keypoints=kpt, score=float(rng.integers(0, 3)),
                          area=np.asarray(area).astype(area_dtype)[()]))
    # the base pose itself too, best scored: every other pose is compared with it
    poses.append(dict(keypoints=base, score=5.0, area=np.asarray(area).astype(area_dtype)[()]))
    kept = _same_as_mmpose(poses, thr, vis_thr=vis_thr)
    if kind == 'identical' and vis_thr is None:
        assert list(kept) == [12]


@pytest.mark.parametrize('damage', ['nan keypoint', 'inf keypoint', 'nan area', 'inf area',
                                    'negative area', 'huge area', 'zero area'])
@pytest.mark.parametrize('thr', [0.5, 0.9])
def test_damaged_poses_same_as_mmpose(damage, thr):
    poses = _poses(3, 60, 8, 2.0, 17, False)
    for i in (0, 7, 31):
        if damage == 'nan keypoint':
            poses[i]['keypoints'][4, 0] = np.nan
        elif damage == 'inf keypoint':
            poses[i]['keypoints'][2, 1] = np.inf
        else:
            poses[i]['area'] = np.float32(dict(
                zip(['nan area', 'inf area', 'negative area', 'huge area', 'zero area'],
                    [np.nan, np.inf, -3e4, 3e37, 0.0]))[damage])
    _same_as_mmpose(poses, thr)
    _same_as_mmpose(poses, thr, vis_thr=0.4)


@pytest.mark.parametrize('thr', [-0.5, 0.0, 1.0, 1.5])
def test_thresholds_outside_the_bound_are_mmposes(thr):
    # no pruning there (every pair compared, as MMPose does)
    poses = _poses(5, 40, 4, 3.0, 17, True)
    _same_as_mmpose(poses, thr)
    assert (greedy_oks_nms(poses, thr, min_pruned=0)[1] ==
            greedy_oks_nms(poses, thr, prune=False)[1])


@settings(max_examples=30, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), thr=st.sampled_from([0.2, 0.5, 0.8, 0.9, 0.99]),
       vis_thr=st.sampled_from([None, 0.5]), spread=st.sampled_from([0.3, 1.0, 3.0]))
def test_a_pair_the_bound_rules_out_never_has_oks_above_thr(seed, thr, vis_thr, spread):
    # pairs of every closeness, incl. the bound's edge: the near test against
    # MMPose's oks_iou on each pair
    rng = np.random.default_rng(seed)
    num = 80
    base = rng.uniform(0, 100, (17, 2))
    scale = rng.uniform(0, spread, (num, 1, 1)) * rng.uniform(0.5, 1.5, (num, 17, 1))
    xy = base + rng.normal(size=(num, 17, 2)) * scale * 10
    kpts = np.concatenate([xy, rng.uniform(0, 1, (num, 17, 1))], 2).reshape(num, -1)
    areas = np.exp(rng.uniform(np.log(50), np.log(5e4), num))
    variances = (COCO_SIGMAS * 2)**2
    plan = _PruningPlan(thr, variances)
    candidates = _Candidates(kpts, areas, plan, vis_thr)
    first, second = np.triu_indices(num, 1)
    passed = np.zeros(len(first), dtype=bool)
    for chans, *_ in candidates.lookups:
        passed[candidates._near(first, second, chans)] = True
    oks = np.array([oks_iou(kpts[i], kpts[j:j + 1], areas[i], areas[j:j + 1], None,
                            vis_thr)[0] for i, j in zip(first, second)])
    assert not np.any(~passed & ~(oks <= thr))
