"""MIPNet on every top-down config of MMPose: converted, trained, predicting or refused.

    python tools/analysis/conversion_coverage.py \\
        --out docs/conversion_coverage.md --rows docs/conversion_coverage.json

Per (task, data set, training data, family) of MMPose's installed top-down configs
its first config (smallest input, then by name) is converted as it ships, pointed at
the bundled sample of its data sets, trained one step and run once
(mipnet_tools.coverage.run_coverage). A subset, e.g. ``--tasks body --datasets
body8`` or ``--combined``, replaces only its own rows of ``--rows``; the page is rewritten
from all rows.
"""
import argparse
import shlex
import sys
from pathlib import Path
from typing import List, Optional, Sequence

# tools/ holds the mipnet_tools helpers (``python tools/x.py`` has it on sys.path already).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tasks', nargs='+',
                        help='task folders or their first word (body, wholebody, animal, '
                        'hand, face, fashion); default: all')
    parser.add_argument('--datasets', nargs='+',
                        help="MMPose's data set folders, e.g. coco body8 onehand10k")
    parser.add_argument('--families', nargs='+',
                        help='only these families, as in the table: Backbone/Head/Codec')
    parser.add_argument('--configs', nargs='+', metavar='PATTERN',
                        help="groups with a config whose file name matches, e.g. '*body8*'")
    parser.add_argument('--combined', action='store_true',
                        help='only groups whose training data mix several data sets '
                        '(CombinedDataset: body8, COCO + AIC, cocktail14, hand5, face6, ...)')
    parser.add_argument('--num-instances', type=int, default=2)
    parser.add_argument('--input-scale', type=float, default=1.0,
                        help='scale of every input/heatmap size, e.g. 0.5 for quick checks')
    parser.add_argument('--out', help='rewrite the tables of this markdown page')
    parser.add_argument('--rows',
                        help='JSON rows of earlier runs, updated by this run (the page is '
                        'made from all rows)')
    parser.add_argument('--threads', type=int,
                        help="torch's CPU threads (1 is fastest on a machine others load)")
    parser.add_argument('--render', action='store_true',
                        help='only rewrite --out from --rows, checking nothing')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    from mmengine.registry import init_default_scope

    import mipnet_mmpose  # noqa: F401 (registers the plugin)
    from mipnet_tools.coverage import render_page, run_coverage

    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    init_default_scope('mmpose')
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    command = 'python tools/analysis/conversion_coverage.py ' + shlex.join(argv)
    try:
        if args.render:
            if not (args.rows and args.out):
                raise ValueError('--render needs --rows and --out')
            render_page(args.rows, args.out)
            return []
        return run_coverage(args.tasks, args.datasets, args.families, args.configs,
                            args.combined, args.num_instances, args.input_scale, args.out,
                            args.rows, command=command)
    except ValueError as e:
        raise SystemExit(f'conversion_coverage: {e}')


if __name__ == '__main__':
    main()
