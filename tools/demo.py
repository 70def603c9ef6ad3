"""MIPNet demo: every (box, λ) pose of one image, merged as the metric, drawn and saved.

    python tools/demo.py IMAGE --config CONFIG [--checkpoint WEIGHTS] --out-dir DIR
        [--bbox-file DETS.json [--image-id ID | --ann-file ANN.json]
         | --det-config DET_CONFIG --det-checkpoint DET_WEIGHTS]
        [--det-cat-id C] [--bbox-thr 0.3] [--num-instances n] [--nms-thr THR]
        [--kpt-thr 0.3] [--device cpu]

The poses are merged as the config's ``test_evaluator`` merges them (its
``nms_mode``, ``nms_thr``, ``score_mode``, ``keypoint_score_thr``; with
``nms_mode='none'``, the CrowdPose protocol, every pose is kept);
``--nms-thr`` overrides the threshold.

Person boxes come from (first that applies):

- ``--bbox-file``: detections in the mmdet/COCO results format (a list of
  ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``). The image's
  detections are those with ``image_id`` equal to ``--image-id``; without it,
  the id is looked up by the image's file name in the ``images`` of the COCO
  annotation file ``--ann-file``.
- ``--det-config``/``--det-checkpoint``: an MMDetection model run on the image.
- otherwise the whole image is one box.

Only boxes of category ``--det-cat-id`` (the file's ``category_id``, default 1 =
COCO person; for an mmdet model the 0-based label, default 0 = COCO person)
scoring at least ``--bbox-thr`` are used.

Writes ``DIR/<image stem>.png`` (the kept poses, one colour per λ, with a
legend; the boxes in white) and ``DIR/<image stem>.json``
(``{"image", "num_instances", "box_source", "poses": [...]}``, one record per
(box, λ) as :func:`mipnet_mmpose.apis.inference_mipnet` returns them).
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional, Tuple

import numpy as np

#: Category id of a person in COCO-format detection files and in mmdet's 0-based labels.
FILE_PERSON_ID = 1
MMDET_PERSON_LABEL = 0


class DemoError(Exception):
    """A user error the CLI reports as one line (a missing file, no matching boxes)."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Run a MIPNet model on one image: N poses per person box, merged as the '
        "config's test_evaluator merges them, drawn with one colour per instance selector λ.")
    parser.add_argument('image', help='image file')
    parser.add_argument('--config', required=True, help='MIPNet (MMPose) config file')
    parser.add_argument('--checkpoint', help='model weights (default: random weights, '
                        'only useful to check the pipeline)')
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument('--bbox-file', help='detections in the mmdet/COCO results format')
    boxes.add_argument('--det-config', help='MMDetection config for a person detector')
    parser.add_argument('--image-id', help='image_id of this image in --bbox-file')
    parser.add_argument('--ann-file', help='COCO annotation file giving the image_id of this '
                        'image by its file name, when --image-id is not given')
    parser.add_argument('--det-checkpoint', help='MMDetection weights (with --det-config)')
    parser.add_argument('--det-cat-id', type=int, help='person category: the category_id in '
                        f'--bbox-file (default {FILE_PERSON_ID}) or the 0-based label of the '
                        f'mmdet model (default {MMDET_PERSON_LABEL})')
    parser.add_argument('--bbox-thr', type=float, default=0.3,
                        help='least box score (default: 0.3)')
    parser.add_argument('--num-instances', type=int,
                        help='n: poses per box, λ = 0..n-1 (default: the config\'s)')
    parser.add_argument('--nms-thr', type=float,
                        help="OKS threshold of the NMS (default: the config's test_evaluator's; "
                        "no effect when its nms_mode is 'none')")
    parser.add_argument('--kpt-thr', type=float, default=0.3,
                        help='keypoints scored below are not drawn (default: 0.3)')
    parser.add_argument('--out-dir', required=True, help='folder for the PNG and JSON')
    parser.add_argument('--device', help='e.g. cpu or cuda:0 (default: cuda:0 when '
                        'available, else cpu)')
    args = parser.parse_args(argv)
    if args.det_config and not args.det_checkpoint:
        parser.error('--det-config needs --det-checkpoint')
    if args.det_checkpoint and not args.det_config:
        parser.error('--det-checkpoint needs --det-config')
    if (args.image_id is not None or args.ann_file) and not args.bbox_file:
        parser.error('--image-id and --ann-file go with --bbox-file')
    return args


def _need_file(path: Optional[str], what: str) -> None:
    if path is not None and not osp.isfile(path):
        raise DemoError(f'{what} not found: {path}')


def _load_json(path: str, what: str):
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DemoError(f'{what} {path} is not valid JSON: {e}') from e


def image_id_from_ann_file(ann_file: str, image_path: str) -> object:
    """The ``id`` of the COCO ``images`` entry whose file name is the image's.

    Args:
        ann_file (str): COCO-format annotation file.
        image_path (str): The image; only its base name is compared (with the
            base name of each ``file_name``, which may hold a folder).

    Returns:
        The image id (as stored, usually an int).
    """
    name = osp.basename(image_path)
    images = _load_json(ann_file, 'annotation file')
    images = images.get('images', []) if isinstance(images, dict) else []
    for entry in images:
        if osp.basename(str(entry.get('file_name', ''))) == name:
            return entry['id']
    raise DemoError(f'no image named {name} in the "images" of {ann_file}')


def boxes_from_file(bbox_file: str, image_id: object, cat_id: int,
                    bbox_thr: float) -> Tuple[np.ndarray, np.ndarray]:
    """The detections of one image from an mmdet/COCO results file.

    Args:
        bbox_file (str): A JSON list of ``{"image_id", "category_id",
            "bbox": [x, y, w, h], "score"}``.
        image_id: The image's id; compared as text, so ``"785"`` matches 785.
        cat_id (int): Keep entries of this ``category_id`` (entries without
            one are kept).
        bbox_thr (float): Keep entries scoring at least this.

    Returns:
        tuple: ``boxes`` (B, 4) xyxy and ``scores`` (B, ), float64 (as
        stored in the file); B may be 0 when every box of the image scores under the threshold.
    """
    dets = _load_json(bbox_file, 'bbox file')
    if not isinstance(dets, list):
        raise DemoError(f'bbox file {bbox_file} is not a detection results list '
                        '(a JSON list of {"image_id", "bbox", "score", ...})')
    matches = [d for d in dets if str(d.get('image_id')) == str(image_id)
               and d.get('category_id', cat_id) == cat_id]
    if not matches:
        ids = sorted({str(d.get('image_id')) for d in dets})
        shown = ', '.join(ids[:10]) + (', ...' if len(ids) > 10 else '')
        raise DemoError(f'no detections of category {cat_id} for image_id {image_id} in '
                        f'{bbox_file} (its image ids: {shown})')
    kept = [d for d in matches if d.get('score', 1.0) >= bbox_thr]
    boxes = np.array([d['bbox'] for d in kept], dtype=np.float64).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
    scores = np.array([d.get('score', 1.0) for d in kept], dtype=np.float64)
    return boxes, scores


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


def detect_persons(args: argparse.Namespace, device: str) -> Tuple[np.ndarray, np.ndarray]:
    """Run the MMDetection model of ``--det-config`` on the image."""
    from mmdet.apis import inference_detector, init_detector

    detector = init_detector(args.det_config, args.det_checkpoint, device=device)
    label = MMDET_PERSON_LABEL if args.det_cat_id is None else args.det_cat_id
    return boxes_from_detection(inference_detector(detector, args.image), label, args.bbox_thr)


def run(args: argparse.Namespace) -> dict:
    """Boxes, poses, picture and JSON for one image; returns the JSON content."""
    for path, what in ((args.image, 'image'), (args.config, 'config'),
                       (args.checkpoint, 'checkpoint'), (args.bbox_file, 'bbox file'),
                       (args.ann_file, 'annotation file'), (args.det_config, 'detector config'),
                       (args.det_checkpoint, 'detector checkpoint')):
        _need_file(path, what)
    if args.bbox_file and args.image_id is None and not args.ann_file:
        raise DemoError('--bbox-file needs --image-id, or --ann-file to find the image id '
                        'by file name')

    # Heavy imports after the argument checks, so a typo fails fast.
    import mmcv
    import torch
    from mmengine.utils import mkdir_or_exist

    from mipnet_mmpose.apis import (
        config_merge_settings,
        draw_mipnet_result,
        inference_mipnet,
        init_mipnet,
        set_test_time,
    )
    from mipnet_mmpose.datasets.input_checks import UnreadableImageError, check_image_decodes
    from mipnet_mmpose.models.utils.checkpoint_fit import CheckpointMismatchError

    try:
        check_image_decodes(args.image, 'the demo image')
    except UnreadableImageError as e:
        raise DemoError(f'image {args.image} cannot be decoded: {e}') from e

    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    if args.bbox_file:
        image_id = args.image_id
        if image_id is None:
            image_id = image_id_from_ann_file(args.ann_file, args.image)
        cat_id = FILE_PERSON_ID if args.det_cat_id is None else args.det_cat_id
        boxes, scores = boxes_from_file(args.bbox_file, image_id, cat_id, args.bbox_thr)
        box_source = 'bbox_file'
    elif args.det_config:
        boxes, scores = detect_persons(args, device)
        box_source = 'detector'
    else:
        boxes, scores = None, None
        box_source = 'whole_image'
    if boxes is not None and len(boxes) == 0:
        print(f'warning: no person box scores at least --bbox-thr {args.bbox_thr}; '
              'no poses', file=sys.stderr)

    if args.checkpoint is None:
        print('warning: no --checkpoint, the model has random weights', file=sys.stderr)
    try:
        # Strict: every weight must come from the checkpoint (mmpose's init_model warns only).
        model = init_mipnet(args.config, args.checkpoint, device=device)
    except CheckpointMismatchError as e:
        raise DemoError(str(e)) from e
    try:
        if args.num_instances is not None:
            # MultiInstanceTopdownPoseEstimator checks n against its N here.
            set_test_time(model, num_instances=args.num_instances)
        num_instances = int(getattr(model, 'test_num_instances', 1))
    except (ValueError, TypeError) as e:
        raise DemoError(str(e)) from e

    settings = config_merge_settings(model)
    if args.nms_thr is not None:
        settings['nms_thr'] = args.nms_thr
    records = inference_mipnet(model, args.image, boxes, scores, **settings)
    drawn = draw_mipnet_result(model, args.image, records, kpt_thr=args.kpt_thr)

    mkdir_or_exist(args.out_dir)
    stem = osp.splitext(osp.basename(args.image))[0]
    result = dict(image=args.image, num_instances=num_instances, box_source=box_source,
                  poses=records)
    mmcv.imwrite(mmcv.rgb2bgr(drawn), osp.join(args.out_dir, stem + '.png'))
    with open(osp.join(args.out_dir, stem + '.json'), 'w') as f:
        # Strict JSON: a NaN would be written as the non-standard literal NaN.
        json.dump(result, f, allow_nan=False)
    kept = sum(r['kept_after_nms'] for r in records)
    num_boxes = len({r['box_index'] for r in records})
    merged_by = ("nms_mode 'none': no NMS" if settings['nms_mode'] == 'none' else
                 f"{settings['nms_mode']}, thr {settings['nms_thr']}")
    print(f'{num_boxes} boxes x {num_instances} instances -> {kept} poses kept '
          f'({merged_by}); wrote {osp.join(args.out_dir, stem)}.png/.json')
    return result


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except DemoError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
