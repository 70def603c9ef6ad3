"""Size, speed and memory of MIPNet against MMPose's stock top-down models.

    python tools/benchmark.py [--quick | --smoke] [--json out.json] [--device auto|cpu|cuda]
                              [--amp] [--threads T] [--clock wall|cpu] [--repeats R]
                              [--models w32 w48 r50] [--batches 8 32] [--sections ...]

Measures, in one process and with the compared variants interleaved inside every
repeat (so that machine noise hits all of them alike), the median of repeated runs of:

1. parameters and FLOPs (mmengine's counter, one box, backbone + head in tensor
   mode) of the stock model and of MIPNet run with N = 1, 2, 3, 4 instances;
2. inference latency at N=2 (flip test off and on) of the stock model, of MIPNet
   with the shared λ-independent trunk and of MIPNet the authors' way (one full
   forward per λ), and of the shared trunk at N=3 and 4;
3. one training step (forward + backward, MSE on heatmaps) of the stock model,
   of MIPNet N=2 with the shared trunk and of the authors' duplicated batch, with
   the peak memory of each measured in a fresh subprocess; with ``--amp`` in mixed
   precision (float16 through mmengine's AmpOptimWrapper on CUDA, bfloat16 autocast on
   the CPU);
4. the test-time tail: OKS-NMS and COCO evaluation per 10,000 poses built by
   jittering the real poses of the bundled COCO sample annotations;
5. the data side (``tools/analysis/data_cost.py``, code in ``mipnet_tools.data_cost``):
   load time and peak memory of the stock and the multi-instance data set on a
   COCO-scale annotation file replicated from the bundled sample (each load in a fresh
   subprocess, also with 8 DataLoader workers), and the CPU cost per sample of the
   stock and our training and validation pipelines on the real sample images. Not in
   --smoke unless asked for with --sections (it has its own test).

It prints a table, marks each target PASS or MISS, and writes everything to
``--json``. See docs/benchmark.md for the latest results.
"""
import argparse
import os
from typing import Optional, Sequence

# The measurements (torch, OpenMMLab) are imported by main, after the arguments are parsed,
# so that --help and argument errors answer at once.
#: The model keys of ``mipnet_tools.models.SPECS`` and the clocks of
#: ``mipnet_tools.timing.CLOCK_KEYS`` (named here for argparse; a test checks them).
MODELS = ['hrformer-s', 'r50', 'rtm-m', 'tiny', 'w32', 'w48']
CLOCKS = ['cpu', 'wall']

PRESETS = {
    # name: models, inference batches, train batch, repeats, warm-up, tail poses
    'full': dict(models=['w32', 'w48', 'r50'], batches=[8, 32], train_batch=32, repeats=3,
                 warmup=1, tail_poses=10_000),
    'quick': dict(models=['w32'], batches=[8], train_batch=8, repeats=2, warmup=1,
                  tail_poses=10_000),
    'smoke': dict(models=['tiny'], batches=[2], train_batch=2, repeats=1, warmup=0,
                  tail_poses=400),
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--quick', action='store_true',
                      help='HRNet-W32 only, batch 8 (inference and training): a few minutes')
    mode.add_argument('--smoke', action='store_true',
                      help='a tiny HRNet, one repeat: checks the machinery (the tests use it)')
    parser.add_argument('--json', help='write the full report to this JSON file')
    parser.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'],
                        help='auto: CUDA when available, else CPU; cuda stops with an error '
                        'when torch sees no CUDA GPU')
    parser.add_argument('--amp', action='store_true',
                        help='run the training step in mixed precision: float16 with '
                        "mmengine's AmpOptimWrapper (dynamic loss scaling) on CUDA, bfloat16 "
                        'autocast on the CPU')
    parser.add_argument('--threads', type=int, default=len(os.sched_getaffinity(0)),
                        help='torch CPU threads (default: the cores this process may use)')
    parser.add_argument('--clock', default='wall', choices=CLOCKS,
                        help='clock of the table and the targets: wall (latency) or cpu '
                        '(process CPU time: on a shared machine, with --threads 1, it '
                        'measures the work and not the neighbours; both are always in the '
                        'JSON)')
    parser.add_argument('--models', nargs='+', choices=MODELS,
                        help='models to measure (default full: w32 w48 r50)')
    parser.add_argument('--batches', nargs='+', type=int, help='inference batch sizes')
    parser.add_argument('--train-batch', type=int, help='training-step batch size')
    parser.add_argument('--train-models', nargs='+', choices=MODELS,
                        help='models whose training step is measured (default: the first '
                        'of --models, i.e. w32)')
    parser.add_argument('--repeats', type=int, help='timed repeats (median is reported)')
    parser.add_argument('--warmup', type=int, help='untimed runs of each case first')
    parser.add_argument('--tail-poses', type=int, help='poses for the NMS/evaluation tail')
    parser.add_argument('--sections', nargs='+',
                        choices=['complexity', 'inference', 'training', 'tail', 'data'],
                        help='default: all (--smoke: all but data)')
    parser.add_argument('--data-persons', type=int,
                        help='person annotations of the data section\'s scaled file '
                        '(default 153486; --smoke 2000)')
    parser.add_argument('--data-source', default='crowdpose', choices=['crowdpose', 'coco'],
                        help='the bundled annotation file the data section replicates')
    parser.add_argument('--probe-memory', help=argparse.SUPPRESS)  # internal: one subprocess
    args = parser.parse_args(argv)
    preset = PRESETS['smoke' if args.smoke else 'quick' if args.quick else 'full']
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.train_models is None:
        args.train_models = args.models[:1]
    if args.sections is None:
        args.sections = ['complexity', 'inference', 'training', 'tail'] + (
            [] if args.smoke else ['data'])
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    from mipnet_tools.startup import quiet_dependency_warnings
    quiet_dependency_warnings()
    from mipnet_tools.benchmark_run import run
    return run(args, argv)


if __name__ == '__main__':
    main()
