"""Check the data and checkpoints a config reads, and write person-detection files (docs/data.md).

    # which files of these configs are missing (data, and the checkpoints it loads:
    # load_from, init_cfg), where each comes from and the command that makes a checkpoint:
    python tools/prepare_data.py check configs/mipnet_hrnet-w32_3xb32-110e_coco-256x192.py
    # person detections of the images of an annotation file, with an mmdet detector:
    python tools/prepare_data.py detect DET_CONFIG DET_CHECKPOINT \\
        --ann-file data/ochuman/annotations/ochuman_coco_format_test_range_0.00_1.00.json \\
        --img-dir data/ochuman/images/ --out data/ochuman/OCHuman_test2017_detections_person.json
"""
import argparse
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', required=True)
    check = sub.add_parser('check', help='name the missing data files and start checkpoints '
                           'of configs, with their sources')
    check.add_argument('configs', nargs='+', help='config files')
    detect = sub.add_parser('detect', help='write a person-detection file (bbox_file)')
    detect.add_argument('det_config', help='mmdet config (a path or mmdet::<path>)')
    detect.add_argument('det_checkpoint', help="its weights ('none': random, to check the path)")
    detect.add_argument('--ann-file', required=True, help='COCO-format annotations: the images')
    detect.add_argument('--img-dir', required=True, help="the folder of the images' file_name")
    detect.add_argument('--out', required=True, help='the detection file to write')
    detect.add_argument('--score-thr', type=float, default=0.0)
    detect.add_argument('--device', default='cpu')
    # Parsed by MMEngine's DictAction in main (no OpenMMLab import before --help answers).
    detect.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='detector config overrides, key=value')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mipnet_tools.startup import quiet_dependency_warnings
    quiet_dependency_warnings()
    if args.command == 'check':
        from mmengine.config import Config

        from mipnet_tools.data_layout import describe_missing, missing_data
        from mipnet_tools.start_checkpoints import config_checkpoints, describe_checkpoints
        configs = [Config.fromfile(path) for path in args.configs]
        missing = missing_data(configs)
        checkpoints, seen = [], set()
        for cfg, path in zip(configs, args.configs):
            for entry in config_checkpoints(cfg, path):
                if entry.path not in seen:
                    seen.add(entry.path)
                    checkpoints.append(entry)
        # A missing start checkpoint stops the run as a missing data file does.
        missing_ckpts = [e for e in checkpoints if not e.alternative and not e.exists]
        if checkpoints:
            print(describe_checkpoints(checkpoints),
                  file=sys.stderr if missing_ckpts else sys.stdout)
        if missing:
            print(describe_missing(missing), file=sys.stderr)
        if missing or missing_ckpts:
            print(f'{len(missing)} data files and {len(missing_ckpts)} checkpoints missing; '
                  'see docs/data.md and docs/reproduce.md ("Data, checkpoints and commands")',
                  file=sys.stderr)
            return 1
        print('all data files of the given configs are there')
        return 0
    from mmengine.config import DictAction

    from mipnet_tools.detection_files import write_person_detections
    options = argparse.ArgumentParser()
    options.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    cfg_options = options.parse_args(['--cfg-options', *args.cfg_options]).cfg_options \
        if args.cfg_options else {}
    checkpoint = None if args.det_checkpoint.lower() == 'none' else args.det_checkpoint
    dets = write_person_detections(args.det_config, checkpoint, args.ann_file, args.img_dir,
                                   args.out, score_thr=args.score_thr, device=args.device,
                                   cfg_options=cfg_options)
    print(f'\nwrote {len(dets)} person boxes to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
