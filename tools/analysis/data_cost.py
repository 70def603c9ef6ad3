"""Cost of the data side at COCO scale: stock MMPose data sets and pipelines vs ours.

    python tools/analysis/data_cost.py [--persons 153486] [--source crowdpose|coco]
        [--repeats 2] [--workers 8] [--worker-batches 4] [--pipeline-repeats 5]
        [--sections load pipeline] [--clock cpu|wall] [--keep DIR] [--json out.json]

``load``: the loading time and memory (with DataLoader workers) of the stock and the
multi-instance data set on a bundled annotation file replicated to ``--persons``
persons, each load in a fresh process. ``pipeline``: the CPU cost per sample of the
stock and our training and validation pipelines on the real sample images. What is
measured and how: ``tools/mipnet_tools/data_cost.py``.
"""
import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

# tools/ holds the mipnet_tools helpers (``python tools/x.py`` has it on sys.path already).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mipnet_tools import data_cost  # noqa: E402
from mipnet_tools.machine import cpu_name  # noqa: E402


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--source', default='crowdpose', choices=sorted(data_cost.SOURCES),
                        help='the bundled annotation file to replicate (default crowdpose, '
                        'as the issue measured)')
    parser.add_argument('--persons', type=int, default=data_cost.DEFAULT_PERSONS,
                        help='person annotations of the scaled file (default %(default)s)')
    parser.add_argument('--repeats', type=int, default=3,
                        help='loads of each class, each in a fresh process (median)')
    parser.add_argument('--workers', type=int, default=8,
                        help='DataLoader workers of the memory probe (0: none)')
    parser.add_argument('--worker-batches', type=int, default=4,
                        help='batches of 16 samples each worker draws')
    parser.add_argument('--pipeline-repeats', type=int, default=5,
                        help='passes over the sample images per pipeline (median)')
    parser.add_argument('--sections', nargs='+', choices=['load', 'pipeline'],
                        default=['load', 'pipeline'])
    parser.add_argument('--clock', default='cpu', choices=['cpu', 'wall'],
                        help='clock of the targets and pipeline costs (both load clocks '
                        'are always reported)')
    parser.add_argument('--keep', help='write the scaled file here and keep it')
    parser.add_argument('--json', help='write the result to this JSON file')
    parser.add_argument('--probe', help=argparse.SUPPRESS)  # internal: one load subprocess
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    if args.probe:
        print(json.dumps(data_cost.probe_load(json.loads(args.probe))))
        return {}
    from mmengine.registry import init_default_scope

    import mipnet_mmpose  # noqa: F401 (registers the multi-instance data sets)
    init_default_scope('mmpose')
    started = time.perf_counter()
    date = datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
    result = data_cost.measure(args.sections, args.source, args.persons, args.repeats, args.workers,
                     args.worker_batches, args.pipeline_repeats, args.clock, args.keep)
    result['meta'] = dict(
        date=date, machine=f'{cpu_name()}, {os.cpu_count()} cores', clock=args.clock,
        command='python tools/analysis/data_cost.py ' + ' '.join(
            sys.argv[1:] if argv is None else argv),
        wall_s=round(time.perf_counter() - started, 1))
    print(data_cost.format_table(result, args.clock))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == '__main__':
    main()
