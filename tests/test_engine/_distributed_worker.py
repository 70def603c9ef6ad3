"""One process of ``test_distributed.py``: the sample config under DDP on CPU, or a plain val.

Started by the test as a script (pytest does not collect it: its name does not
match ``test_*.py``). Two modes:

- ``train`` (``WORLD_SIZE=2``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``,
  ``MASTER_PORT`` set as ``torchrun`` sets them): initialises a gloo process
  group itself, then trains one epoch of the sample config wrapped in
  ``MMDistributedDataParallel(find_unused_parameters=False)`` and validates it
  on the OCHuman sample, split over the two ranks.
- ``val`` (no process group): validates a checkpoint in one process.

After the model's validation both modes also evaluate known poses (the val
set's ground truth, see :func:`evaluate_known_poses`) through the runner's
evaluator: a model trained for one epoch scores AP 0, which would not show a
box lost between the ranks, while known poses score AP 1 only if every box of
every rank reaches the metric. Each process writes what the test checks to
``<out>/<mode>_rank<r>.pt``.

Why the process group is initialised here rather than by mmengine: with
``launcher='pytorch'`` mmengine's ``init_dist`` calls ``torch.cuda.set_device``
and cannot start on a CPU-only machine, but ``Runner.setup_env`` only calls it
when no process group exists yet (``mmengine.dist.is_distributed()``). With the
group already up, ``launcher='pytorch'`` still makes the runner distributed:
the model is wrapped in DDP, samplers split the data by rank and the metric
collects results across ranks, exactly as under ``mim train --launcher pytorch``.
"""
import argparse
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.fileio import load
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / 'data' / 'sample'
SAMPLE_CONFIG = REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-mini-128x96.py'


class DistributedProbe(Hook):
    """Records what the test compares across ranks: weights, first gradients, val output.

    Args:
        out_file (Path): Where :meth:`save` writes the record.
    """

    # after every other hook, so the weights seen after training are final and
    # the metrics are those the runner logged
    priority = 'LOWEST'

    def __init__(self, out_file: Path) -> None:
        self.out_file = out_file
        self.record: Dict[str, Any] = dict(val_samples=0)
        self._step_hook = None

    @staticmethod
    def _module(runner) -> torch.nn.Module:
        return runner.model.module if is_model_wrapper(runner.model) else runner.model

    def before_train(self, runner) -> None:
        model = self._module(runner)
        self.record.update(
            wrapper=type(runner.model).__name__,
            find_unused_parameters=getattr(runner.model, 'find_unused_parameters', None),
            world_size=runner.world_size,
            initial={k: p.detach().clone() for k, p in model.named_parameters()})
        names = {id(p): k for k, p in model.named_parameters()}

        def first_step_grads(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
            # A pre-step hook sees the gradients after DDP's all-reduce and
            # before the optimizer wrapper zeroes them (set_to_none) again.
            params = [p for group in optimizer.param_groups for p in group['params']]
            self.record['optimized'] = sorted(names[id(p)] for p in params)
            self.record['first_grads'] = {
                names[id(p)]: (None if p.grad is None else p.grad.detach().clone())
                for p in params}
            self._step_hook.remove()

        optimizer = runner.optim_wrapper.optimizer
        self._step_hook = optimizer.register_step_pre_hook(first_step_grads)

    def after_train(self, runner) -> None:
        model = self._module(runner)
        self.record['final'] = {k: p.detach().clone() for k, p in model.named_parameters()}
        self.record['buffers'] = {k: b.detach().clone() for k, b in model.named_buffers()}
        self.record['iters'] = runner.iter

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        # how many boxes this rank predicted: the sampler must split them
        self.record['val_samples'] += len(outputs)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        # Every rank receives the metrics (broadcast from rank 0); only rank 0
        # ran compute_metrics, so only its lambda statistics are filled.
        self.record['metrics'] = dict(metrics or {})
        metric = runner.val_evaluator.metrics[0]
        self.record['lambda_stats'] = metric.last_lambda_stats
        if runner.rank == 0:
            # read now: the known-pose evaluation overwrites the dump
            self.record['dumped'] = load(f'{metric.outfile_prefix}.keypoints.json')

    def save(self) -> None:
        torch.save(self.record, self.out_file)


def _known_pose_sample(info: dict) -> dict:
    """One box's output as the evaluator hands it to the metric, with known poses.

    λ=0 is the box's ground-truth pose (unlabelled joints at the labelled ones'
    mean, score 0), λ=1 the same pose 40 px to the right with the decayed box
    score, so it ranks below every true pose: AP and AR are 1 exactly when
    every box's λ=0 pose reaches the metric.

    Args:
        info (dict): ``dataset.get_data_info(i)`` of a top-down val dataset.

    Returns:
        dict: ``id``, ``img_id``, ``gt_instances`` and ``pred_instances``.
    """
    xy = np.asarray(info['keypoints'][0], dtype=np.float32)
    labelled = np.asarray(info['keypoints_visible'][0]) > 0
    xy[~labelled] = xy[labelled].mean(axis=0)
    box = np.asarray(info['bbox'], dtype=np.float32).reshape(1, 4)  # xyxy
    scores = labelled.astype(np.float32)
    return dict(
        id=info['id'],
        img_id=info['img_id'],
        category_id=1,
        gt_instances=dict(bboxes=box, bbox_scores=np.ones(1, np.float32),
                          # TopdownAffine's padded box, whose area OKS uses
                          bbox_scales=(box[:, 2:] - box[:, :2]) * 1.25),
        pred_instances=dict(
            keypoints=np.stack([xy, xy + np.float32([40, 0])]),
            keypoint_scores=np.stack([scores, scores]),
            bboxes=np.repeat(box, 2, axis=0),
            bbox_scores=np.float32([1.0, 0.5]),
            lambdas=np.arange(2)))


def evaluate_known_poses(runner: Runner) -> dict:
    """Evaluate known poses of this rank's val boxes with the runner's evaluator.

    The boxes are those the runner's val sampler gives this rank; the
    evaluator collects them across ranks as after a val epoch.

    Args:
        runner (Runner): A runner whose val loop has run (dataset meta set).

    Returns:
        dict: ``metrics`` (on every rank) and ``lambda_stats`` (filled on
        rank 0 only) of the metric.
    """
    dataset = runner.val_dataloader.dataset
    mine = [_known_pose_sample(dataset.get_data_info(i)) for i in runner.val_dataloader.sampler]
    evaluator = runner.val_evaluator
    for start in range(0, len(mine), 2):
        evaluator.process(data_samples=mine[start:start + 2])
    metrics = evaluator.evaluate(len(dataset))
    return dict(metrics=metrics, lambda_stats=evaluator.metrics[0].last_lambda_stats)


def sample_cfg(work_dir: Path, outfile_prefix: Path) -> Config:
    """The sample config, shortened to one epoch, with the metric's JSON kept.

    Args:
        work_dir (Path): The runner's work dir (shared by the ranks, as with mim).
        outfile_prefix (Path): Where the metric dumps its ``.keypoints.json``.

    Returns:
        Config: The config to build the runner from.
    """
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = str(SAMPLE)
    cfg.val_dataloader.dataset.data_root = str(SAMPLE)
    cfg.val_evaluator.ann_file = str(SAMPLE / 'ochuman' / 'test_ochuman.json')
    cfg.val_evaluator.outfile_prefix = str(outfile_prefix)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.checkpoint.update(interval=1, save_best=None)
    cfg.default_hooks.logger.interval = 1
    cfg.custom_hooks = [dict(type='SyncBuffersHook'), dict(type='MultiInstanceTestHook'),
                        dict(type='MultiInstanceVisualizationHook', out_dir='pictures')]
    return cfg


def drawn_poses(runner: Runner) -> dict:
    """Poses per image that the picture hook drew in the last val run (rank 0 only)."""
    (hook, ) = [h for h in runner.hooks if type(h).__name__ == 'MultiInstanceVisualizationHook']
    return dict(hook.last_drawn)


def train(out: Path, work_dir: Path) -> None:
    """Train one epoch and validate under DDP; see the module docstring."""
    rank = int(os.environ['RANK'])
    torch_dist.init_process_group('gloo', timeout=timedelta(seconds=120))
    try:
        cfg = sample_cfg(work_dir, out / 'dist')
        cfg.launcher = 'pytorch'
        cfg.env_cfg.dist_cfg = dict(backend='gloo')
        # mmengine's default wrapper passes device_ids=[LOCAL_RANK], which DDP
        # rejects for a CPU module; device_ids=None is how DDP runs on CPU. The
        # rest is mmengine's default (no buffer broadcast; SyncBuffersHook
        # averages buffers per epoch). find_unused_parameters=False makes DDP
        # raise at the next iteration if any parameter got no gradient.
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None,
                                     broadcast_buffers=False, find_unused_parameters=False)
        runner = Runner.from_cfg(cfg)
        probe = DistributedProbe(out / f'train_rank{rank}.pt')
        runner.register_hook(probe)
        runner.train()
        probe.record['drawn'] = drawn_poses(runner)
        probe.record['known'] = evaluate_known_poses(runner)
        probe.save()
        torch_dist.barrier()  # no rank leaves while another still reads the group
    finally:
        torch_dist.destroy_process_group()


def val(out: Path, work_dir: Path, checkpoint: str) -> None:
    """Validate ``checkpoint`` in this one process."""
    cfg = sample_cfg(work_dir, out / 'single')
    cfg.load_from = checkpoint
    runner = Runner.from_cfg(cfg)
    probe = DistributedProbe(out / 'val_rank0.pt')
    runner.register_hook(probe)
    runner.val()
    probe.record['drawn'] = drawn_poses(runner)
    probe.record['known'] = evaluate_known_poses(runner)
    probe.save()


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('mode', choices=['train', 'val'])
    parser.add_argument('--out', type=Path, required=True)
    parser.add_argument('--work-dir', type=Path, required=True)
    parser.add_argument('--checkpoint', help='weights to validate (val mode)')
    args = parser.parse_args(argv)
    # The ranks share the machine's cores: one thread each, no oversubscription.
    torch.set_num_threads(1)
    if args.mode == 'train':
        train(args.out, args.work_dir)
    else:
        val(args.out, args.work_dir, args.checkpoint)


if __name__ == '__main__':
    main(sys.argv[1:])
