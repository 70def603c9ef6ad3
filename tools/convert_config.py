"""Write the MIPNet version of a stock MMPose top-down config.

    python tools/convert_config.py \\
        mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py \\
        configs/mipnet_rtmpose-m_8xb256-420e_coco-256x192.py [--num-instances 2]

The output is a short config over the stock one (``_base_``): the estimator with N,
the instance slots in every training pipeline, the multi-instance codec, data sets,
metric and hooks (see ``mipnet_mmpose.convert_config``). Read it, edit it, train it
with ``mim train mmpose OUT_CONFIG``. Its last line stamps it with the sha256 of the other
lines: the tool rewrites OUT_CONFIG only while they are unchanged (an edited config is kept
unless ``--force``), and never writes over a file it did not write.

``--data-root DIR`` points it at a COCO-format data set of your own (laid out as COCO
unless ``--train-ann``/``--train-img``/``--val-ann``/``--val-img`` say otherwise; GT boxes
for validation unless ``--val-bbox-file``): see docs/own_data.md.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

#: The tool named in the header and the stamp of every file it writes.
TOOL = 'tools/convert_config.py'
#: The data-layout options (the keys of ``mipnet_mmpose.conversion.COCO_LAYOUT``, which
#: owns their defaults and fills them in ``main``), with the COCO default each help shows:
#: named here so that ``--help`` answers without importing the plugin (a test checks both).
DATA_OPTIONS = {'train_ann_file': 'annotations/person_keypoints_train2017.json',
                'train_img_dir': 'train2017/',
                'val_ann_file': 'annotations/person_keypoints_val2017.json',
                'val_img_dir': 'val2017/'}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('stock_config', help='a stock top-down config file or mmpose::<path>')
    parser.add_argument('out_config', help='where to write the MIPNet config')
    parser.add_argument('--num-instances', type=int, default=2,
                        help='N, poses per box (default: %(default)s)')
    parser.add_argument('--force', action='store_true',
                        help='overwrite out_config even when it was edited since this tool '
                        'wrote it, or was not written by it (never the stock config)')
    parser.add_argument('--lambda-encoding', choices=['one_hot', 'binary'],
                        help="λ code; default: the package's rule, "
                        "mipnet_mmpose.models.default_lambda_encoding(N): 'binary' for N = 3, 4 "
                        "(the authors' N=3/N=4 models), else 'one_hot'")
    data = parser.add_argument_group(
        'data', 'a COCO-format data set of your own (paths below --data-root, as MMPose)')
    data.add_argument('--data-root', help='the data set folder; sets every data set and metric')
    for name, default in DATA_OPTIONS.items():
        data.add_argument('--' + name.replace('_file', '').replace('_dir', '').replace('_', '-'),
                          dest=name, default=None, help=f'default: {default}')
    data.add_argument('--val-bbox-file', default=None,
                      help='detections for validation/test (default: GT boxes)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mipnet_tools.startup import quiet_dependency_warnings
    quiet_dependency_warnings()
    from mmengine.config import Config

    from mipnet_mmpose.conversion import (
        COCO_LAYOUT,
        ConversionError,
        base_reference,
        converted_config_text,
        resolve_config_path,
    )
    from mipnet_mmpose.utils.output_paths import (
        OutputPathError,
        check_output,
        stamp_text,
        text_owner,
    )
    source = args.stock_config
    try:
        stock = Config.fromfile(resolve_config_path(source))
    except FileNotFoundError as e:
        print(f'error: stock {e}', file=sys.stderr)
        return 1
    except Exception as e:  # mmengine's parsing errors: one line, not a traceback
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        print(f'error: mmengine cannot load the stock config {source}: {first}',
              file=sys.stderr)
        return 1
    try:
        # Never over the stock config, nor over a file that is not an unedited
        # earlier output of this tool (unless --force).
        check_output(args.out_config, [stock.filename], text_owner(TOOL), what='out_config',
                     input_what='stock config', force=args.force, overwrite='pass --force')
    except OutputPathError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    header = (f'# MIPNet (N={args.num_instances}) version of {base_reference(stock.filename)},\n'
              f'# written by {TOOL}: the stock config plus what MIPNet changes.')
    try:
        data = None
        if args.data_root:
            data = dict(data_root=args.data_root, val_bbox_file=args.val_bbox_file,
                        **{name: getattr(args, name) or default
                           for name, default in COCO_LAYOUT.items()})
        text = converted_config_text(stock, args.num_instances, args.lambda_encoding,
                                     base=base_reference(stock.filename),
                                     header=header, data=data)
    except (ConversionError, ValueError) as e:
        print(f'error: {source} cannot be converted: {e}', file=sys.stderr)
        return 1
    os.makedirs(osp.dirname(osp.abspath(args.out_config)), exist_ok=True)
    with open(args.out_config, 'w') as f:
        f.write(stamp_text(text, TOOL))
    print(f'wrote {args.out_config}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
