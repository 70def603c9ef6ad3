"""The vectorised OKS-NMS keeps exactly the poses MMPose's oks_nms keeps.

A property test on random images of poses: clustered around a few persons (so that
NMS removes some at every threshold), with tied scores, float32 keypoints and areas
as the metric builds them, COCO's or CrowdPose's sigmas.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from mmpose.evaluation.functional import oks_nms as mmpose_oks_nms

from mipnet_mmpose.evaluation.functional import oks_nms

CROWDPOSE_SIGMAS = np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89,
                             .79, .79]) / 10.0


def _poses(seed: int, num: int, num_persons: int, spread: float, num_keypoints: int,
           tie_scores: bool):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 500, size=(num_persons, num_keypoints, 2))
    poses = []
    for i in range(num):
        person = centres[i % num_persons]
        xy = (person + rng.normal(0, spread, person.shape)).astype(np.float32)
        scores = rng.uniform(0, 1, (num_keypoints, 1)).astype(np.float32)
        score = float(rng.integers(0, 4) / 4) if tie_scores else float(rng.uniform())
        poses.append(dict(keypoints=np.concatenate([xy, scores], axis=1), score=score,
                          area=np.float32(rng.uniform(500, 40000))))
    return poses


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), num=st.integers(0, 80), num_persons=st.integers(1, 6),
       spread=st.sampled_from([0.5, 3.0, 15.0, 60.0]), thr=st.sampled_from([0.3, 0.5, 0.9]),
       crowdpose=st.booleans(), tie_scores=st.booleans())
def test_same_kept_poses_as_mmpose(seed, num, num_persons, spread, thr, crowdpose, tie_scores):
    sigmas = CROWDPOSE_SIGMAS if crowdpose else None
    poses = _poses(seed, num, num_persons, spread, 14 if crowdpose else 17, tie_scores)
    ours = oks_nms(poses, thr, sigmas=sigmas)
    theirs = mmpose_oks_nms(poses, thr, sigmas=sigmas)
    assert list(ours) == list(theirs)
