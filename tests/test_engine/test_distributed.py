"""Distributed training and validation of the sample config, two CPU processes.

mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and cannot start
without a GPU, so the test starts the two ranks itself (``_distributed_worker.py``,
the variables ``torchrun`` would set, a gloo process group) and the runner,
finding the group up, only wraps the model in ``MMDistributedDataParallel`` with
``find_unused_parameters=False``: a parameter without a gradient makes DDP raise
at the next iteration. The trained weights are then validated by the two ranks
and by one process, which must agree.
"""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
import torch

from tests.conftest import REPO

WORKER = Path(__file__).with_name('_distributed_worker.py')
WORLD_SIZE = 2
TIMEOUT_S = 300  # a generous bound: the whole run takes about 40 s on 2 cores


def _free_port() -> int:
    """A TCP port nothing listens on now, for the rendezvous of the ranks."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _run_workers(mode: str, world_size: int, logs: Path, *args: str) -> None:
    """Run ``world_size`` worker processes to the end; fail with their logs shown.

    If one rank fails the others would wait in a collective until the gloo
    timeout, so they are stopped as soon as any rank exits with an error.
    """
    base_env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get('PYTHONPATH', '')]),
        # the ranks share the cores; and a CPU run even where a GPU is present
        OMP_NUM_THREADS='1', MKL_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    if world_size > 1:
        base_env.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(_free_port()),
                        WORLD_SIZE=str(world_size))
    procs: List[subprocess.Popen] = []
    log_files = [logs / f'{mode}_rank{rank}.log' for rank in range(world_size)]
    for rank, log_file in enumerate(log_files):
        env = dict(base_env)
        if world_size > 1:
            env.update(RANK=str(rank), LOCAL_RANK=str(rank))
        with open(log_file, 'w') as log:
            procs.append(subprocess.Popen(
                [sys.executable, str(WORKER), mode, *args], cwd=REPO, env=env,
                stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while any(p.poll() is None for p in procs):
            failed = any(p.returncode not in (None, 0) for p in procs)
            if failed or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    if any(p.returncode != 0 for p in procs):
        report = '\n'.join(
            f'--- rank {rank} (exit code {proc.returncode}) ---\n'
            f'{log_file.read_text()[-8000:]}'
            for rank, (proc, log_file) in enumerate(zip(procs, log_files)))
        pytest.fail(f'{mode} worker(s) failed or timed out after {TIMEOUT_S} s:\n{report}',
                    pytrace=False)


@pytest.fixture(scope='module')
def records(tmp_path_factory) -> Dict[str, dict]:
    """Train one epoch on 2 ranks (then validate there) and validate the
    resulting checkpoint in 1 process; the workers' records by name."""
    root = tmp_path_factory.mktemp('distributed')
    out = root / 'out'
    out.mkdir()
    train_dir = root / 'train'
    _run_workers('train', WORLD_SIZE, root, '--out', str(out), '--work-dir', str(train_dir))
    _run_workers('val', 1, root, '--out', str(out), '--work-dir', str(root / 'val'),
                 '--checkpoint', str(train_dir / 'epoch_1.pth'))
    names = [f'train_rank{rank}' for rank in range(WORLD_SIZE)] + ['val_rank0']
    # our own records (numpy scalars, JSON lists): not a weights-only load
    return {name: torch.load(out / f'{name}.pt', map_location='cpu', weights_only=False)
            for name in names}


def _assert_same_tensors(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    different = [name for name in a if not torch.equal(a[name], b[name])]
    assert not different, f'differ between the ranks: {different}'


def test_ddp_training_gives_every_parameter_a_gradient_and_keeps_ranks_identical(records):
    rank0, rank1 = records['train_rank0'], records['train_rank1']
    for rec in (rank0, rank1):
        assert rec['wrapper'] == 'MMDistributedDataParallel'
        assert rec['find_unused_parameters'] is False
        assert rec['world_size'] == WORLD_SIZE
        # 86 train boxes, 43 per rank in batches of 8: 6 iterations each;
        # DDP's check runs at iterations 2 to 6 and would have raised
        assert rec['iters'] == 6
        # every parameter is optimised and got a gradient in the first step
        assert rec['optimized'] == sorted(rec['initial'])
        missing = [name for name, grad in rec['first_grads'].items() if grad is None]
        assert not missing, f'no gradient for {missing}'
        assert any(name.startswith('backbone.mimb_') for name in rec['first_grads'])

    # The ranks saw different boxes, yet DDP's all-reduce gave them the same
    # gradients, hence the same weights (buffers: SyncBuffersHook's average).
    _assert_same_tensors(rank0['first_grads'], rank1['first_grads'])
    _assert_same_tensors(rank0['initial'], rank1['initial'])
    _assert_same_tensors(rank0['final'], rank1['final'])
    _assert_same_tensors(rank0['buffers'], rank1['buffers'])
    unchanged = [name for name, value in rank0['final'].items()
                 if torch.equal(value, rank0['initial'][name])]
    assert not unchanged, f'not trained: {unchanged}'


def test_distributed_validation_equals_one_process(records):
    rank0, rank1, single = records['train_rank0'], records['train_rank1'], records['val_rank0']
    # DefaultSampler(round_up=False) splits the 5 OCHuman boxes 3 + 2, no padding
    assert (rank0['val_samples'], rank1['val_samples'], single['val_samples']) == (3, 2, 5)

    # The model's predictions: the metrics broadcast to both ranks equal the
    # single process's (an epoch of training scores AP 0 on this sample, so
    # the dumped poses are compared too: all 5 boxes, gathered, same values).
    assert rank0['metrics'] == rank1['metrics'] == single['metrics']
    assert {'coco/AP', 'coco/AR'} <= single['metrics'].keys()
    assert rank0['lambda_stats'] == single['lambda_stats']
    assert single['lambda_stats']['produced'] == {0: 5, 1: 5}
    # compute_metrics ran on rank 0 only
    assert rank1['lambda_stats'] == {'produced': {}, 'kept_after_nms': {}}
    # Pictures: rank 0 draws every image with the boxes of both ranks, rank 1 none.
    assert rank0['drawn'] == single['drawn'] == {'003799.jpg': 2, '000817.jpg': 4,
                                                 '003896.jpg': 4}
    assert rank1['drawn'] == {}

    def key(pose: dict) -> tuple:
        return pose['image_id'], pose['lambda'], -pose['score']

    dist_poses, single_poses = sorted(rank0['dumped'], key=key), sorted(single['dumped'], key=key)
    assert [key(p)[:2] for p in dist_poses] == [key(p)[:2] for p in single_poses]
    for ours, theirs in zip(dist_poses, single_poses):
        # the ranks ran other batch sizes: allow float noise
        assert ours['keypoints'] == pytest.approx(theirs['keypoints'], rel=1e-5, abs=1e-3)
        assert ours['score'] == pytest.approx(theirs['score'], rel=1e-5)

    # Known poses: AP 1 only if every rank's boxes reached compute_metrics.
    known = [rec['known'] for rec in (rank0, rank1, single)]
    assert known[0]['metrics'] == known[1]['metrics'] == known[2]['metrics']
    assert known[2]['metrics']['coco/AP'] == pytest.approx(1.0)
    assert known[2]['metrics']['coco/AR'] == pytest.approx(1.0)
    assert known[0]['lambda_stats'] == known[2]['lambda_stats']
    assert known[2]['lambda_stats']['produced'] == {0: 5, 1: 5}
