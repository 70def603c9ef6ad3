"""MIPNet demo: every (box, λ) pose of an image, folder, video or webcam, merged as the metric.

    python tools/demo.py INPUT --config CONFIG [--checkpoint WEIGHTS] --out-dir DIR
        [--bbox-file DETS.json [--image-id ID | --ann-file ANN.json]
         | --det-config DET_CONFIG --det-checkpoint DET_WEIGHTS]
        [--det-cat-id C] [--bbox-thr THR] [--det-nms-thr THR] [--num-instances n]
        [--nms-thr THR] [--kpt-thr THR] [--max-frames F] [--show] [--device cpu]

A command line over :class:`mipnet_mmpose.apis.MIPNetInferencer` (MMPose's
inferencer with the metric's merge): INPUT is an image, a folder of images, a
video or a webcam (``webcam``, ``webcam:0`` or ``0``); boxes come from
``--bbox-file`` (:class:`mipnet_mmpose.apis.DetectionFileBoxes`), else the
``--det-config`` detector, else the whole image. Outputs are the inferencer's
(MMPose's layout): ``DIR/visualizations/<image or video file name>`` and
``DIR/predictions/<stem>.json`` (an image's pose records; a video's
``[{"frame_id", "instances"}]``). See docs/demo.md.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

#: Category of a person: ``category_id`` in a COCO-format detection file, mmdet's 0-based label.
FILE_PERSON_ID, MMDET_PERSON_LABEL = 1, 0


class DemoError(Exception):
    """A user error the CLI reports as one line."""


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add('input', help='image, folder of images, video file, or webcam (webcam, webcam:0, 0)')
    add('--config', required=True, help='MIPNet (MMPose) config file')
    add('--checkpoint', help='model weights (default: random weights, to check the pipeline)')
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument('--bbox-file', help='detections in the mmdet/COCO results format')
    boxes.add_argument('--det-config', help='MMDetection config of a person detector')
    add('--image-id', help="this image's image_id in --bbox-file (not needed when the file "
        "holds one image's detections)")
    add('--ann-file', help='COCO annotation file giving the image_id of each image by name')
    add('--det-checkpoint', help='MMDetection weights (with --det-config)')
    add('--det-cat-id', type=int, help=f'person category: category_id in --bbox-file (default '
        f'{FILE_PERSON_ID}) or the detector\'s 0-based label (default {MMDET_PERSON_LABEL})')
    add('--bbox-thr', type=float, help="least box score (default: the config's test "
        'filter_cfg.bbox_score_thr, else 0.3)')
    add('--det-nms-thr', type=float, default=0.3, help="IoU NMS of the detector's boxes")
    add('--num-instances', type=int, help="n: poses per box, λ = 0..n-1 (default: the config's)")
    add('--nms-thr', type=float, help="OKS threshold of the pose NMS (default: the config's "
        "test_evaluator's; no effect when its nms_mode is 'none')")
    add('--kpt-thr', type=float, help="keypoints scored below are not drawn (default: the "
        "config's picture hook threshold, else 0.3)")
    add('--max-frames', type=int, help='stop after this many frames of a video or webcam')
    add('--show', action='store_true', help='show each drawn picture in a window')
    add('--out-dir', required=True, help='folder for visualizations/ and predictions/')
    add('--device', help='e.g. cpu or cuda:0 (default: cuda:0 when available, else cpu)')
    args = parser.parse_args(argv)
    if bool(args.det_config) != bool(args.det_checkpoint):
        parser.error('--det-config and --det-checkpoint go together')
    if (args.image_id is not None or args.ann_file) and not args.bbox_file:
        parser.error('--image-id and --ann-file go with --bbox-file')
    if args.max_frames is not None and args.max_frames < 1:
        parser.error('--max-frames must be at least 1')
    return args


def webcam_index(text: str) -> Optional[int]:
    """The camera index of ``'0'``, ``'webcam'`` or ``'webcam:0'``, else None."""
    index = text.lower().removeprefix('webcam').removeprefix(':') or '0'
    return int(index) if index.isdigit() and not osp.exists(text) else None


def run(args: argparse.Namespace) -> list:
    """Run the inferencer over the input; returns its result of each image or frame."""
    from mipnet_mmpose.conversion import resolve_config_path
    try:  # MMPose's installed configs by `mmpose::<path>`, as in `_base_`
        args.config = resolve_config_path(args.config)
    except FileNotFoundError as error:
        raise DemoError(str(error)) from None
    for path, what in ((args.checkpoint, 'checkpoint'),
                       (args.bbox_file, 'bbox file'), (args.ann_file, 'annotation file'),
                       (args.det_config, 'detector config'),
                       (args.det_checkpoint, 'detector checkpoint')):
        if path is not None and not osp.isfile(path):
            raise DemoError(f'{what} not found: {path}')
    camera = webcam_index(args.input)
    if camera is None and not osp.exists(args.input):
        raise DemoError(f'input not found: {args.input} (give an image, a folder of images, '
                        'a video file or a webcam index)')
    from mipnet_mmpose.apis import DetectionFileBoxes, MIPNetInferencer
    from mipnet_mmpose.utils.output_paths import check_out_dir
    check_out_dir(args.out_dir)
    # Read before the model is built, so a bad file fails fast.
    boxes = DetectionFileBoxes(args.bbox_file, args.image_id, args.ann_file, FILE_PERSON_ID
                               if args.det_cat_id is None else args.det_cat_id) \
        if args.bbox_file else None
    # Without --checkpoint, MMPose's inferencer warns that the weights are random.
    inferencer = MIPNetInferencer(
        args.config, args.checkpoint, device=args.device,
        det_model=args.det_config or 'whole_image', det_weights=args.det_checkpoint,
        det_cat_ids=MMDET_PERSON_LABEL if args.det_cat_id is None else args.det_cat_id,
        num_instances=args.num_instances, show_progress=True)
    results = list(inferencer(
        args.input if camera is None else f'webcam:{camera}', bboxes=boxes,
        bbox_thr=args.bbox_thr, nms_thr=args.det_nms_thr, pose_nms_thr=args.nms_thr,
        kpt_thr=args.kpt_thr, max_frames=args.max_frames, show=args.show,
        out_dir=args.out_dir))
    print(f'wrote {osp.join(args.out_dir, "visualizations")} and '
          f'{osp.join(args.out_dir, "predictions")}')
    return results


def _raised_by_the_package(error: BaseException) -> bool:
    """Whether the package's own input checks raised ``error`` (not a bug elsewhere)."""
    import mipnet_mmpose
    package = osp.dirname(mipnet_mmpose.__file__)
    trace, last = error.__traceback__, ''
    while trace is not None:
        last, trace = trace.tb_frame.f_code.co_filename, trace.tb_next
    return type(error).__module__.startswith('mipnet_mmpose') or last.startswith(package)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mipnet_tools.startup import quiet_dependency_warnings
    quiet_dependency_warnings()
    try:
        run(args)
    except (DemoError, ValueError, RuntimeError, OSError) as e:
        # Our input errors name the file or field; anything else is a bug: traceback.
        if not (isinstance(e, DemoError) or _raised_by_the_package(e)):
            raise
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
