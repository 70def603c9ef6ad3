"""Merge the N poses of every box of one image as the evaluation metric does.

The same rules as MMPose's ``CocoMetric`` (pose scores by ``score_mode``, then
per-image NMS by ``nms_mode``/``nms_thr`` with the product of each box's
``bbox_scales`` as the OKS area), for code that draws or exports poses outside
an evaluation: the demo and the visualization hook. The settings have one
owner, the evaluator config: :func:`merge_settings_from_metric` reads them from
a built metric or from a ``val_evaluator``/``test_evaluator`` config.
"""
import inspect
import warnings
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from mmpose.evaluation.functional import soft_oks_nms
from mmpose.evaluation.metrics import CocoMetric
from mmpose.registry import METRICS

from .fast_oks_nms import oks_nms

#: NMS modes of CocoMetric; ``'none'`` keeps every pose.
NMS_MODES = ('oks_nms', 'soft_oks_nms', 'none')
#: Score modes of CocoMetric.
SCORE_MODES = ('bbox_keypoint', 'bbox', 'bbox_rle', 'keypoint')
#: The CocoMetric arguments that decide which poses are kept, in the order of
#: the keyword arguments of :func:`merge_instance_poses`.
MERGE_SETTING_NAMES = ('nms_mode', 'nms_thr', 'score_mode', 'keypoint_score_thr')


class NoCocoMetricError(ValueError):
    """Raised by :func:`merge_settings_from_metric` when the evaluation has no
    CocoMetric-derived metric to take the settings from."""


def _init_defaults(metric_cls: type) -> Dict[str, Any]:
    """Defaults of the merge settings in the ``__init__`` signatures of a
    CocoMetric subclass, the most derived class winning (a subclass that takes
    ``**kwargs`` inherits CocoMetric's)."""
    defaults: Dict[str, Any] = {}
    for klass in reversed(inspect.getmro(metric_cls)):
        if not issubclass(klass, CocoMetric):
            continue
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if name in MERGE_SETTING_NAMES and param.default is not param.empty:
                defaults[name] = param.default
    return {name: defaults[name] for name in MERGE_SETTING_NAMES if name in defaults}


def coco_metric_defaults() -> Dict[str, Any]:
    """CocoMetric's own defaults of the merge settings, read from its signature.

    Returns:
        dict: ``nms_mode``, ``nms_thr``, ``score_mode`` and
        ``keypoint_score_thr``.
    """
    return _init_defaults(CocoMetric)


def _check_settings(settings: Dict[str, Any]) -> None:
    if settings['nms_mode'] not in NMS_MODES:
        raise ValueError(f"nms_mode must be one of {NMS_MODES} (as CocoMetric's), got "
                         f"{settings['nms_mode']!r}")
    if settings['score_mode'] not in SCORE_MODES:
        raise ValueError(f"score_mode must be one of {SCORE_MODES} (as CocoMetric's), got "
                         f"{settings['score_mode']!r}")


def _metric_class(metric_cfg: dict) -> Optional[type]:
    """The class a metric config builds (``type`` a registered name or a class),
    or None (unknown, or not a class)."""
    metric_type = metric_cfg.get('type')
    if isinstance(metric_type, str):
        metric_type = METRICS.get(metric_type)
    return metric_type if isinstance(metric_type, type) else None


def _coco_candidates(source: Any, found: List[Dict[str, Any]]) -> None:
    """Collect the merge settings of every CocoMetric-derived metric in
    ``source`` (a metric, an evaluator, a config dict or a list of these)."""
    if isinstance(source, CocoMetric):
        settings = {name: getattr(source, name) for name in MERGE_SETTING_NAMES}
        # A multi-instance metric applies OKS-NMS itself; its stock loop's nms_mode
        # is then 'none' (MultiInstanceCocoMetricMixin's class notes say why).
        settings['nms_mode'] = getattr(source, 'merge_nms_mode', settings['nms_mode'])
        found.append(settings)
    elif isinstance(source, dict):
        if 'metrics' in source:  # an evaluator config: dict(type='Evaluator', metrics=...)
            _coco_candidates(source['metrics'], found)
            return
        metric_cls = _metric_class(source)
        if metric_cls is not None and issubclass(metric_cls, CocoMetric):
            settings = _init_defaults(metric_cls)
            settings.update({k: source[k] for k in MERGE_SETTING_NAMES if k in source})
            found.append(settings)
    elif isinstance(source, (list, tuple)):
        for item in source:
            _coco_candidates(item, found)
    elif isinstance(getattr(source, 'metrics', None), (list, tuple)):  # a built Evaluator
        _coco_candidates(source.metrics, found)


def merge_settings_from_metric(metric: Any) -> Dict[str, Any]:
    """The pose-merging settings of the CocoMetric an evaluation uses.

    Args:
        metric: A built metric (a :class:`CocoMetric` subclass such as
            :class:`MultiInstanceCocoMetric`), a built ``Evaluator``, or the
            config of either (``val_evaluator``/``test_evaluator``: a metric
            dict, a list of metric dicts, or ``dict(metrics=...)``). Of several
            metrics the CocoMetric-derived one is used; others are ignored.

    Returns:
        dict: ``nms_mode`` (str), ``nms_thr`` (float), ``score_mode`` (str)
        and ``keypoint_score_thr`` (float), the keyword arguments of
        :func:`merge_instance_poses`. Settings a config leaves out take the
        metric class's defaults (CocoMetric's, read from its signature).

    Raises:
        NoCocoMetricError: No CocoMetric-derived metric is found (a
            ValueError).
        ValueError: Several are, with different settings; or a mode is not
            one CocoMetric knows.
    """
    found: List[Dict[str, Any]] = []
    _coco_candidates(metric, found)
    if not found:
        raise NoCocoMetricError('no CocoMetric-derived metric (e.g. MultiInstanceCocoMetric) '
                                f'in {metric!r}: cannot tell how its poses are merged')
    if any(settings != found[0] for settings in found[1:]):
        raise ValueError(f'the CocoMetric-derived metrics of {metric!r} merge poses '
                         f'differently ({found}); cannot tell which one to follow')
    _check_settings(found[0])
    return found[0]


def pose_areas(keypoints: np.ndarray, bbox_scales: Optional[np.ndarray] = None) -> np.ndarray:
    """OKS areas of one box's poses, as CocoMetric (and MultiInstanceCocoMetric)
    take them.

    Args:
        keypoints (np.ndarray): (N, K, 2), the box's N poses.
        bbox_scales (np.ndarray, optional): (1, 2) or (N, 2), the data
            sample's ``gt_instances.bbox_scales``: the box as the model saw it
            (padded and brought to the input aspect ratio), not the input box.

    Returns:
        np.ndarray: (N, ) the product of the box scale (one box row is shared
        by all N poses); without ``bbox_scales``, the area of each pose's
        keypoint extent, the metric's fallback.
    """
    keypoints = np.asarray(keypoints)
    num_poses = len(keypoints)
    if bbox_scales is None:
        extent = keypoints.max(axis=1) - keypoints.min(axis=1)
        return extent[:, 0] * extent[:, 1]
    areas = np.prod(np.asarray(bbox_scales), axis=1)
    if len(areas) == 1:
        return np.repeat(areas, num_poses)
    if len(areas) != num_poses:
        raise ValueError(f'{len(areas)} rows of bbox_scales for {num_poses} poses')
    return areas


def rescore_poses(keypoint_scores: np.ndarray,
                  bbox_scores: np.ndarray,
                  keypoint_score_thr: Optional[float] = None,
                  score_mode: Optional[str] = None) -> np.ndarray:
    """Pose scores as MMPose's CocoMetric computes them.

    Args:
        keypoint_scores (np.ndarray): (M, K).
        bbox_scores (np.ndarray): (M,), already decayed for λ > 0.
        keypoint_score_thr (float, optional): With ``'bbox_keypoint'``,
            keypoints scored at or below are ignored. None: CocoMetric's
            default.
        score_mode (str, optional): ``'bbox_keypoint'`` (box score x mean of
            the keypoint scores above the threshold; 0 where none passes it),
            ``'bbox'`` (the box score), ``'bbox_rle'`` (box score + mean + max
            keypoint score) or ``'keypoint'`` (mean keypoint score). None:
            CocoMetric's default.

    Returns:
        np.ndarray: (M,) float64 pose scores.
    """
    defaults = coco_metric_defaults()
    score_mode = defaults['score_mode'] if score_mode is None else score_mode
    if keypoint_score_thr is None:
        keypoint_score_thr = defaults['keypoint_score_thr']
    keypoint_scores = np.asarray(keypoint_scores, dtype=np.float64)
    bbox_scores = np.array(bbox_scores, dtype=np.float64).reshape(-1)  # a copy
    if score_mode == 'bbox':
        return bbox_scores
    if score_mode == 'keypoint':
        return keypoint_scores.mean(axis=1)
    if score_mode == 'bbox_rle':
        return bbox_scores + keypoint_scores.mean(axis=1) + keypoint_scores.max(axis=1)
    if score_mode != 'bbox_keypoint':
        raise ValueError(f"score_mode must be one of {SCORE_MODES} (as CocoMetric's), got "
                         f'{score_mode!r}')
    above = keypoint_scores > keypoint_score_thr
    counts = above.sum(axis=1)
    means = np.where(counts > 0, (keypoint_scores * above).sum(axis=1) / np.maximum(counts, 1),
                     0.0)
    return bbox_scores * means


def merge_instance_poses(keypoints: np.ndarray,
                         keypoint_scores: np.ndarray,
                         bbox_scores: np.ndarray,
                         areas: np.ndarray,
                         nms_thr: Optional[float] = None,
                         keypoint_score_thr: Optional[float] = None,
                         sigmas: Optional[np.ndarray] = None,
                         nms_mode: Optional[str] = None,
                         score_mode: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Score the poses of one image and mark those the metric would keep.

    Pass the evaluation's settings, e.g.
    ``merge_instance_poses(..., **merge_settings_from_metric(cfg.test_evaluator))``;
    a setting left None takes CocoMetric's default.

    Args:
        keypoints (np.ndarray): (M, K, 2) image coordinates.
        keypoint_scores (np.ndarray): (M, K).
        bbox_scores (np.ndarray): (M,).
        areas (np.ndarray): (M,) OKS areas, as the metric takes them: the
            product of each box's ``bbox_scales`` (see :func:`pose_areas`).
        nms_thr (float, optional): OKS threshold; with ``'oks_nms'`` poses
            overlapping a better one by more are dropped.
        keypoint_score_thr (float, optional): See :func:`rescore_poses`.
        sigmas (np.ndarray, optional): (K,) per-keypoint OKS sigmas, the
            data set's; COCO's if None. Empty: the data set defines none
            (OneHand10K, WFLW, 300W, COFW: per-box tasks scored by PCK, AUC,
            EPE or NME, where OKS is undefined); poses cannot be merged by
            OKS, so every pose is kept (as ``'none'``, and as MMPose's own
            inferencer keeps every box's pose), with a warning.
        nms_mode (str, optional): ``'oks_nms'``, ``'soft_oks_nms'`` (MMPose's
            soft OKS-NMS, at most its default 20 poses kept) or ``'none'``
            (every pose kept).
        score_mode (str, optional): See :func:`rescore_poses`.

    Returns:
        tuple: ``scores`` (M,) float64 and ``kept`` (M,) bool.

    Raises:
        ValueError: ``sigmas`` (COCO's 17 when None) do not match K.
    """
    settings = dict(nms_mode=nms_mode, nms_thr=nms_thr, score_mode=score_mode,
                    keypoint_score_thr=keypoint_score_thr)
    for name, default in coco_metric_defaults().items():
        if settings[name] is None:
            settings[name] = default
    _check_settings(settings)
    scores = rescore_poses(keypoint_scores, bbox_scores, settings['keypoint_score_thr'],
                           settings['score_mode'])
    if settings['nms_mode'] == 'none':
        return scores, np.ones(len(scores), dtype=bool)
    if sigmas is not None and len(sigmas) == 0:
        warnings.warn(f"the data set defines no OKS sigmas (a per-box task: hands, faces): "
                      f"{settings['nms_mode']} cannot merge its poses; every pose is kept",
                      stacklevel=2)
        return scores, np.ones(len(scores), dtype=bool)
    num_keypoints = np.shape(keypoints)[1] if np.ndim(keypoints) == 3 else None
    num_sigmas = 17 if sigmas is None else len(sigmas)
    if num_keypoints is not None and num_keypoints != num_sigmas:
        raise ValueError(f'{num_keypoints} keypoints per pose but {num_sigmas} OKS sigmas '
                         f"({'COCO' if sigmas is None else 'given'}): pass the data set's "
                         "sigmas (its metainfo's `sigmas`)")
    kept = np.zeros(len(scores), dtype=bool)
    if len(scores):
        records = [
            dict(keypoints=np.concatenate([k, s[:, None]], axis=1), score=sc, area=a)
            for k, s, sc, a in zip(keypoints, keypoint_scores, scores, areas)
        ]
        nms = oks_nms if settings['nms_mode'] == 'oks_nms' else soft_oks_nms
        kept[np.asarray(nms(records, settings['nms_thr'], sigmas=sigmas), dtype=int)] = True
    return scores, kept
