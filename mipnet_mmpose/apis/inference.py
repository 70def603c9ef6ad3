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

import cv2
import mmcv
import numpy as np
from mmengine.structures import InstanceData
from mmpose.apis import inference_topdown
from mmpose.structures import PoseDataSample, merge_data_samples
from mmpose.structures.bbox import bbox_xywh2xyxy
from mmpose.visualization import PoseLocalVisualizer
from torch import nn

from ..datasets.input_checks import UndecodableImageError
from ..evaluation.functional import (
    NoCocoMetricError,
    coco_metric_defaults,
    merge_instance_poses,
    merge_settings_from_metric,
    pose_areas,
)
from ..visualization import draw_merged_poses, readable_sizes
from .test_time import set_test_time, test_time_from_config

ImageType = Union[str, np.ndarray]

#: Name of the visualizer instance the drawing helper owns (ManagerMixin keeps
#: instances by name, so a fixed name reuses one instead of leaking one per call).
_VISUALIZER_NAME = 'mipnet_inference'


def check_image_array(img: Any, name: str = 'img') -> np.ndarray:
    """``img`` if it is a BGR image array (H, W, 3), else a one-sentence error.

    MMPose's pipeline takes a (H, W) grayscale or (H, W, 4) BGRA array without
    complaint and fails later, in the data preprocessor, with a bare
    ``IndexError`` or a broadcast error.

    Args:
        img (Any): The array given as an image.
        name (str): How the message names it, e.g. ``'input 3'``.

    Returns:
        np.ndarray: ``img``, unchanged.

    Raises:
        ValueError: Not a numpy array of shape (H, W, 3) with H, W > 0.
    """
    if not isinstance(img, np.ndarray):
        raise ValueError(f'{name} is a {type(img).__name__}: give an image file path or a '
                         'BGR numpy array (H, W, 3), e.g. from cv2.imread')
    if img.ndim == 3 and img.shape[2] == 3 and img.size > 0:
        return img
    if img.ndim == 2:
        fix = 'a grayscale image: convert it with cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)'
    elif img.ndim == 3 and img.shape[2] == 4:
        fix = 'an image with alpha: convert it with cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)'
    elif img.ndim == 3 and img.shape[2] == 1:
        fix = 'a one-channel image: convert it with cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)'
    else:
        fix = 'not an image: give a BGR array (H, W, 3)'
    raise ValueError(f'{name} is an array of shape {img.shape}, {fix} (the model takes BGR '
                     'arrays of shape (H, W, 3))')


def decode_image(img: ImageType, name: Optional[str] = None) -> np.ndarray:
    """The BGR array (H, W, 3) of an image file, decoded as the test pipeline decodes it.

    OpenCV applies the EXIF orientation, so a phone photo stored sideways
    comes out upright, with the height and width the model sees (the
    file header's size would be the stored, unrotated one).

    Args:
        img (str | np.ndarray): An image file or a BGR array (returned as is,
            once checked by :func:`check_image_array`).
        name (str, optional): How an error names an array input. Defaults
            to ``'img'``.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR.

    Raises:
        FileNotFoundError: No such file.
        UndecodableImageError: The file is empty, truncated or no image.
        ValueError: An array that is not (H, W, 3).
    """
    if not isinstance(img, str):
        return check_image_array(img, name or 'img')
    if not osp.isfile(img):
        raise FileNotFoundError(f'image not found: {img}')
    try:
        image = mmcv.imread(img)
    except (cv2.error, OSError, ValueError) as e:
        # OpenCV's assertion on an empty buffer ("!buf.empty()") says nothing useful.
        raise undecodable_image_error(img, e) from None
    if image is None or image.size == 0:
        raise undecodable_image_error(img)
    return image


def undecodable_image_error(path: str, error: Optional[BaseException] = None,
                            name: str = '') -> UndecodableImageError:
    """The error for an image file that exists but cannot be decoded.

    Args:
        path (str): The image file.
        error (BaseException, optional): What the decoder raised, quoted on
            one line (not for an empty file, where it adds nothing).
        name (str): A prefix naming the input, e.g. ``'input 3: '``.

    Returns:
        UndecodableImageError: To raise.
    """
    size = osp.getsize(path) if osp.isfile(path) else None
    if size == 0:
        why = 'the file is empty, 0 bytes'
    else:
        why = f'{size} bytes: empty, truncated, or not an image'
        if error is not None:
            why += f'; {" ".join(str(error).split())}'
    return UndecodableImageError(f'{name}image {path} cannot be decoded ({why})')


def split_boxes(bboxes: Union[Sequence, np.ndarray],
                bbox_scores: Optional[Union[Sequence, np.ndarray]] = None,
                caller: str = 'bboxes') -> tuple:
    """Person boxes as given to the inference API: (B, 4) boxes or (B, 5) boxes + scores.

    The inferencer's format, (B, 5) ``[x1, y1, x2, y2, score]``, means the same
    everywhere; a single box may be a flat list of 4 or 5 numbers. Any other
    shape is an error, never a reshape.

    Args:
        bboxes (array-like): (B, 4) or (B, 5), or one box of 4 or 5 numbers.
        bbox_scores (array-like, optional): (B, ) scores, only with (B, 4) boxes.
        caller (str): Named in the error.

    Returns:
        tuple: ``boxes`` (B, 4) float64 and ``scores`` (B, ) float64 or None
        (not given).
    """
    try:
        boxes = np.asarray(bboxes, dtype=np.float64)
    except (TypeError, ValueError) as e:  # ragged rows, strings
        raise ValueError(f'{caller} must be numbers in rows of 4 (x1, y1, x2, y2) or 5 (with '
                         f'the score): {e}') from None
    if boxes.ndim == 1 and len(boxes) in (4, 5):
        boxes = boxes[None]
    elif boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f'{caller} must be (B, 4) xyxy boxes or (B, 5) xyxy boxes with '
                         f'their scores, got shape {boxes.shape}')
    scores = None
    if boxes.shape[1] == 5:
        if bbox_scores is not None:
            raise ValueError(f'{caller}: (B, 5) boxes carry their scores; give bbox_scores '
                             'only with (B, 4) boxes')
        boxes, scores = boxes[:, :4], boxes[:, 4].copy()
    elif bbox_scores is not None:
        try:
            scores = np.asarray(bbox_scores, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError) as e:
            raise ValueError(f'{caller}: box scores must be numbers: {e}') from None
        if len(scores) != len(boxes):
            raise ValueError(f'{caller}: got {len(boxes)} boxes but {len(scores)} box scores')
    return boxes, scores


def usable_box_rows(boxes: np.ndarray, scores: np.ndarray, caller: str,
                    image_size: Optional[tuple] = None) -> np.ndarray:
    """The rows of the boxes a pose can be predicted in; warns about the others.

    A NaN box would give NaN poses (and NaN in a JSON file); a box without
    width or height poses of nothing, and so does a box entirely outside the
    image (it sees only padding: detections of another image, or boxes in
    another format). All are dropped, and the kept boxes keep their row
    numbers (the poses' ``box_index``).

    Args:
        boxes (np.ndarray): (B, 4) xyxy.
        scores (np.ndarray): (B, ) box scores.
        caller (str): Named in the warning.
        image_size (tuple, optional): (width, height) of the image.

    Returns:
        np.ndarray: (B', ) int64 indices of the usable rows.
    """
    usable = (np.isfinite(boxes).all(axis=1) & np.isfinite(scores)
              & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
    if not usable.all():
        dropped = np.flatnonzero(~usable)
        warnings.warn(f'{caller}: dropped {len(dropped)} of {len(boxes)} boxes that '
                      'are not finite or have no width or height (rows '
                      f'{_rows_text(dropped)})', stacklevel=3)
    if image_size is not None:
        width, height = image_size
        with np.errstate(invalid='ignore'):
            outside = usable & ((boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)
                                | (boxes[:, 0] >= width) | (boxes[:, 1] >= height))
        if outside.any():
            rows = np.flatnonzero(outside)
            warnings.warn(f'{caller}: dropped {len(rows)} of {len(boxes)} boxes that lie '
                          f'entirely outside the {width}x{height} image (rows '
                          f'{_rows_text(rows)}): are they detections of another image, or '
                          '[x, y, w, h] boxes given as [x1, y1, x2, y2]?', stacklevel=3)
            usable &= ~outside
    return np.flatnonzero(usable)


def _rows_text(rows: np.ndarray) -> str:
    return f'{", ".join(map(str, rows[:10]))}{" ..." if len(rows) > 10 else ""}'


def init_mipnet(config: Union[str, Any], checkpoint: Optional[str] = None,
                device: str = 'cuda:0', cfg_options: Optional[dict] = None) -> nn.Module:
    """MMPose's ``init_model``, strict about the checkpoint.

    ``mmpose.apis.init_model`` loads with ``strict=False``: a checkpoint of another
    width or N, or a stock one, gives a partly random model with only a logged
    warning. This loads the same way, then raises
    :class:`~mipnet_mmpose.models.utils.checkpoint_fit.CheckpointMismatchError`
    unless every weight of the model came from the checkpoint. The test-time n
    and score decay of the config's ``MultiInstanceTestHook`` are applied.

    Args:
        config (str | Config): The config file or object
        checkpoint (str, optional): The weights; None keeps the random init
        device (str): e.g. ``'cpu'``. Defaults to ``'cuda:0'``
        cfg_options (dict, optional): Config overrides, as ``init_model``'s

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` and ``dataset_meta``
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    from mmpose.apis import init_model

    from ..engine.checkpoint_io import load_checkpoint_file
    from ..models.utils.checkpoint_fit import check_checkpoint_fits

    # The file is read (unpickled) once: checked against the model, then loaded
    # as init_model would load it (its dataset_meta first, as MMPose ranks it).
    model = init_model(config, None, device=device, cfg_options=cfg_options)
    if checkpoint is not None:
        loaded = load_checkpoint_file(checkpoint, map_location='cpu')
        check_checkpoint_fits(model, loaded, source=str(checkpoint),
                              config=config if isinstance(config, str) else None)
        _load_checkpoint_to_model(model, loaded)
        meta = loaded.get('meta') if isinstance(loaded, dict) else None
        if isinstance(meta, dict) and 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    if hasattr(model, 'set_test_time'):
        # The config's test-time hook owns n and the λ>0 score decay.
        set_test_time(model, **test_time_from_config(model.cfg))
    return model


#: MMPose's keypoint threshold for pictures (PoseVisualizationHook, the inferencers).
MMPOSE_KPT_THR = 0.3
_PICTURE_HOOKS = ('MultiInstanceVisualizationHook', 'PoseVisualizationHook')


def config_kpt_thr(cfg: Any) -> float:
    """The keypoint score threshold the config draws its pictures with.

    The picture hook owns it: ``kpt_thr`` of the config's
    :class:`MultiInstanceVisualizationHook`, else of MMPose's
    ``PoseVisualizationHook`` (``default_hooks.visualization``), else MMPose's
    default 0.3. A small or briefly trained model scores its keypoints low;
    its config lowers the threshold once, and the demo and inferencer draw
    with the same one.

    Args:
        cfg (Config | dict): A full config (with hooks), e.g. ``model.cfg``.

    Returns:
        float: The threshold.
    """
    if cfg is None:
        return MMPOSE_KPT_THR
    hooks = list((cfg.get('default_hooks') or {}).values()) + list(cfg.get('custom_hooks') or [])
    for name in _PICTURE_HOOKS:
        for hook in hooks:
            if isinstance(hook, dict) and str(hook.get('type', '')).split('.')[-1] == name \
                    and hook.get('kpt_thr') is not None:
                return float(hook['kpt_thr'])
    return MMPOSE_KPT_THR


#: MMPose's inferencer's least person-box score.
MMPOSE_BBOX_THR = 0.3


def config_bbox_thr(cfg: Any) -> float:
    """The least person-box score the config tests with.

    ``filter_cfg.bbox_score_thr`` of the config's test data set (what ``mim
    test`` keeps of a detection file), else MMPose's inferencer default 0.3.

    Args:
        cfg (Config | dict): A full config, e.g. ``model.cfg``.

    Returns:
        float: The threshold.
    """
    dataset = ((cfg or {}).get('test_dataloader') or {}).get('dataset') or {}
    thr = (dataset.get('filter_cfg') or {}).get('bbox_score_thr') \
        if isinstance(dataset, dict) else None
    return MMPOSE_BBOX_THR if thr is None else float(thr)


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
        bboxes (array-like, optional): Person boxes (B, 4), or (B, 5) boxes
            with their scores (as :class:`MIPNetInferencer` takes them); any
            other shape is an error. None: the whole image (as decoded, EXIF
            orientation applied) is one box. An empty array gives no poses
            (unlike ``inference_topdown``, which then falls back to the whole
            image). Boxes that are not finite, have no area or lie entirely
            outside the image are dropped with a warning.
        bbox_scores (array-like, optional): Box scores (B, ) of (B, 4) boxes.
            Defaults to 1.
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
    # Decoded once, EXIF orientation applied: the whole-image box and the
    # outside-the-image check use the size the model sees, and every box
    # reuses the one decoded array.
    image = decode_image(img)
    height, width = image.shape[:2]
    if bboxes is None:
        boxes, scores_in = np.array([[0, 0, width, height]], dtype=np.float64), None
    else:
        # Floats: integer boxes would give integer box fields downstream.
        boxes, scores_in = split_boxes(bboxes, bbox_scores, 'inference_mipnet bboxes')
        if bbox_format == 'xywh':
            boxes = bbox_xywh2xyxy(boxes)
    if scores_in is None:
        scores_in = np.ones(len(boxes))
    box_rows = usable_box_rows(boxes, scores_in, 'inference_mipnet', (width, height))
    boxes, scores_in = boxes[box_rows], scores_in[box_rows]
    if len(boxes) == 0:
        return []
    # The evaluator config owns the merge settings; explicit arguments override them.
    settings = dict(nms_mode=nms_mode, nms_thr=nms_thr, score_mode=score_mode,
                    keypoint_score_thr=keypoint_score_thr)

    # inference_topdown gives every box a score of 1; merge_mipnet_samples puts
    # the real scores in (the model's box score is linear in it).
    samples = inference_topdown(model, image, boxes.astype(np.float32), bbox_format='xyxy')
    merged = merge_mipnet_samples(model, samples, box_indices=box_rows, bbox_scores=scores_in,
                                  **settings)
    records = pose_records(merged)
    # The boxes as given (float64), not the float32 copies the pipeline made.
    given = {int(row): [float(v) for v in box] for row, box in zip(box_rows, boxes)}
    for record in records:
        record['bbox'] = given[record['box_index']]
    return records


def merge_mipnet_samples(model: nn.Module,
                         samples: Sequence[PoseDataSample],
                         box_indices: Optional[Sequence[int]] = None,
                         bbox_scores: Optional[Sequence[float]] = None,
                         nms_mode: Optional[str] = None,
                         nms_thr: Optional[float] = None,
                         score_mode: Optional[str] = None,
                         keypoint_score_thr: Optional[float] = None) -> PoseDataSample:
    """Merge the per-box predictions of one image as the metric merges them.

    Takes what ``mmpose.apis.inference_topdown`` (or the model's
    ``test_step``) returns for the boxes of one image, one data sample per
    box with n poses (λ = 0..n-1), and gives one data sample holding all
    B x n poses in (box, λ) order, like ``mmpose.structures.merge_data_samples``,
    with each pose rescored and flagged by the NMS of
    :class:`MultiInstanceCocoMetric` (see :func:`inference_mipnet`). A stock
    top-down model's samples (one pose per box) merge too, as λ = 0.

    Args:
        model (nn.Module): The model that made the samples (its
            ``dataset_meta`` gives the OKS sigmas, its ``cfg`` the default
            merge settings, its ``lambda_score_decay`` the λ>0 factor when
            ``bbox_scores`` are given).
        samples (Sequence[PoseDataSample]): B samples of one image, each with
            ``pred_instances`` of n poses and ``gt_instances`` with the box
            (``bbox_scores``, ``bbox_scales``).
        box_indices (Sequence[int], optional): (B, ) the box number of each
            sample, e.g. its row in the caller's box list. Defaults to
            0..B-1.
        bbox_scores (Sequence[float], optional): (B, ) the boxes' scores, in
            place of those the samples were made with (``inference_topdown``
            gives every box 1). None keeps the samples' scores.
        nms_mode, nms_thr, score_mode, keypoint_score_thr: Override the
            settings of ``model.cfg.test_evaluator`` (see
            :func:`config_merge_settings`); None keeps the config's.

    Returns:
        PoseDataSample: The first sample's metainfo, and ``pred_instances``
        of M = B x n poses with the model's fields (``keypoints`` (M, K, 2),
        ``keypoint_scores`` (M, K), ``bboxes`` (M, 4) and ``bbox_scores``
        (M, ): the box score, decayed for λ > 0, which the metric ranks by)
        and:

        - ``lambdas`` (M, ) int64: the instance selector λ
        - ``box_indices`` (M, ) int64: the box each pose came from
        - ``input_bbox_scores`` (M, ): the box's own score (not decayed)
        - ``scores`` (M, ) float64: the rescored pose score the NMS ranks by
        - ``kept_after_nms`` (M, ) bool: whether the NMS keeps the pose
    """
    num_boxes = len(samples)
    rows = np.arange(num_boxes) if box_indices is None else np.asarray(box_indices, np.int64)
    if len(rows) != num_boxes:
        raise ValueError(f'got {num_boxes} samples but {len(rows)} box indices')
    if bbox_scores is not None:
        bbox_scores = np.asarray(bbox_scores, dtype=np.float64).reshape(-1)
        if len(bbox_scores) != num_boxes:
            raise ValueError(f'got {num_boxes} samples but {len(bbox_scores)} box scores')
    settings = config_merge_settings(model)
    overrides = dict(nms_mode=nms_mode, nms_thr=nms_thr, score_mode=score_mode,
                     keypoint_score_thr=keypoint_score_thr)
    settings.update({name: value for name, value in overrides.items() if value is not None})

    if num_boxes == 0:
        merged = PoseDataSample()
        merged.pred_instances = _no_poses(int(model.dataset_meta['num_keypoints']))
        return merged
    decay = float(getattr(model, 'lambda_score_decay', 1.0))
    per_box: List[PoseDataSample] = []
    areas = []
    for index, sample in enumerate(samples):
        pred = sample.pred_instances.clone()
        n = len(pred)
        if 'lambdas' not in pred:  # a stock top-down model: one pose per box, λ = 0
            pred.lambdas = np.zeros(n, dtype=np.int64)
        lambdas = np.asarray(pred.lambdas, dtype=np.int64)
        gt = sample.get('gt_instances', None)
        own_score = (np.asarray(gt.bbox_scores, np.float64).reshape(-1)[0]
                     if gt is not None and 'bbox_scores' in gt else 1.0)
        if bbox_scores is not None:
            own_score = bbox_scores[index]
            # The model's rule: the box score, times the decay for λ > 0.
            pred.bbox_scores = own_score * np.where(lambdas > 0, decay, 1.0)
        pred.lambdas = lambdas
        pred.box_indices = np.full(n, rows[index], dtype=np.int64)
        pred.input_bbox_scores = np.full(n, own_score, dtype=np.float64)
        # The OKS areas the metric takes: from the box as the model saw it.
        bbox_scales = gt.bbox_scales if gt is not None and 'bbox_scales' in gt else None
        areas.append(pose_areas(np.asarray(pred.keypoints), bbox_scales))
        per_sample = sample.new()  # shallow: only the predictions change
        per_sample.pred_instances = pred
        per_box.append(per_sample)
    merged = merge_data_samples(per_box)
    pred = merged.pred_instances
    sigmas = (getattr(model, 'dataset_meta', None) or {}).get('sigmas')
    scores, kept = merge_instance_poses(
        np.asarray(pred.keypoints, np.float64), np.asarray(pred.keypoint_scores, np.float64),
        np.asarray(pred.bbox_scores, np.float64), np.concatenate(areas),
        sigmas=None if sigmas is None else np.asarray(sigmas), **settings)
    pred.scores = scores
    pred.kept_after_nms = kept
    return merged


def _no_poses(num_keypoints: int) -> InstanceData:
    """The merged-prediction fields, with no pose."""
    return InstanceData(
        keypoints=np.zeros((0, num_keypoints, 2), np.float32),
        keypoint_scores=np.zeros((0, num_keypoints), np.float32),
        bboxes=np.zeros((0, 4), np.float32), bbox_scores=np.zeros(0, np.float32),
        lambdas=np.zeros(0, np.int64), box_indices=np.zeros(0, np.int64),
        input_bbox_scores=np.zeros(0, np.float64), scores=np.zeros(0, np.float64),
        kept_after_nms=np.zeros(0, bool))


def pose_records(merged: PoseDataSample) -> List[dict]:
    """One JSON-serialisable record per pose of :func:`merge_mipnet_samples`.

    Args:
        merged (PoseDataSample): A merged sample (its ``pred_instances`` have
            ``box_indices``, ``lambdas``, ``input_bbox_scores``, ``scores``
            and ``kept_after_nms``).

    Returns:
        list[dict]: M records, in the sample's (box, λ) order; the keys are
        those :func:`inference_mipnet` documents.
    """
    pred = merged.pred_instances
    keypoints = np.asarray(pred.keypoints, np.float64)
    keypoint_scores = np.asarray(pred.keypoint_scores, np.float64)
    return [{
        'box_index': int(pred.box_indices[row]),
        'lambda': int(pred.lambdas[row]),
        'bbox': [float(v) for v in np.asarray(pred.bboxes[row]).reshape(-1)],
        'bbox_score': float(pred.input_bbox_scores[row]),
        'keypoints': keypoints[row].tolist(),
        'keypoint_scores': keypoint_scores[row].tolist(),
        'score': float(pred.scores[row]),
        'kept_after_nms': bool(pred.kept_after_nms[row]),
    } for row in range(len(pred))]


def draw_mipnet_result(model: nn.Module,
                       img: ImageType,
                       records: List[dict],
                       kpt_thr: Optional[float] = None,
                       draw_boxes: bool = True) -> np.ndarray:
    """Draw the kept poses of :func:`inference_mipnet`, one colour per λ.

    Args:
        model (nn.Module): The model that made the records (its
            ``dataset_meta`` gives the skeleton).
        img (str | np.ndarray): The image file or BGR array (H, W, 3).
        records (list[dict]): The records of :func:`inference_mipnet`; only
            those with ``kept_after_nms`` are drawn.
        kpt_thr (float, optional): Keypoints scored below are not drawn.
            None: the config's picture threshold (:func:`config_kpt_thr`).
        draw_boxes (bool): Also draw every input box (white). Defaults to True.

    Returns:
        np.ndarray: The drawn RGB image (H, W, 3) uint8, with a λ legend.
    """
    image = mmcv.bgr2rgb(decode_image(img))
    if kpt_thr is None:
        kpt_thr = config_kpt_thr(getattr(model, 'cfg', None))
    num_keypoints = int(model.dataset_meta['num_keypoints'])
    poses = InstanceData(
        keypoints=np.array([r['keypoints'] for r in records], np.float32).reshape(
            -1, num_keypoints, 2),
        keypoint_scores=np.array([r['keypoint_scores'] for r in records], np.float32).reshape(
            -1, num_keypoints),
        lambdas=np.array([r['lambda'] for r in records], np.int64),
        kept_after_nms=np.array([r['kept_after_nms'] for r in records], bool),
        bboxes=np.array([r['bbox'] for r in records], np.float32).reshape(-1, 4),
        box_indices=np.array([r['box_index'] for r in records], np.int64))
    visualizer = PoseLocalVisualizer.get_instance(_VISUALIZER_NAME)
    visualizer.set_dataset_meta(model.dataset_meta)
    visualizer.radius, visualizer.line_width = readable_sizes(image.shape)
    return draw_merged_poses(visualizer, image, poses, kpt_thr, draw_boxes=draw_boxes)
