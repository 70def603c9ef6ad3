"""MIPNet demo: every (box, λ) pose of an image, folder, video or webcam, merged as the metric.

    python tools/demo.py INPUT --config CONFIG [--checkpoint WEIGHTS] --out-dir DIR
        [--bbox-file DETS.json [--image-id ID | --ann-file ANN.json]
         | --det-config DET_CONFIG --det-checkpoint DET_WEIGHTS]
        [--det-cat-id C] [--bbox-thr THR] [--num-instances n] [--nms-thr THR]
        [--kpt-thr THR] [--max-frames F] [--show] [--device cpu]

INPUT is an image file, a folder of images, a video file, or a webcam index
(``0`` or ``webcam:0``).

The poses are merged as the config's ``test_evaluator`` merges them (its
``nms_mode``, ``nms_thr``, ``score_mode``, ``keypoint_score_thr``; with
``nms_mode='none'``, the CrowdPose protocol, every pose is kept);
``--nms-thr`` overrides the threshold.

Person boxes come from (first that applies):

- ``--bbox-file``: detections in the mmdet/COCO results format (a list of
  ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``). An image's
  detections are those with ``image_id`` equal to ``--image-id``, else to the
  id of the image's file name in the ``images`` of the COCO annotation file
  ``--ann-file`` (needed for a folder), else, when the file holds a single
  image's detections, those. For a video, ``image_id`` is the frame number
  (0-based).
- ``--det-config``/``--det-checkpoint``: an MMDetection model run on each image/frame.
- otherwise the whole image (frame) is one box.

Only boxes of category ``--det-cat-id`` (the file's ``category_id``, default 1 =
COCO person; for an mmdet model the 0-based label, default 0 = COCO person)
scoring at least ``--bbox-thr`` are used. ``--bbox-thr``, ``--nms-thr`` and ``--kpt-thr``
default to the config's (test data set ``filter_cfg.bbox_score_thr``, test
evaluator, picture hook), else MMPose's 0.3.

Writes, for an image, ``DIR/<image stem>.png`` (the kept poses, one colour per
λ, with a legend; the boxes in white) and ``DIR/<image stem>.json``
(``{"image", "num_instances", "box_source", "poses": [...]}``, one record per
(box, λ) as :func:`mipnet_mmpose.apis.inference_mipnet` returns them); the
same per image of a folder; for a video (webcam ``N``: ``webcamN``),
``DIR/<video stem>.mp4`` with every frame drawn and ``DIR/<video stem>/<frame
number, 6 digits>.json`` (``{"video", "frame", ...}``). Folders, videos and
webcams show a progress bar with frames per second (the whole path: boxes,
pose model, merge, drawing, writing).
"""
import argparse
import json
import mimetypes
import os
import os.path as osp
import sys
import time
from typing import Callable, Dict, Iterator, List, Optional, Tuple, Union

import numpy as np

#: Category id of a person in COCO-format detection files and in mmdet's 0-based labels.
FILE_PERSON_ID = 1
MMDET_PERSON_LABEL = 0

#: Frame rate written for a webcam that does not report one.
WEBCAM_FPS = 25.0

Image = Union[str, np.ndarray]
Boxes = Tuple[Optional[np.ndarray], Optional[np.ndarray]]


class DemoError(Exception):
    """A user error the CLI reports as one line (a missing file, no matching boxes)."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Run a MIPNet model on an image, a folder of images, a video or a webcam: '
        "N poses per person box, merged as the config's test_evaluator merges them, drawn "
        'with one colour per instance selector λ.')
    parser.add_argument('input', help='image file, folder of images, video file, or webcam '
                        'index (0 or webcam:0)')
    parser.add_argument('--config', required=True, help='MIPNet (MMPose) config file')
    parser.add_argument('--checkpoint', help='model weights (default: random weights, '
                        'only useful to check the pipeline)')
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument('--bbox-file', help='detections in the mmdet/COCO results format')
    boxes.add_argument('--det-config', help='MMDetection config for a person detector')
    parser.add_argument('--image-id', help='image_id of this image in --bbox-file (not '
                        'needed when the file holds one image\'s detections)')
    parser.add_argument('--ann-file', help='COCO annotation file giving the image_id of each '
                        'image by its file name, when --image-id is not given')
    parser.add_argument('--det-checkpoint', help='MMDetection weights (with --det-config)')
    parser.add_argument('--det-cat-id', type=int, help='person category: the category_id in '
                        f'--bbox-file (default {FILE_PERSON_ID}) or the 0-based label of the '
                        f'mmdet model (default {MMDET_PERSON_LABEL})')
    parser.add_argument('--bbox-thr', type=float,
                        help="least box score (default: the config's test "
                        'filter_cfg.bbox_score_thr, else 0.3)')
    parser.add_argument('--num-instances', type=int,
                        help='n: poses per box, λ = 0..n-1 (default: the config\'s)')
    parser.add_argument('--nms-thr', type=float,
                        help="OKS threshold of the NMS (default: the config's test_evaluator's; "
                        "no effect when its nms_mode is 'none')")
    parser.add_argument('--kpt-thr', type=float,
                        help="keypoints scored below are not drawn (default: the config's "
                        'picture hook threshold, else 0.3)')
    parser.add_argument('--max-frames', type=int,
                        help='stop after this many frames of a video or webcam')
    parser.add_argument('--show', action='store_true',
                        help='show each drawn frame in a window (Esc stops)')
    parser.add_argument('--out-dir', required=True, help='folder for the pictures, videos '
                        'and JSON files')
    parser.add_argument('--device', help='e.g. cpu or cuda:0 (default: cuda:0 when '
                        'available, else cpu)')
    args = parser.parse_args(argv)
    if args.det_config and not args.det_checkpoint:
        parser.error('--det-config needs --det-checkpoint')
    if args.det_checkpoint and not args.det_config:
        parser.error('--det-checkpoint needs --det-config')
    if (args.image_id is not None or args.ann_file) and not args.bbox_file:
        parser.error('--image-id and --ann-file go with --bbox-file')
    if args.max_frames is not None and args.max_frames < 1:
        parser.error('--max-frames must be at least 1')
    return args


def _need_file(path: Optional[str], what: str) -> None:
    if path is not None and not osp.isfile(path):
        raise DemoError(f'{what} not found: {path}')


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def _media_type(path: str) -> Optional[str]:
    """'image', 'video' or None, by the file name (as MMPose's inferencer tells them)."""
    guessed = mimetypes.guess_type(path)[0]
    return guessed.split('/')[0] if guessed else None


def webcam_index(text: str) -> Optional[int]:
    """The camera index of ``'0'`` or ``'webcam:0'`` (``'webcam'``: 0), else None."""
    lowered = text.lower()
    if lowered == 'webcam':
        return 0
    if lowered.startswith('webcam:'):
        lowered = lowered[len('webcam:'):]
    return int(lowered) if lowered.isdigit() and not osp.exists(text) else None


def list_images(folder: str) -> List[str]:
    """The image files of a folder (not its subfolders), sorted by name."""
    names = sorted(name for name in os.listdir(folder)
                   if osp.isfile(osp.join(folder, name)) and _media_type(name) == 'image')
    if not names:
        raise DemoError(f'no image files (.jpg, .png, ...) in the folder {folder}')
    stems: Dict[str, str] = {}
    for name in names:
        stem = osp.splitext(name)[0]
        if stem in stems:
            raise DemoError(f'{stems[stem]} and {name} in {folder} would write the same '
                            f'{stem}.png/.json: rename one')
        stems[stem] = name
    return [osp.join(folder, name) for name in names]


class VideoSource:
    """The frames of a video file or webcam, read with OpenCV.

    Args:
        source (str | int): A video file or a camera index.
        max_frames (int, optional): Stop after this many frames.
    """

    def __init__(self, source: Union[str, int], max_frames: Optional[int] = None):
        import cv2
        self.source = source
        self.capture = cv2.VideoCapture(source)
        if not self.capture.isOpened():
            what = f'camera {source}' if isinstance(source, int) else f'video {source}'
            raise DemoError(f'cannot open the {what} with OpenCV')
        fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and np.isfinite(fps) and fps > 0 else WEBCAM_FPS
        count = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT))
        # A webcam (and some streams) reports no frame count: unknown length.
        self.num_frames = count if count > 0 and isinstance(source, str) else 0
        if max_frames is not None:
            self.num_frames = min(self.num_frames, max_frames) if self.num_frames else 0
        self.max_frames = max_frames

    def __iter__(self) -> Iterator[np.ndarray]:
        index = 0
        try:
            while self.max_frames is None or index < self.max_frames:
                ok, frame = self.capture.read()
                if not ok:
                    break
                yield frame
                index += 1
        finally:
            self.capture.release()


# ---------------------------------------------------------------------------
# Boxes
# ---------------------------------------------------------------------------

def image_id_from_ann_file(ann_file: str, image_path: str) -> object:
    """The ``id`` of the COCO ``images`` entry whose file name is the image's base name."""
    from mipnet_mmpose.apis.detection_file import image_ids_by_name
    ids = image_ids_by_name(ann_file)
    name = osp.basename(image_path)
    if name not in ids:
        raise DemoError(f'no image named {name} in the "images" of {ann_file}')
    return ids[name]


def boxes_from_file(bbox_file: str, image_id: object, cat_id: int,
                    bbox_thr: float) -> Tuple[np.ndarray, np.ndarray]:
    """The detections of one image (see :func:`mipnet_mmpose.apis.boxes_from_file`)."""
    from mipnet_mmpose.apis.detection_file import boxes_from_file as from_file
    return from_file(bbox_file, image_id, cat_id, bbox_thr)


def boxes_from_detection(det_sample, label: int,
                         bbox_thr: float) -> Tuple[np.ndarray, np.ndarray]:
    """Person boxes of an mmdet ``DetDataSample``.

    Args:
        det_sample (DetDataSample): ``inference_detector``'s result, with
            ``pred_instances.bboxes`` (M, 4) xyxy, ``scores`` and ``labels``.
        label (int): The person label (0-based).
        bbox_thr (float): Keep boxes scoring at least this.

    Returns:
        tuple: ``boxes`` (B, 4) xyxy float32 and ``scores`` (B, ) float32.
    """
    pred = det_sample.pred_instances.cpu().numpy()
    keep = (pred.labels == label) & (pred.scores >= bbox_thr)
    return (pred.bboxes[keep].astype(np.float32).reshape(-1, 4),
            pred.scores[keep].astype(np.float32))


def box_provider(args: argparse.Namespace, kind: str, images: List[str],
                 device: str) -> Tuple[str, Callable[[int, Image], Boxes]]:
    """Where the boxes come from, and a function (frame number, image) -> boxes.

    Returns:
        tuple: the box source (``'bbox_file'``, ``'detector'`` or
        ``'whole_image'``) and the function; its boxes (B, 4) xyxy and scores
        (B, ), or ``(None, None)`` for the whole image.
    """
    if args.bbox_file:
        from mipnet_mmpose.apis.detection_file import DetectionFile, image_ids_by_name
        dets = DetectionFile(args.bbox_file)
        cat_id = FILE_PERSON_ID if args.det_cat_id is None else args.det_cat_id
        if kind in ('video', 'webcam'):
            if args.image_id is not None or args.ann_file:
                raise DemoError('--image-id and --ann-file are for images: a video\'s '
                                'detections have the frame number (0-based) as image_id')
            return 'bbox_file', lambda index, _: dets.boxes(index, cat_id, args.bbox_thr,
                                                            required=False,
                                                            image=f'frame {index}')
        if args.image_id is not None:
            if len(images) > 1:
                raise DemoError(f'--image-id names one image, the folder {args.input} has '
                                f'{len(images)}: give --ann-file to match each by file name')
            ids = {images[0]: args.image_id}
        elif args.ann_file:
            by_name = image_ids_by_name(args.ann_file)
            ids = {}
            for path in images:
                name = osp.basename(path)
                if name not in by_name:
                    raise DemoError(f'no image named {name} in the "images" of '
                                    f'{args.ann_file}')
                ids[path] = by_name[name]
        elif len(images) == 1 and dets.only_image_id() is not None:
            ids = {images[0]: dets.only_image_id()}
            # Nothing ties that id to this image: say so (boxes outside the
            # image are dropped with a warning when predicting).
            print(f'warning: --bbox-file {args.bbox_file} holds the detections of one image '
                  f'(image_id {ids[images[0]]}), used for {images[0]} without a check; give '
                  '--image-id or --ann-file to match them by id', file=sys.stderr)
        else:
            held = len(dets.by_id)
            raise DemoError(f'--bbox-file {args.bbox_file} holds the detections of {held} '
                            'images: give --image-id (one image) or --ann-file to find each '
                            "image's id by file name")
        # One image: its id must be in the file; a folder may have images nobody is in.
        required = kind == 'image'
        return 'bbox_file', lambda index, image: dets.boxes(ids[image], cat_id, args.bbox_thr,
                                                            required=required, image=image)
    if args.det_config:
        from mmdet.apis import inference_detector, init_detector
        from mmengine.registry import DefaultScope

        # The detector builds its model and (every call) its pipeline from mmdet's
        # registries; the pose model keeps mmpose's scope.
        with DefaultScope.overwrite_default_scope('mmdet'):
            detector = init_detector(args.det_config, args.det_checkpoint, device=device)
        label = MMDET_PERSON_LABEL if args.det_cat_id is None else args.det_cat_id

        def detect(index: int, image: Image) -> Boxes:
            with DefaultScope.overwrite_default_scope('mmdet'):
                found = inference_detector(detector, image)
            return boxes_from_detection(found, label, args.bbox_thr)
        return 'detector', detect
    return 'whole_image', lambda index, image: (None, None)


# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------

def input_kind(text: str) -> Tuple[str, List[str]]:
    """``('image' | 'folder' | 'video' | 'webcam', image files)`` of the INPUT argument."""
    if osp.isdir(text):
        return 'folder', list_images(text)
    if osp.isfile(text):
        return ('video', []) if _media_type(text) == 'video' else ('image', [text])
    if webcam_index(text) is not None:
        return 'webcam', []
    raise DemoError(f'input not found: {text} (give an image, a folder of images, a video '
                    'file or a webcam index)')


def _is_demo_json(path: str) -> bool:
    """Whether ``path`` is a JSON file this demo wrote (then its outputs may be replaced)."""
    try:
        with open(path) as f:
            content = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and {'poses', 'box_source'} <= set(content)


def check_outputs(args: argparse.Namespace, kind: str, images: List[str]) -> None:
    """Refuse outputs that would overwrite an input or a file the demo did not write.

    The pictures and JSON files of an image are replaced only when its JSON
    file is the demo's; an output folder that is the input folder is
    refused (the drawings would sit among, and be read as, the images).
    """
    from mipnet_mmpose.utils.output_paths import (
        OutputPathError,
        check_not_an_input,
        check_out_dir,
        check_replaceable,
        same_file,
    )
    out_dir = args.out_dir
    check_out_dir(out_dir)
    read = [args.config, args.checkpoint, args.bbox_file, args.ann_file, args.det_config,
            args.det_checkpoint]
    if kind == 'folder' and osp.isdir(out_dir) and same_file(out_dir, args.input):
        raise OutputPathError(f'--out-dir {out_dir} is the input folder: the pictures would be '
                              'written among the images (and read as images by the next '
                              'run); give another folder')
    if kind in ('image', 'folder'):
        targets = {osp.join(out_dir, osp.splitext(osp.basename(path))[0]): path
                   for path in images}
        names = {stem + ext: stem + '.json' for stem in targets for ext in ('.json', '.png')}
    else:
        stem = osp.join(out_dir, _video_name(args, kind))
        names = {stem + '.mp4': osp.join(stem, '000000.json')}
        if osp.lexists(stem) and not osp.isdir(stem):
            raise OutputPathError(f'{stem} exists and is not a folder: the demo writes the '
                                  "frames' JSON files there; move it away")
    for name, own_json in names.items():
        check_not_an_input(name, [*images, args.input, *read], what='the demo output')
        check_replaceable(name, lambda _, own_json=own_json: _is_demo_json(own_json),
                          what='the demo output')


def _video_name(args: argparse.Namespace, kind: str) -> str:
    """The stem of a video's outputs: the file's, or ``webcamN``."""
    if kind == 'webcam':
        return f'webcam{webcam_index(args.input)}'
    return osp.splitext(osp.basename(args.input))[0]


def run(args: argparse.Namespace) -> Union[dict, List[dict]]:
    """Boxes, poses, pictures and JSON for every image or frame of the input.

    Returns:
        dict | list[dict]: The JSON content of the image (for one image), or
        of every image / frame.
    """
    for path, what in ((args.config, 'config'), (args.checkpoint, 'checkpoint'),
                       (args.bbox_file, 'bbox file'), (args.ann_file, 'annotation file'),
                       (args.det_config, 'detector config'),
                       (args.det_checkpoint, 'detector checkpoint')):
        _need_file(path, what)
    kind, images = input_kind(args.input)
    check_outputs(args, kind, images)
    if kind == 'image':
        # Heavy imports after the argument checks, so a typo fails fast.
        from mipnet_mmpose.datasets.input_checks import UnreadableImageError, check_image_decodes
        try:
            check_image_decodes(args.input, 'the demo image')
        except UnreadableImageError as e:
            raise DemoError(f'image {args.input} cannot be decoded: {e}') from e

    import torch
    from mmengine.utils import mkdir_or_exist

    from mipnet_mmpose.apis import (
        config_bbox_thr,
        config_kpt_thr,
        config_merge_settings,
        init_mipnet,
        set_test_time,
    )
    from mipnet_mmpose.models.utils.checkpoint_fit import CheckpointMismatchError

    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    box_source, boxes_of = box_provider(args, kind, images, device)
    if args.checkpoint is None:
        print('warning: no --checkpoint, the model has random weights', file=sys.stderr)
    try:
        # Strict: every weight must come from the checkpoint (mmpose's init_model warns only).
        model = init_mipnet(args.config, args.checkpoint, device=device)
    except CheckpointMismatchError as e:
        raise DemoError(str(e)) from e
    try:
        if args.num_instances is not None:
            if not hasattr(model, 'set_test_time'):
                raise ValueError(f'--num-instances needs a MIPNet model, {args.config} '
                                 'predicts one pose per box')
            # The model checks n against its N.
            set_test_time(model, num_instances=args.num_instances)
        num_instances = int(getattr(model, 'test_num_instances', 1))
    except ValueError as e:
        raise DemoError(str(e)) from e
    # The config's thresholds, so the demo keeps and draws what a test run would.
    if args.kpt_thr is None:
        args.kpt_thr = config_kpt_thr(model.cfg)
    if args.bbox_thr is None:
        args.bbox_thr = config_bbox_thr(model.cfg)
    settings = config_merge_settings(model)
    if args.nms_thr is not None:
        settings['nms_thr'] = args.nms_thr
    mkdir_or_exist(args.out_dir)
    context = dict(model=model, settings=settings, num_instances=num_instances,
                   box_source=box_source, boxes_of=boxes_of)

    if kind == 'image':
        result = dict(image=args.input, **_process(args, context, 0, args.input))
        if result.pop('_no_boxes'):
            print(f'warning: no person box scores at least --bbox-thr {args.bbox_thr}; '
                  'no poses', file=sys.stderr)
        stem = osp.join(args.out_dir, osp.splitext(osp.basename(args.input))[0])
        _write(result, stem, result.pop('_drawn'))
        print(f'{_summary(result, num_instances, settings)}; wrote {stem}.png/.json')
        return result
    if kind == 'folder':
        return _run_folder(args, context, images)
    return _run_video(args, context, kind)


def _process(args: argparse.Namespace, context: dict, index: int, image: Image) -> dict:
    """The boxes, merged poses and picture of one image or frame."""
    from mipnet_mmpose.apis import draw_mipnet_result, inference_mipnet

    boxes, scores = context['boxes_of'](index, image)
    records = inference_mipnet(context['model'], image, boxes, scores, **context['settings'])
    drawn = draw_mipnet_result(context['model'], image, records, kpt_thr=args.kpt_thr)
    return dict(num_instances=context['num_instances'], box_source=context['box_source'],
                poses=records, _drawn=drawn, _no_boxes=boxes is not None and len(boxes) == 0)


def _write(result: dict, stem: str, drawn: Optional[np.ndarray]) -> None:
    import mmcv

    # The JSON first: it marks the picture beside it as the demo's (check_outputs).
    with open(stem + '.json', 'w') as f:
        # Strict JSON: a NaN would be written as the non-standard literal NaN.
        json.dump(result, f, allow_nan=False)
    if drawn is not None:
        mmcv.imwrite(mmcv.rgb2bgr(drawn), stem + '.png')


def _summary(result: dict, num_instances: int, settings: dict) -> str:
    records = result['poses']
    kept = sum(r['kept_after_nms'] for r in records)
    num_boxes = len({r['box_index'] for r in records})
    merged_by = ("nms_mode 'none': no NMS" if settings['nms_mode'] == 'none' else
                 f"{settings['nms_mode']}, thr {settings['nms_thr']}")
    return f'{num_boxes} boxes x {num_instances} instances -> {kept} poses kept ({merged_by})'


def _show(picture_rgb: np.ndarray, title: str) -> bool:
    """Show a drawn frame; False when the user pressed Esc."""
    import cv2
    cv2.imshow(title, picture_rgb[..., ::-1])
    return (cv2.waitKey(1) & 0xFF) != 27


def _run_folder(args: argparse.Namespace, context: dict, images: List[str]) -> List[dict]:
    from mmengine.utils import ProgressBar

    from mipnet_mmpose.datasets.input_checks import UnreadableImageError, check_image_decodes
    results: List[dict] = []
    durations: List[float] = []  # seconds per image, for the median rate
    # Frames per second shown as "task/s"; sys.stdout as it is now (the default is bound
    # at import).
    progress = ProgressBar(len(images), file=sys.stdout)
    last = time.perf_counter()
    for index, path in enumerate(images):
        try:
            check_image_decodes(path, f'image {index} of the folder {args.input}')
        except UnreadableImageError as e:
            raise DemoError(f'image {path} cannot be decoded: {e}') from e
        result = dict(image=path, **_process(args, context, index, path))
        drawn = result.pop('_drawn')
        result.pop('_no_boxes')
        _write(result, osp.join(args.out_dir, osp.splitext(osp.basename(path))[0]), drawn)
        results.append(result)
        durations.append(time.perf_counter() - last)
        last += durations[-1]
        progress.update()
        if args.show and not _show(drawn, 'MIPNet'):
            break
    _report(results, durations, context, args.out_dir)
    return results


def _run_video(args: argparse.Namespace, context: dict, kind: str) -> List[dict]:
    import cv2
    from mmengine.utils import ProgressBar, mkdir_or_exist

    source: Union[str, int] = webcam_index(args.input) if kind == 'webcam' else args.input
    name = _video_name(args, kind)
    video = VideoSource(source, args.max_frames)
    frames_dir = osp.join(args.out_dir, name)
    mkdir_or_exist(frames_dir)
    out_video = osp.join(args.out_dir, name + '.mp4')
    writer = None
    results: List[dict] = []
    durations: List[float] = []  # seconds per frame, for the median rate
    # A webcam has no length: the bar then counts frames and their rate.
    progress = ProgressBar(video.num_frames, file=sys.stdout)
    last = time.perf_counter()
    try:
        for index, frame in enumerate(video):
            result = dict(video=str(source), frame=index, **_process(args, context, index, frame))
            drawn = result.pop('_drawn')
            result.pop('_no_boxes')
            if writer is None:
                writer = cv2.VideoWriter(out_video, cv2.VideoWriter_fourcc(*'mp4v'), video.fps,
                                         (drawn.shape[1], drawn.shape[0]))
                if not writer.isOpened():
                    raise DemoError(f'OpenCV cannot write the video {out_video} (mp4v)')
            writer.write(np.ascontiguousarray(drawn[..., ::-1]))
            _write(result, osp.join(frames_dir, f'{index:06d}'), None)
            results.append(result)
            durations.append(time.perf_counter() - last)
            last += durations[-1]
            progress.update()
            if args.show and not _show(drawn, name):
                break
    except KeyboardInterrupt:  # a webcam runs until stopped: keep what was written
        print('\ninterrupted', file=sys.stderr)
    finally:
        if writer is not None:
            writer.release()
        if args.show:
            cv2.destroyAllWindows()
    if not results:
        raise DemoError(f'no frame could be read from {args.input}')
    _report(results, durations, context, out_video + f' and {frames_dir}/')
    return results


def _report(results: List[dict], durations: List[float], context: dict, written: str) -> None:
    """Print the rate of the whole path, the poses kept and what was written.

    The mean rate is frames over the loop's time; the median frame time is
    also given, as it is steadier on a machine shared with other work.
    """
    kept = sum(r['kept_after_nms'] for result in results for r in result['poses'])
    total = sum(len(result['poses']) for result in results)
    settings = context['settings']
    merged_by = ("nms_mode 'none': no NMS" if settings['nms_mode'] == 'none' else
                 f"{settings['nms_mode']}, thr {settings['nms_thr']}")
    seconds = sum(durations)
    median = float(np.median(durations))
    print(f'\n{len(results)} frames in {seconds:.1f} s = {len(results) / seconds:.2f} frames/s '
          f'(median frame {1000 * median:.0f} ms = {1 / median:.2f} frames/s; boxes: '
          f'{context["box_source"]}, pose model, merge, drawing, writing); '
          f'{kept} of {total} poses kept ({merged_by}); wrote {written}')


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except DemoError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    except ValueError as e:
        # Our input errors (detection file, output paths, boxes, images,
        # videos) are ValueErrors with a message naming the file; others are bugs.
        if type(e).__module__.startswith('mipnet_mmpose'):
            print(f'error: {e}', file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == '__main__':
    sys.exit(main())
