"""Run a MIPNet model on one image and merge its poses as the evaluation does.

MMPose's ``inference_topdown`` returns one data sample per box; a MIPNet model
puts n poses (λ = 0..n-1) in each. :func:`inference_mipnet` flattens them into
one record per (box, λ), rescores them and marks the poses that survive the
per-image NMS, with the settings of the config's ``test_evaluator`` and the
same rules as :class:`MultiInstanceCocoMetric`.
"""
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

import mmcv
import numpy as np
from mmengine.structures import InstanceData
from mmpose.apis import inference_topdown
from mmpose.structures.bbox import bbox_xywh2xyxy
from mmpose.visualization import PoseLocalVisualizer
from PIL import Image
from torch import nn

from ..evaluation.functional import (
    NoCocoMetricError,
    coco_metric_defaults,
    merge_instance_poses,
    merge_settings_from_metric,
    pose_areas,
)
from ..visualization import draw_multi_instance_poses
from .test_time import set_test_time, test_time_from_config

ImageType = Union[str, np.ndarray]

#: Name of the visualizer instance the drawing helper owns (ManagerMixin keeps
#: instances by name, so a fixed name reuses one instead of leaking one per call).
_VISUALIZER_NAME = 'mipnet_inference'


def _image_size(img: ImageType) -> tuple:
    """(width, height) of an image file (header only) or an (H, W, C) array."""
    if isinstance(img, str):
        if not osp.isfile(img):
            raise FileNotFoundError(f'image not found: {img}')
        with Image.open(img) as im:
            return im.size
    return img.shape[1], img.shape[0]


def init_mipnet(config: Union[str, Any], checkpoint: Optional[str] = None,
                device: str = 'cuda:0', cfg_options: Optional[dict] = None) -> nn.Module:
    """MMPose's ``init_model``, strict about the checkpoint.

    ``mmpose.apis.init_model`` loads with ``strict=False``: a checkpoint of another
    width or N, or a stock one, gives a partly random model with only a logged
    warning. This loads the same way, then raises
    :class:`~mipnet_mmpose.models.utils.checkpoint_fit.CheckpointMismatchError`
    unless every weight of the model came from the checkpoint.

    Args:
        config (str | Config): The config file or object
        checkpoint (str, optional): The weights; None keeps the random init
        device (str): e.g. ``'cpu'``. Defaults to ``'cuda:0'``
        cfg_options (dict, optional): Config overrides, as ``init_model``'s

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` and ``dataset_meta``
    """
    from mmengine.runner import CheckpointLoader
    from mmpose.apis import init_model

    from ..models.utils.checkpoint_fit import check_checkpoint_fits
    model = init_model(config, checkpoint, device=device, cfg_options=cfg_options)
    if hasattr(model, 'set_test_time'):
        # The config's test-time hook owns n and the λ>0 score decay.
        set_test_time(model, **test_time_from_config(model.cfg))
    if checkpoint is not None:
        check_checkpoint_fits(model, CheckpointLoader.load_checkpoint(checkpoint, 'cpu'),
                              source=str(checkpoint),
                              config=config if isinstance(config, str) else None)
    return model


def config_merge_settings(model: nn.Module) -> Dict[str, Any]:
    """The pose-merging settings of the model config's ``test_evaluator``.

    Args:
        model (nn.Module): A model built with ``mmpose.apis.init_model`` (its
            ``cfg`` holds the config).

    Returns:
        dict: ``nms_mode``, ``nms_thr``, ``score_mode`` and
        ``keypoint_score_thr``, see
        :func:`~mipnet_mmpose.evaluation.functional.merge_settings_from_metric`.
        CocoMetric's defaults, with a warning, when the config has no
        ``test_evaluator`` or no CocoMetric-derived metric in it.
    """
    evaluator = getattr(getattr(model, 'cfg', None), 'test_evaluator', None)
    try:
        return merge_settings_from_metric(evaluator)
    except NoCocoMetricError:
        warnings.warn("the model config's test_evaluator has no CocoMetric-derived metric; "
                      "poses are merged with CocoMetric's defaults", stacklevel=3)
        return coco_metric_defaults()


def inference_mipnet(model: nn.Module,
                     img: ImageType,
                     bboxes: Optional[Union[Sequence, np.ndarray]] = None,
                     bbox_scores: Optional[Union[Sequence, np.ndarray]] = None,
                     nms_thr: Optional[float] = None,
                     bbox_format: str = 'xyxy',
                     keypoint_score_thr: Optional[float] = None,
                     nms_mode: Optional[str] = None,
                     score_mode: Optional[str] = None) -> List[dict]:
    """Predict every (box, λ) pose of one image and merge them as the metric.

    The model runs through MMPose's ``inference_topdown`` (test pipeline from
    ``model.cfg``, then ``model.test_step``). The poses are merged with the
    settings of ``model.cfg.test_evaluator`` (:func:`config_merge_settings`),
    the same rules as :class:`MultiInstanceCocoMetric`: each pose is scored
    by ``score_mode`` (by default box score, times the model's
    ``lambda_score_decay`` for λ > 0, x mean keypoint score above
    ``keypoint_score_thr``); then all poses of the image go through the NMS of
    ``nms_mode`` (``'none'``: every pose is kept) with the model's keypoint
    sigmas and, as OKS areas, the product of each box's ``bbox_scales`` (the
    box padded and brought to the model's aspect ratio, as the metric takes
    it).

    Args:
        model (nn.Module): A :class:`MultiInstanceTopdownPoseEstimator` built
            with ``mmpose.apis.init_model`` (it needs ``cfg`` and
            ``dataset_meta``). A stock top-down estimator works too (λ = 0).
        img (str | np.ndarray): An image file or a BGR array (H, W, 3), as
            ``inference_topdown`` takes.
        bboxes (array-like, optional): Person boxes (B, 4). None: the whole
            image is one box. An empty array gives no poses (unlike
            ``inference_topdown``, which then falls back to the whole image).
        bbox_scores (array-like, optional): Box scores (B, ). Defaults to 1.
        nms_thr (float, optional): OKS threshold of the NMS. None: the
            config's.
        bbox_format (str): ``'xyxy'`` or ``'xywh'``. Defaults to ``'xyxy'``.
        keypoint_score_thr (float, optional): Keypoints scored at or below do
            not count in a pose's score. None: the config's.
        nms_mode (str, optional): ``'oks_nms'``, ``'soft_oks_nms'`` or
            ``'none'``. None: the config's.
        score_mode (str, optional): As CocoMetric's. None: the config's.

    Returns:
        list[dict]: B x n records ordered (box, λ), JSON-serialisable:

        - ``box_index`` (int): row of the box in ``bboxes`` (0 for the whole
          image)
        - ``lambda`` (int): the instance selector λ
        - ``bbox`` (list[float]): the box [x1, y1, x2, y2]
        - ``bbox_score`` (float): the box's own score (not decayed by λ)
        - ``keypoints`` (list[list[float]]): K x [x, y], image coordinates
        - ``keypoint_scores`` (list[float]): K scores
        - ``score`` (float): the rescored pose score used by the NMS
        - ``kept_after_nms`` (bool): whether the pose survives the NMS
          (always True with ``nms_mode='none'``)
    """
    if bbox_format not in ('xyxy', 'xywh'):
        raise ValueError(f'bbox_format must be "xyxy" or "xywh", got {bbox_format!r}')
    width, height = _image_size(img)
    if bboxes is None:
        boxes = np.array([[0, 0, width, height]], dtype=np.float64)
    else:
        # Floats: integer boxes would give integer box fields downstream.
        boxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
        if bbox_format == 'xywh':
            boxes = bbox_xywh2xyxy(boxes)
    if bbox_scores is None:
        scores_in = np.ones(len(boxes))
    else:
        scores_in = np.asarray(bbox_scores, dtype=np.float64).reshape(-1)
        if len(scores_in) != len(boxes):
            raise ValueError(f'got {len(boxes)} boxes but {len(scores_in)} box scores')
    # A NaN box would give NaN poses (and NaN in the JSON); a box without area
    # poses of nothing. Drop both, keeping the other boxes' row numbers.
    usable = (np.isfinite(boxes).all(axis=1) & np.isfinite(scores_in)
              & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
    if not usable.all():
        dropped = np.flatnonzero(~usable)
        warnings.warn(f'inference_mipnet: dropped {len(dropped)} of {len(boxes)} boxes that '
                      'are not finite or have no width or height (rows '
                      f'{", ".join(map(str, dropped[:10]))}{" ..." if len(dropped) > 10 else ""})',
                      stacklevel=2)
    box_rows = np.flatnonzero(usable)
    boxes, scores_in = boxes[usable], scores_in[usable]
    if len(boxes) == 0:
        return []
    # The evaluator config owns the merge settings; explicit arguments override them.
    settings = config_merge_settings(model)
    overrides = dict(nms_mode=nms_mode, nms_thr=nms_thr, score_mode=score_mode,
                     keypoint_score_thr=keypoint_score_thr)
    settings.update({name: value for name, value in overrides.items() if value is not None})

    # inference_topdown gives every box a score of 1; the model's box score is
    # linear in it (1 or the λ decay), so scaling by the real score afterwards
    # equals running with it.
    samples = inference_topdown(model, img, boxes.astype(np.float32), bbox_format='xyxy')
    records: List[dict] = []
    per_pose = dict(keypoints=[], keypoint_scores=[], bbox_scores=[], areas=[])
    for box_index, sample, box, box_score in zip(box_rows.tolist(), samples, boxes, scores_in):
        pred = sample.pred_instances
        n = len(pred)
        lambdas = np.asarray(pred.lambdas) if 'lambdas' in pred else np.zeros(n, np.int64)
        keypoints = np.asarray(pred.keypoints, dtype=np.float64)
        keypoint_scores = np.asarray(pred.keypoint_scores, dtype=np.float64)
        # The OKS areas the metric takes: from the box as the model saw it.
        gt = sample.get('gt_instances', None)
        bbox_scales = gt.bbox_scales if gt is not None and 'bbox_scales' in gt else None
        per_pose['keypoints'].append(keypoints)
        per_pose['keypoint_scores'].append(keypoint_scores)
        per_pose['bbox_scores'].append(np.asarray(pred.bbox_scores, np.float64) * box_score)
        per_pose['areas'].append(pose_areas(keypoints, bbox_scales))
        for row in range(n):
            records.append({
                'box_index': box_index,
                'lambda': int(lambdas[row]),
                'bbox': [float(v) for v in box],
                'bbox_score': float(box_score),
                'keypoints': keypoints[row].tolist(),
                'keypoint_scores': keypoint_scores[row].tolist(),
            })

    sigmas = (getattr(model, 'dataset_meta', None) or {}).get('sigmas')
    scores, kept = merge_instance_poses(
        np.concatenate(per_pose['keypoints']), np.concatenate(per_pose['keypoint_scores']),
        np.concatenate(per_pose['bbox_scores']), np.concatenate(per_pose['areas']),
        sigmas=None if sigmas is None else np.asarray(sigmas), **settings)
    for record, score, keep in zip(records, scores, kept):
        record['score'] = float(score)
        record['kept_after_nms'] = bool(keep)
    return records


def draw_mipnet_result(model: nn.Module,
                       img: ImageType,
                       records: List[dict],
                       kpt_thr: float = 0.3,
                       draw_boxes: bool = True) -> np.ndarray:
    """Draw the kept poses of :func:`inference_mipnet`, one colour per λ.

    Args:
        model (nn.Module): The model that made the records (its
            ``dataset_meta`` gives the skeleton).
        img (str | np.ndarray): The image file or BGR array (H, W, 3).
        records (list[dict]): The records of :func:`inference_mipnet`; only
            those with ``kept_after_nms`` are drawn.
        kpt_thr (float): Keypoints scored below are not drawn. Defaults to 0.3.
        draw_boxes (bool): Also draw every input box (white). Defaults to True.

    Returns:
        np.ndarray: The drawn RGB image (H, W, 3) uint8, with a λ legend.
    """
    if isinstance(img, str):
        _image_size(img)  # a clear error for a missing file
        image = mmcv.imread(img, channel_order='rgb')
    else:
        image = mmcv.bgr2rgb(img)
    num_keypoints = int(model.dataset_meta['num_keypoints'])
    kept = [r for r in records if r['kept_after_nms']]
    poses = InstanceData(
        keypoints=np.array([r['keypoints'] for r in kept], np.float32).reshape(
            -1, num_keypoints, 2),
        keypoint_scores=np.array([r['keypoint_scores'] for r in kept], np.float32).reshape(
            -1, num_keypoints),
        lambdas=np.array([r['lambda'] for r in kept], np.int64))
    boxes = None
    if draw_boxes and records:
        # One box per box_index (every λ repeats it).
        boxes = np.array(list({r['box_index']: r['bbox'] for r in records}.values()),
                         np.float32)

    visualizer = PoseLocalVisualizer.get_instance(_VISUALIZER_NAME)
    visualizer.set_dataset_meta(model.dataset_meta)
    # Joints and limbs readable on both small crops and large photos.
    short_side = min(image.shape[:2])
    visualizer.radius = max(2, round(short_side / 200))
    visualizer.line_width = max(1, round(short_side / 300))
    return draw_multi_instance_poses(visualizer, image, poses, kpt_thr, boxes=boxes)
