"""MMPose's 2D pose inferencer for MIPNet models: λ poses per box, merged as the metric.

MMPose's ``MMPoseInferencer`` builds its own ``Pose2DInferencer``, which merges
an image's per-box predictions by concatenation only: a MIPNet model then gives
n unmerged poses per box with no λ, no OKS-NMS across the λ poses, drawn as
unrelated people. :class:`MIPNetInferencer` is that inferencer with the
evaluation's merge (:func:`~mipnet_mmpose.apis.merge_mipnet_samples`) and the
λ drawing; it is registered in MMPose's ``INFERENCERS`` as
``'MIPNetInferencer'`` and ``'mipnet-pose-estimation'``.
"""
import itertools
import logging
import mimetypes
import os
import os.path as osp
from typing import (
    Callable,
    Dict,
    Generator,
    Iterable,
    Iterator,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import cv2
import mmcv
import mmengine
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.fileio import join_path
from mmengine.infer.infer import ModelType
from mmengine.logging import print_log
from mmengine.registry import FUNCTIONS
from mmengine.utils import mkdir_or_exist
from mmpose.apis.inference import dataset_meta_from_config
from mmpose.apis.inferencers import Pose2DInferencer
from mmpose.apis.inferencers.utils import default_det_models
from mmpose.registry import DATASETS, INFERENCERS
from mmpose.structures import PoseDataSample
from torch import nn

from ..datasets.decoded_image_cache import image_cache_for
from ..datasets.input_checks import UndecodableImageError
from ..datasets.stock_dataset import stock_dataset_type
from ..engine.checkpoint_io import check_before_mmengine_loads
from ..visualization import draw_merged_poses, readable_sizes
from .detection_file import DetectionFileBoxes
from .inference import (
    config_bbox_thr,
    config_kpt_thr,
    config_merge_settings,
    decode_image,
    merge_mipnet_samples,
    pose_records,
    split_boxes,
    undecodable_image_error,
    usable_box_rows,
)
from .inference_outputs import check_outputs
from .inference_progress import RunProgress
from .test_time import set_test_time, test_time_from_config

InputType = Union[str, np.ndarray]
ConfigType = Union[Config, ConfigDict]

#: Metainfo key of a packed box sample: the box's number among the image's
#: boxes (its ``box_index``); -1 marks a stand-in for an image with no usable box.
BOX_INDEX_KEY = 'mipnet_box_index'


class UnreadableVideoError(ValueError):
    """A video file that cannot be opened or whose frames cannot be decoded."""


class CheckedVideo:
    """The frames of an ``mmcv.VideoReader``, with an error when none can be decoded.

    OpenCV reads a truncated or 0-frame video as a shorter (or empty) one,
    without an error: the inferencer would return nothing. This raises
    after the last frame when no frame was read, and warns (as ``mim test``
    warns about data: through the current logger) when fewer frames were
    read than the file's header announces.

    Args:
        video (mmcv.VideoReader): The opened video.
        path (str): The file, for the messages.
    """

    def __init__(self, video, path: str) -> None:
        self.video = video
        self.path = path
        self.frames_read = 0

    def __len__(self) -> int:
        return len(self.video)

    def __getattr__(self, name: str):
        return getattr(self.video, name)

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.video:
            self.frames_read += 1
            yield frame
        if self.frames_read == 0:
            raise UnreadableVideoError(
                f'video {self.path}: no frame can be decoded (a 0-frame, truncated or '
                'corrupt file; the header announces '
                f'{len(self.video)} frames)')
        if self.frames_read < len(self.video):
            print_log(f'video {self.path}: {self.frames_read} of the {len(self.video)} frames '
                      'its header announces could be decoded (truncated file?); the rest '
                      'have no poses', logger='current', level=logging.WARNING)


def complete_inference_config(cfg: ConfigType) -> ConfigType:
    """Add the top-level keys MMPose's inferencers read, where a config lacks them.

    ``Pose2DInferencer`` reads ``cfg.data_mode`` (top-down or bottom-up) and
    ``cfg.dataset_type`` (whose MMPose module, e.g. ``body``, picks the default
    person detector). MMPose's own configs set both; a config built from
    scratch (as the sample configs) need not. Every MIPNet model is top-down;
    the dataset type is the first MMPose dataset class the test (else val,
    else train) dataset derives from, e.g. ``OCHumanDataset`` for
    ``MultiInstanceOCHumanDataset``, so the default detector is MMPose's.

    Args:
        cfg (Config | ConfigDict): The model config; changed in place.

    Returns:
        Config | ConfigDict: ``cfg``.
    """
    if 'data_mode' not in cfg:
        cfg.data_mode = 'topdown'
    if 'dataset_type' not in cfg:
        cfg.dataset_type = _mmpose_dataset_type(cfg)
    return cfg


def _mmpose_dataset_type(cfg: ConfigType) -> str:
    for loader in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        dataset_type = (cfg.get(loader) or {}).get('dataset', {}).get('type')
        if isinstance(dataset_type, str):
            return stock_dataset_type(dataset_type)
    raise ValueError(f'config {getattr(cfg, "filename", None) or "(in memory)"} has no '
                     'dataset_type and no test_dataloader.dataset.type to take it from: add '
                     "dataset_type = 'CocoDataset' (or the dataset's MMPose type) to it")


def default_detector_type(dataset_type: str) -> str:
    """The key of MMPose's ``default_det_models`` for a dataset type, e.g. ``'body'``.

    MMPose takes it from the dataset class's module
    (``mmpose.datasets.datasets.body.coco_dataset`` -> ``'body'``); ours live
    in ``mipnet_mmpose.datasets``, so the MMPose class they derive from is
    asked instead.
    """
    module = DATASETS.get(stock_dataset_type(dataset_type)).__module__
    return module.split('datasets.')[-1].split('.')[0].lower()


@INFERENCERS.register_module(name='mipnet-pose-estimation')
@INFERENCERS.register_module()
class MIPNetInferencer(Pose2DInferencer):
    """MMPose's ``Pose2DInferencer`` for MIPNet: every (box, λ) pose, merged as the metric.

    Each image (or video / webcam frame) is run as MMPose's inferencer runs
    it: person boxes from ``bboxes``, else from the detector (``det_model``,
    by default MMPose's for the config's dataset), else the whole image; the
    model predicts n poses per box (λ = 0..n-1). Unlike the stock inferencer,
    the poses of the image are then merged as
    :class:`MultiInstanceCocoMetric` merges them (see
    :func:`~mipnet_mmpose.apis.merge_mipnet_samples`: rescoring, λ>0 score
    decay, the NMS of the config's ``test_evaluator`` with its threshold and
    OKS areas, or none under the CrowdPose protocol), every pose is kept in
    the output with its ``lambda``, ``box_index`` and ``kept_after_nms``, and
    the picture shows the kept poses coloured by λ (as
    :class:`MultiInstanceVisualizationHook` draws them). A stock top-down
    model works too (one pose per box, λ = 0).

    Calling it is MMPose's: a generator of one result per image,
    ``{'predictions': [records], 'visualization': [...]}`` where the records
    are those of :func:`~mipnet_mmpose.apis.inference_mipnet` (with
    ``return_datasamples=True``, the merged :class:`PoseDataSample`).

    Args:
        model (str | Config | dict): The config file or object (an MMPose
            model alias works too). ``data_mode`` and ``dataset_type`` are
            filled in where it lacks them (:func:`complete_inference_config`).
        weights (str, optional): The checkpoint. Unlike MMPose's loading, every
            weight of the model must come from it
            (:class:`CheckpointMismatchError` otherwise). None: random weights.
        device (str, optional): e.g. ``'cpu'``. Defaults to MMEngine's choice.
        scope (str): The registry scope. Defaults to ``'mmpose'``.
        det_model (str, optional): An MMDetection config, model alias, or
            ``'whole_image'`` (no detector: each image is one box, unless
            ``bboxes`` are given). None: MMPose's default person detector for
            the dataset (downloaded on first use).
        det_weights (str, optional): The detector's checkpoint.
        det_cat_ids (int | tuple, optional): Detector labels kept as persons.
        num_instances (int, optional): n, poses per box, at most the model's N.
            None: the config's (``MultiInstanceTestHook``) or the model's.
        lambda_score_decay (float, optional): Score factor of λ>0 poses. None:
            the config's or the model's.
        show_progress (bool): Print progress lines (inputs per second, see
            :class:`RunProgress`) and, at the end, the frames per second of the
            whole path and the poses kept. Defaults to False.

    Call keywords, besides MMPose's (``nms_thr``: the detector boxes' IoU NMS;
    ``vis_out_dir``, ``pred_out_dir``, ``out_dir``, ``show``, ``radius``,
    ``thickness``, ``draw_bbox``, ``return_vis``), and where they differ:

    - ``bboxes``: per input, boxes (B, 4) xyxy or (B, 5) with scores, used
      as given in place of the detector (an array of 0 rows: nobody, no
      poses); or a function ``(index, input) -> boxes`` (e.g. for the frames
      of a video); or a :class:`~mipnet_mmpose.apis.DetectionFileBoxes`
      (a detection results file, matched to the inputs when the run starts).
    - ``bbox_thr`` (float): least box score; None (default): the config's
      (:func:`config_bbox_thr`). Detector boxes are kept above it (MMPose's
      rule), a detection file's at or above it (MMPose's data sets' rule).
    - ``kpt_thr`` (float): keypoints drawn; None (default): the config's.
    - ``max_frames`` (int): stop after this many inputs (video, webcam).

    - ``pose_nms_mode`` (str): ``'oks_nms'``, ``'soft_oks_nms'`` or
      ``'none'`` in place of the config's ``test_evaluator.nms_mode``.
    - ``pose_nms_thr`` (float): OKS threshold in place of the config's.
    """

    preprocess_kwargs: set = {'bbox_thr', 'nms_thr', 'bboxes', 'max_frames'}
    forward_kwargs: set = {'pose_nms_mode', 'pose_nms_thr'}
    visualize_kwargs: set = {
        'return_vis', 'show', 'wait_time', 'draw_bbox', 'radius', 'thickness', 'kpt_thr',
        'vis_out_dir', 'black_background'
    }
    postprocess_kwargs: set = {'pred_out_dir', 'return_datasample'}

    def __init__(self,
                 model: Union[ModelType, str],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 scope: Optional[str] = 'mmpose',
                 det_model: Optional[Union[ModelType, str]] = None,
                 det_weights: Optional[str] = None,
                 det_cat_ids: Optional[Union[int, Tuple]] = None,
                 num_instances: Optional[int] = None,
                 lambda_score_decay: Optional[float] = None,
                 show_progress: bool = False) -> None:
        # Named in a checkpoint mismatch error (_load_weights_to_model gets the
        # loaded checkpoint only).
        self._weights_path = weights
        # Our progress lines (with rates) in place of MMPose's rich progress bar.
        super().__init__(model=model, weights=weights, device=device, scope=scope,
                         det_model=det_model, det_weights=det_weights,
                         det_cat_ids=det_cat_ids, show_progress=False)
        self.show_progress_bar = show_progress
        self._run: dict = {}
        if num_instances is not None or lambda_score_decay is not None:
            # Raises for a stock model (one pose per box), checks n against N.
            set_test_time(self.model, num_instances=num_instances,
                          lambda_score_decay=lambda_score_decay)

    def _init_model(self, cfg: ConfigType, weights: Optional[str],
                    device: str = 'cpu') -> nn.Module:
        """MMEngine's model building, then the config's MIPNet test-time settings."""
        if weights is not None:
            # A broken or unsafe file: an error naming it, before mmengine unpickles it
            # (fully below torch 2.6; weights-only from 2.6, with the same types allowed).
            check_before_mmengine_loads(weights)
        model = super()._init_model(cfg, weights, device)
        # After building: with model=None the config came from the checkpoint.
        complete_inference_config(cfg)
        if hasattr(model, 'set_test_time'):
            # The config's test-time hook owns n and the λ>0 score decay.
            set_test_time(model, **test_time_from_config(cfg))
        return model

    def _init_collate(self, cfg: ConfigType) -> Callable:
        """The config's test ``collate_fn`` (default ``pseudo_collate``), found as the runner does.

        MMEngine's inferencer looks it up in the ``function`` registry of its
        scope; MMPose has none, so MMPose's inferencers log 'Failed to search
        registry with scope "mmpose" in the "function" registry tree' before
        falling back to MMEngine's. MMEngine's runner asks MMEngine's
        ``FUNCTIONS`` directly, and so does this.
        """
        collate_cfg = (cfg.get('test_dataloader') or {}).get('collate_fn',
                                                             dict(type='pseudo_collate'))
        name = collate_cfg.get('type') if isinstance(collate_cfg, dict) else collate_cfg
        collate_fn = FUNCTIONS.get(name) if isinstance(name, str) else name
        if not callable(collate_fn):
            raise ValueError(f'test_dataloader.collate_fn {name!r} of the config is not a '
                             "function registered in MMEngine's FUNCTIONS (e.g. "
                             "'pseudo_collate')")
        return collate_fn

    def _init_detector(self,
                       det_model: Optional[Union[ModelType, str]] = None,
                       det_weights: Optional[str] = None,
                       det_cat_ids: Optional[Union[int, Tuple]] = None,
                       device: Optional[str] = None) -> None:
        """MMPose's detector set-up, with its default detector for our dataset types.

        MMPose picks the default detector by the module of ``cfg.dataset_type``,
        which for a MIPNet dataset (``MultiInstanceCocoDataset``) names no
        object type: it would silently run without a detector.
        """
        if det_model is None:
            defaults = default_det_models.get(default_detector_type(self.cfg.dataset_type))
            if defaults is None:
                det_model = 'whole_image'
            else:
                det_model, det_weights, det_cat_ids = (defaults['model'], defaults['weights'],
                                                       defaults['cat_ids'])
        super()._init_detector(det_model=det_model, det_weights=det_weights,
                               det_cat_ids=det_cat_ids, device=device)

    def _load_weights_to_model(self, model: nn.Module, checkpoint: Optional[dict],
                               cfg: Optional[ConfigType]) -> None:
        """MMPose's loading, after checking the checkpoint fills every weight."""
        if checkpoint is not None:
            from ..models.utils.checkpoint_fit import check_checkpoint_fits
            check_checkpoint_fits(model, checkpoint, source=str(self._weights_path),
                                  config=getattr(cfg, 'filename', None))
        super()._load_weights_to_model(model, checkpoint, cfg)
        if getattr(model, 'dataset_meta', None) is None:
            # MMPose reads the train dataset's only, which a ConcatDataset has not.
            model.dataset_meta = (dataset_meta_from_config(cfg, dataset_mode='test')
                                  or dataset_meta_from_config(cfg, dataset_mode='val'))
        if model.dataset_meta is None:
            raise ValueError(f'config {getattr(cfg, "filename", None) or "(in memory)"}: no '
                             'dataset metainfo (keypoints, skeleton, sigmas) in the checkpoint '
                             'nor in its train/test/val dataset; give test_dataloader.dataset '
                             'a type with METAINFO or a metainfo')

    def preprocess_single(self,
                          input: InputType,
                          index: int,
                          bbox_thr: float = 0.3,
                          nms_thr: float = 0.3,
                          bboxes: Union[Sequence, np.ndarray] = ()) -> List[dict]:
        """The packed box samples of one image, each tagged with its box number.

        Args:
            input (str | np.ndarray): An image file or BGR array (H, W, 3).
            index (int): The input's number (names an array input).
            bbox_thr (float): The detector's score threshold.
            nms_thr (float): The detector boxes' IoU NMS threshold.
            bboxes (array-like): Boxes (B, 4) xyxy or (B, 5) xyxy + score,
                used as given (no threshold, no NMS; a box that is not finite
                or has no area is dropped with a warning); an array of 0 rows:
                nobody in the image, no poses. None or an empty list:
                MMPose's way (the detector's boxes, else the whole image).

        Returns:
            list[dict]: The pipeline's output per box; each data sample's
            metainfo has the box number (its row in ``bboxes``, or in the
            detector's kept boxes) under :data:`BOX_INDEX_KEY`.
        """
        given = bboxes if bboxes is not None else ()
        image = self._decoded(input, index)
        if len(given) == 0 and not isinstance(given, np.ndarray):
            # MMPose's way, on the decoded array (its whole-image box would
            # otherwise fail on an undecodable file with an AttributeError).
            data_infos = super().preprocess_single(image, index, bbox_thr=bbox_thr,
                                                   nms_thr=nms_thr)
            for row, data_info in enumerate(data_infos):
                data_info['data_samples'].set_metainfo({BOX_INDEX_KEY: row})
                if isinstance(input, str):
                    data_info['data_samples'].set_metainfo({'img_path': input})
            return data_infos
        boxes, scores = split_boxes(given, None, f'bboxes[{index}]')
        if scores is None:
            scores = np.ones(len(boxes))
        image_size = (image.shape[1], image.shape[0])
        rows = usable_box_rows(boxes, scores, f'MIPNetInferencer (input {index})', image_size)
        # The image decoded once for all its boxes, not once per box.
        image_info = dict(img=image, img_path=input if isinstance(input, str) else
                          f'{index}.jpg'.rjust(10, '0'))
        image_info.update(self.model.dataset_meta)
        data_infos = []
        # No usable box: one whole-image stand-in keeps the image's metainfo
        # through the model; its poses are dropped in forward().
        for row in rows.tolist() if len(rows) else [-1]:
            box = boxes[row] if row >= 0 else np.array([0, 0, *image_size], np.float64)
            box_info = dict(image_info, bbox=box[None].astype(np.float32),
                            bbox_score=np.array([scores[row] if row >= 0 else 1], np.float64))
            data_info = self.pipeline(box_info)
            data_info['data_samples'].set_metainfo({BOX_INDEX_KEY: row})
            data_infos.append(data_info)
        return data_infos

    @property
    def bbox_thr(self) -> float:
        """The least box score of a call without ``bbox_thr``: the config's."""
        return config_bbox_thr(self.cfg)

    @property
    def kpt_thr(self) -> float:
        """The least keypoint score drawn by a call without ``kpt_thr``: the config's."""
        return config_kpt_thr(self.cfg)

    def __call__(self, inputs, return_datasamples: bool = False, batch_size: int = 1,
                 out_dir: Optional[str] = None, **kwargs) -> Generator[dict, None, None]:
        """MMPose's call (a generator of one result per input), checked and stoppable.

        Before the first input is run, every file the call would write is
        checked (:func:`~mipnet_mmpose.apis.inference_outputs.check_outputs`:
        no input, no file this inferencer did not write, no two inputs on one
        output). Ctrl-C (``KeyboardInterrupt``) during a video or webcam run
        ends it as its end would: the video written so far is closed and its
        predictions written.
        """
        vis_out_dir = kwargs.get('vis_out_dir', f'{out_dir}/visualizations' if out_dir else '')
        pred_out_dir = kwargs.get('pred_out_dir', f'{out_dir}/predictions' if out_dir else '')
        settings = config_merge_settings(self.model)
        mode = kwargs.get('pose_nms_mode') or settings['nms_mode']
        thr = settings['nms_thr'] if kwargs.get('pose_nms_thr') is None else \
            kwargs['pose_nms_thr']
        self._run = dict(vis_out_dir=vis_out_dir, pred_out_dir=pred_out_dir, source=inputs,
                         merged_by="nms_mode 'none': no NMS" if mode == 'none' else
                         f'{mode}, thr {thr}', progress=None)
        try:
            yield from super().__call__(inputs, return_datasamples=return_datasamples,
                                        batch_size=batch_size, out_dir=out_dir, **kwargs)
        except KeyboardInterrupt:
            if not self._video_input:
                raise
            print_log('interrupted: the frames so far are written', logger='current',
                      level=logging.WARNING)
            self._finalize_video_processing(pred_out_dir)

    def preprocess(self,
                   inputs: Iterable,
                   batch_size: int = 1,
                   bboxes: Optional[Union[Sequence, Callable, DetectionFileBoxes]] = None,
                   bbox_thr: Optional[float] = None,
                   nms_thr: float = 0.3,
                   max_frames: Optional[int] = None) -> Iterator[tuple]:
        """The collated box samples of each input (one at a time), after the output check.

        Args:
            inputs (Iterable): The listed inputs (images, or video / webcam frames).
            batch_size (int): Ignored: one input at a time, as MMPose's.
            bboxes: Per input boxes, a function ``(index, input) -> boxes``,
                or a :class:`DetectionFileBoxes` (see the class docstring).
            bbox_thr (float, optional): Least box score; None: the config's.
            nms_thr (float): The detector boxes' IoU NMS threshold (MMPose's).
            max_frames (int, optional): Stop after this many inputs.

        Yields:
            tuple: The collated samples of one input and ``[input]``.
        """
        run = self._run
        video_name = self.video_info['name'] if self._video_input else None
        listed = [] if self._video_input else list(inputs)
        reads = [self._weights_path, getattr(self.cfg, 'filename', None),
                 run.get('source') if video_name else None,
                 getattr(bboxes, 'path', None)]
        run['records'] = check_outputs(listed, video_name, run.get('vis_out_dir', ''),
                                       run.get('pred_out_dir', ''), reads)
        if bbox_thr is None:
            bbox_thr = self.bbox_thr
        if isinstance(bboxes, DetectionFileBoxes):
            bboxes = bboxes.for_inputs(listed, self._video_input, bbox_thr,
                                       source=str(run.get('source')))
        sequence = inputs if self._video_input else listed
        total = len(sequence) if hasattr(sequence, '__len__') else 0
        if max_frames is not None:
            sequence = itertools.islice(sequence, max_frames)
            total = min(total, max_frames) if total else 0
        progress = RunProgress(total) if self.show_progress_bar else None
        run['progress'] = progress
        for index, single in enumerate(sequence):
            if callable(bboxes):
                boxes = bboxes(index, single)
            else:
                boxes = bboxes[index] if bboxes is not None and len(bboxes) else None
            data_infos = self.preprocess_single(single, index, bbox_thr=bbox_thr,
                                                nms_thr=nms_thr, bboxes=boxes)
            yield self.collate_fn(data_infos), [single]
            if progress is not None:
                progress.update()
        if progress is not None:
            progress.finish()

    def _get_webcam_inputs(self, inputs: str) -> Generator:
        """MMPose's webcam frames; a camera that cannot be opened is an error, not no frames."""
        camera = inputs.lower().partition(':')[2] or '0'
        if camera.isdigit():
            capture = cv2.VideoCapture(int(camera))
            opened = capture.isOpened()
            capture.release()
            if not opened:
                raise UnreadableVideoError(f'cannot open the camera {camera} with OpenCV')
        return super()._get_webcam_inputs(inputs)

    def _decoded(self, input: InputType, index: int) -> np.ndarray:
        """The image of an input as the pipeline's loader decodes it (EXIF applied).

        Raises:
            UndecodableImageError: Naming the file (an empty, truncated or
                non-image file in a folder of images).
            ValueError: An array that is not a BGR image (H, W, 3), e.g. a
                grayscale one.
        """
        if not isinstance(input, str):
            return decode_image(input, f'input {index}')
        cache = image_cache_for(self.pipeline)
        try:
            image = (cache.fill(dict(img_path=input)).get('img') if cache is not None
                     else decode_image(input))
        except UndecodableImageError as e:
            raise UndecodableImageError(f'input {index}: {e}') from None
        except (AssertionError, OSError, ValueError, cv2.error) as e:
            raise undecodable_image_error(input, e, f'input {index}: ') from None
        if image is None or getattr(image, 'size', 0) == 0:
            raise undecodable_image_error(input, name=f'input {index}: ')
        return image

    def _inputs_to_list(self, inputs) -> Iterable:
        """MMPose's input listing; a video that cannot be read is a clear error.

        A folder lists its image files, sorted, as MMPose lists them, but a
        file of no known type (``LICENSE``, ``.DS_Store``) is skipped instead
        of failing with an ``AttributeError``.
        """
        if isinstance(inputs, str) and osp.isdir(inputs):
            self._video_input = False
            return sorted(join_path(inputs, name) for name in sorted(os.listdir(inputs))
                          if osp.isfile(osp.join(inputs, name)) and
                          (mimetypes.guess_type(name)[0] or '').startswith('image/'))
        if isinstance(inputs, str) and not osp.isdir(inputs) and \
                (mimetypes.guess_type(inputs)[0] or '').startswith('video'):
            if not osp.isfile(inputs):
                raise FileNotFoundError(f'video not found: {inputs}')
            try:
                listed = super()._inputs_to_list(inputs)
            except AssertionError as e:  # mmcv's VideoReader: "Failed to load video file"
                raise UnreadableVideoError(f'video {inputs} cannot be opened ({e})') from None
            return CheckedVideo(listed, inputs)
        return super()._inputs_to_list(inputs)

    @torch.no_grad()
    def forward(self, inputs: Union[dict, tuple], pose_nms_mode: Optional[str] = None,
                pose_nms_thr: Optional[float] = None) -> List[PoseDataSample]:
        """Predict every box of one image and merge the poses as the metric.

        Args:
            inputs (dict | tuple): The collated box samples of one image.
            pose_nms_mode (str, optional): Overrides the config's ``nms_mode``.
            pose_nms_thr (float, optional): Overrides the config's ``nms_thr``.

        Returns:
            list[PoseDataSample]: One merged sample (see
            :func:`~mipnet_mmpose.apis.merge_mipnet_samples`).
        """
        samples = self.model.test_step(inputs)
        used = [s for s in samples if s.metainfo.get(BOX_INDEX_KEY, 0) >= 0]
        merged = merge_mipnet_samples(
            self.model, used, box_indices=[s.metainfo.get(BOX_INDEX_KEY, 0) for s in used],
            nms_mode=pose_nms_mode, nms_thr=pose_nms_thr)
        if samples and not used:
            merged.set_metainfo(samples[0].metainfo)
        progress = self._run.get('progress')
        if progress is not None:
            kept = merged.pred_instances.get('kept_after_nms', np.zeros(0, bool))
            progress.add_poses(len(used), len(kept), int(np.sum(kept)),
                               int(getattr(self.model, 'test_num_instances', 1)),
                               self._run['merged_by'])
        return [merged]

    def visualize(self,
                  inputs: list,
                  preds: List[PoseDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  draw_bbox: bool = True,
                  wait_time: float = 0,
                  radius: Optional[int] = None,
                  thickness: Optional[int] = None,
                  kpt_thr: Optional[float] = None,
                  vis_out_dir: str = '',
                  window_name: str = '',
                  black_background: bool = False,
                  **kwargs) -> List[np.ndarray]:
        """Draw the kept poses of each image, one colour per λ, with a legend.

        Args:
            inputs (list): The images (files or BGR arrays).
            preds (list[PoseDataSample]): The merged samples of :meth:`forward`.
            return_vis (bool): Return the pictures. Defaults to False.
            show (bool): Show them in a window. Defaults to False.
            draw_bbox (bool): Draw the input boxes in white. Defaults to True.
            wait_time (float): Seconds a shown picture stays (0: until a key).
            radius (int, optional): Joint radius. None: from the image size.
            thickness (int, optional): Limb width. None: from the image size.
            kpt_thr (float, optional): Keypoints scored below are not drawn.
                None: the config's picture threshold (:func:`config_kpt_thr`).
            vis_out_dir (str): Folder (or, for a video, file) to write the
                pictures to; empty: not written.
            window_name (str): Title of the window. Defaults to the image name.
            black_background (bool): Draw on black instead of the image.

        Returns:
            list[np.ndarray]: The RGB pictures (H, W, 3) with ``return_vis``,
            else an empty list.
        """
        if not (return_vis or show or vis_out_dir):
            return []
        if kpt_thr is None:
            kpt_thr = config_kpt_thr(self.cfg)
        pictures = []
        for single_input, pred in zip(inputs, preds):
            if isinstance(single_input, str):
                image = mmcv.imread(single_input, channel_order='rgb')
            else:
                image = mmcv.bgr2rgb(single_input)
            if black_background:
                image = image * 0
            auto_radius, auto_width = readable_sizes(image.shape)
            self.visualizer.radius = auto_radius if radius is None else radius
            self.visualizer.line_width = auto_width if thickness is None else thickness
            picture = draw_merged_poses(self.visualizer, image, pred.pred_instances,
                                        kpt_thr=kpt_thr, draw_boxes=draw_bbox)
            img_name = osp.basename(pred.metainfo['img_path'])
            if show:
                # Video frames must not wait for a key press.
                self.visualizer.show(picture, win_name=window_name or img_name,
                                     wait_time=1e-5 if self._video_input else wait_time)
            if vis_out_dir:
                self.save_visualization(picture, vis_out_dir, img_name=img_name)
                if not self._video_input:  # a video is recorded when it is closed
                    self._record(join_path(vis_out_dir, img_name))
            pictures.append(picture)
        return pictures if return_vis else []

    def postprocess(self,
                    preds: List[PoseDataSample],
                    visualization: List[np.ndarray],
                    return_datasample: Optional[bool] = None,
                    return_datasamples: bool = False,
                    pred_out_dir: str = '') -> Dict[str, list]:
        """Pack the results; write one JSON of pose records per image.

        Args:
            preds (list[PoseDataSample]): The merged samples of :meth:`forward`.
            visualization (list[np.ndarray]): The pictures of :meth:`visualize`.
            return_datasample (bool, optional): MMPose's deprecated spelling
                of ``return_datasamples``.
            return_datasamples (bool): Return the merged samples instead of
                the records. Defaults to False.
            pred_out_dir (str): Folder for ``<image stem>.json`` (the records
                of the image); for a video or webcam, MMPose's single
                ``<video stem>.json`` of ``{"frame_id", "instances"}``,
                written at the end. Empty: nothing written.

        Returns:
            dict: ``predictions`` (one list of records, or one merged sample,
            per image) and ``visualization``.
        """
        if return_datasample is not None:
            return_datasamples = return_datasample
        records = [pose_records(pred) for pred in preds]
        if pred_out_dir:
            for image_records, pred in zip(records, preds):
                if self._video_input:
                    # MMPose's _finalize_video_processing writes them at the end.
                    self.video_info['predictions'].append(image_records)
                else:
                    mkdir_or_exist(pred_out_dir)
                    stem = osp.splitext(osp.basename(pred.metainfo['img_path']))[0]
                    mmengine.dump(image_records, join_path(pred_out_dir, stem + '.json'),
                                  indent='  ')
                    self._record(join_path(pred_out_dir, stem + '.json'))
        return dict(predictions=list(preds) if return_datasamples else records,
                    visualization=visualization)

    def _record(self, path: str) -> None:
        """Record a file this call wrote, so that a later call may replace it."""
        records = self._run.get('records')
        if records is not None and osp.isfile(path):
            records.add(path)

    def _finalize_video_processing(self, pred_out_dir: str = '') -> None:
        """MMPose's end of a video (close the video file, write the predictions), recorded."""
        super()._finalize_video_processing(pred_out_dir)
        if self.video_info.get('writer') is not None:
            self._record(self.video_info['output_file'])
        if pred_out_dir:
            name = osp.splitext(osp.basename(self.video_info['name']))[0] + '.json'
            self._record(join_path(pred_out_dir, name))

