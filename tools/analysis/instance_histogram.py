"""Histogram of the other persons inside each GT person box (MIPNet Fig. 4).

    python tools/analysis/instance_histogram.py ANN_FILE \
        [--min-keypoints 3] [--json] [--plot hist.png]
"""
import argparse
import json
import sys
from pathlib import Path

# tools/ holds the mipnet_tools helpers (``python tools/x.py`` has it on sys.path already).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mipnet_tools.instance_histogram import (  # noqa: E402
    format_histogram,
    instance_histogram,
    plot_histogram,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='For every non-crowd GT person with a labelled keypoint, '
        'count the other non-crowd GT persons with at least K labelled '
        'keypoints inside its GT box; print the 0/1/2/3+ histogram.')
    parser.add_argument('ann_file', help='COCO-style keypoint annotation file')
    parser.add_argument(
        '--min-keypoints',
        type=int,
        default=3,
        help='least labelled keypoints inside the box for another person to '
        'count (default: 3, as the paper)')
    parser.add_argument(
        '--json', action='store_true', help='print the result as JSON')
    parser.add_argument('--plot', help='also draw a bar chart to this file')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        result = instance_histogram(args.ann_file, args.min_keypoints)
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else format_histogram(result))
    if args.plot:
        plot_histogram(result, args.plot)
    return 0


if __name__ == '__main__':
    sys.exit(main())
