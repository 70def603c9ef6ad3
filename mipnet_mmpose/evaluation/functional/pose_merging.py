"""Merge the N poses of every box of one image: rescoring, then OKS-NMS.

The same rules as MMPose's ``CocoMetric`` (box score x mean keypoint score above
a threshold, then per-image ``oks_nms``), for code that draws or exports poses
outside an evaluation: the demo and the visualization hook.
"""
from typing import Optional, Tuple

import numpy as np
from mmpose.evaluation.functional import oks_nms


def rescore_poses(keypoint_scores: np.ndarray, bbox_scores: np.ndarray,
                  keypoint_score_thr: float = 0.2) -> np.ndarray:
    """Pose scores as MMPose's CocoMetric computes them.

    Args:
        keypoint_scores (np.ndarray): (M, K).
        bbox_scores (np.ndarray): (M,), already decayed for λ > 0.
        keypoint_score_thr (float): Keypoints scored at or below are ignored.

    Returns:
        np.ndarray: (M,) box score x mean of the keypoint scores above the
        threshold; 0 where no keypoint passes it, as in the stock metric.
    """
    above = keypoint_scores > keypoint_score_thr
    counts = above.sum(axis=1)
    means = np.where(counts > 0, (keypoint_scores * above).sum(axis=1) / np.maximum(counts, 1),
                     0.0)
    return np.asarray(bbox_scores, dtype=np.float64) * means


def merge_instance_poses(keypoints: np.ndarray,
                         keypoint_scores: np.ndarray,
                         bbox_scores: np.ndarray,
                         areas: np.ndarray,
                         nms_thr: float = 0.9,
                         keypoint_score_thr: float = 0.2,
                         sigmas: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Rescore the poses of one image and mark those that survive OKS-NMS.

    Args:
        keypoints (np.ndarray): (M, K, 2) image coordinates.
        keypoint_scores (np.ndarray): (M, K).
        bbox_scores (np.ndarray): (M,).
        areas (np.ndarray): (M,) areas of the boxes (OKS scale).
        nms_thr (float): OKS threshold; poses overlapping a better one by more
            are dropped. Defaults to 0.9 (the authors' COCO/OCHuman setting).
        keypoint_score_thr (float): See :func:`rescore_poses`.
        sigmas (np.ndarray, optional): Per-keypoint OKS sigmas; COCO's if None.

    Returns:
        tuple: ``scores`` (M,) and ``kept`` (M,) bool.
    """
    scores = rescore_poses(keypoint_scores, bbox_scores, keypoint_score_thr)
    kept = np.zeros(len(scores), dtype=bool)
    if len(scores):
        records = [
            dict(keypoints=np.concatenate([k, s[:, None]], axis=1), score=sc, area=a)
            for k, s, sc, a in zip(keypoints, keypoint_scores, scores, areas)
        ]
        kept[np.asarray(oks_nms(records, nms_thr, sigmas=sigmas), dtype=int)] = True
    return scores, kept
