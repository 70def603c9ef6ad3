"""Evaluate one checkpoint at several detector-box score thresholds (the paper's Fig. 5).

    python tools/analysis/box_threshold_sweep.py CONFIG CHECKPOINT \
        [--thresholds 0.3 0.5 0.7 0.9] [--num-instances 1 2] [--json out.json] \
        [--work-dir DIR] [--cfg-options ...]

The config's test set must use detector boxes (``test_dataloader.dataset.bbox_file``).
For every threshold the test set keeps the boxes scoring above it (MMPose's
``filter_cfg.bbox_score_thr``), and the model is evaluated with each test-time
number of instances in ``--num-instances``: 1 is the model used as a stock
top-down estimator (λ=0 only), N is MIPNet. Fewer boxes hurt a one-pose-per-box
model more, since MIPNet can still find a person from a neighbour's box.
"""
import argparse
import json
import os.path as osp
from typing import Dict, List, Sequence

from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--thresholds', type=float, nargs='+', default=[0.3, 0.5, 0.7, 0.9])
    parser.add_argument('--num-instances', type=int, nargs='+', default=None,
                        help='test-time N values (default: 1 and the model\'s N)')
    parser.add_argument('--metric', default='coco/AP', help='metric to tabulate')
    parser.add_argument('--work-dir', default='work_dirs/box_threshold_sweep')
    parser.add_argument('--json', help='also write the results to this JSON file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(argv)


def sweep(cfg: Config, checkpoint: str, thresholds: Sequence[float],
          num_instances: Sequence[int], work_dir: str) -> List[Dict]:
    """One row per (threshold, n): number of boxes and all metrics."""
    if not cfg.test_dataloader.dataset.get('bbox_file'):
        raise ValueError(f'{cfg.filename}: test_dataloader.dataset.bbox_file is not set; the '
                         f'sweep filters detector boxes by score')
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    rows = []
    for thr in thresholds:
        for n in num_instances:
            run_cfg = cfg.copy()
            run_cfg.work_dir = osp.join(work_dir, f'thr{thr:g}_n{n}')
            run_cfg.load_from = checkpoint
            run_cfg.test_dataloader.dataset.filter_cfg = dict(bbox_score_thr=thr)
            run_cfg.default_hooks.multi_instance_test.num_instances = n
            # Pictures are not needed for a sweep.
            run_cfg.custom_hooks = [h for h in run_cfg.get('custom_hooks', [])
                                    if h['type'] != 'MultiInstanceVisualizationHook']
            runner = Runner.from_cfg(run_cfg)
            metrics = runner.test()
            rows.append(dict(bbox_score_thr=thr, num_instances=n,
                             num_boxes=len(runner.test_dataloader.dataset),
                             metrics={k: float(v) for k, v in metrics.items()}))
    return rows


def format_table(rows: List[Dict], metric: str) -> str:
    ns = sorted({r['num_instances'] for r in rows})
    lines = [f'{"box thr":>8} {"boxes":>6} ' + ' '.join(f'{metric + " n=" + str(n):>14}'
                                                       for n in ns)]
    for thr in sorted({r['bbox_score_thr'] for r in rows}):
        at_thr = {r['num_instances']: r for r in rows if r['bbox_score_thr'] == thr}
        boxes = next(iter(at_thr.values()))['num_boxes']
        lines.append(f'{thr:>8.2f} {boxes:>6} ' + ' '.join(
            f'{at_thr[n]["metrics"].get(metric, float("nan")):>14.4f}' for n in ns))
    return '\n'.join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    model_n = cfg.model.get('num_instances', 1)
    num_instances = args.num_instances or sorted({1, model_n})
    rows = sweep(cfg, args.checkpoint, args.thresholds, num_instances, args.work_dir)
    print(format_table(rows, args.metric))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(config=args.config, checkpoint=args.checkpoint, rows=rows), f,
                      indent=2)


if __name__ == '__main__':
    main()
