"""Interrupted training resumes exactly from its last checkpoint."""
import copy
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmpose.registry import HOOKS

from mipnet_mmpose.engine import load_checkpoint_file
from tests.conftest import REPO, SAMPLE, SAMPLE_CONFIG, run_mim

_RESUMED_STATE = {}
_LOSSES = {}


@HOOKS.register_module(force=True)
class _RecordStateAtTrainStart(Hook):
    """Keeps what the runner holds when training (re)starts, after resuming."""

    def before_train(self, runner) -> None:
        _RESUMED_STATE.update(
            iter=runner.iter, epoch=runner.epoch,
            model={k: v.clone() for k, v in runner.model.state_dict().items()},
            optimizer=copy.deepcopy(runner.optim_wrapper.state_dict()),
            schedulers=copy.deepcopy([s.state_dict() for s in runner.param_schedulers]))


@HOOKS.register_module(force=True)
class _RecordLossPerIteration(Hook):
    """Keeps the loss the logger logs, by (epoch, iteration), in ``_LOSSES[run]``."""

    def __init__(self, run: str) -> None:
        self.run = run

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        _LOSSES.setdefault(self.run, {})[(runner.epoch, runner.iter)] = outputs['loss'].item()


def _sample_cfg(work_dir: Path, max_epochs: int) -> Config:
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = str(SAMPLE)
    cfg.train_cfg.max_epochs = max_epochs
    cfg.train_cfg.val_interval = 100  # no validation in this test
    cfg.default_hooks.checkpoint.update(interval=1, save_best=None, max_keep_ckpts=-1)
    cfg.default_hooks.logger.interval = 100
    cfg.custom_hooks = [dict(type='SyncBuffersHook')]
    return cfg


# Checkpoints written, resumed and loaded: CI runs the tests marked new_torch on the newest
# torch too (the killed-run test below resumes through the same Runner.resume, and takes
# minutes).
@pytest.mark.new_torch
def test_resume_restores_weights_optimizer_schedule_and_iteration_exactly(tmp_path):
    Runner.from_cfg(_sample_cfg(tmp_path, max_epochs=1)).train()
    saved = load_checkpoint_file(tmp_path / 'epoch_1.pth')
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')

    cfg = _sample_cfg(tmp_path, max_epochs=2)
    cfg.resume = True
    cfg.custom_hooks.append(dict(type='_RecordStateAtTrainStart'))
    Runner.from_cfg(cfg).train()

    assert (_RESUMED_STATE['iter'], _RESUMED_STATE['epoch']) == (saved['meta']['iter'],
                                                                 saved['meta']['epoch']) == (11, 1)
    for key, value in saved['state_dict'].items():
        torch.testing.assert_close(_RESUMED_STATE['model'][key], value, rtol=0, atol=0)
    opt_saved, opt_resumed = saved['optimizer'], _RESUMED_STATE['optimizer']
    assert opt_resumed['param_groups'] == opt_saved['param_groups']
    for idx, state in opt_saved['state'].items():
        for name, tensor in state.items():
            torch.testing.assert_close(opt_resumed['state'][idx][name], tensor, rtol=0, atol=0)
    assert _RESUMED_STATE['schedulers'] == saved['param_schedulers']
    final = load_checkpoint_file(tmp_path / 'epoch_2.pth')
    assert (final['meta']['iter'], final['meta']['epoch']) == (22, 2)


def test_training_killed_mid_epoch_resumes_and_completes(tmp_path):
    args = ['train', 'mmpose', str(SAMPLE_CONFIG), '--work-dir', str(tmp_path), '--cfg-options',
            'train_cfg.max_epochs=3', 'train_cfg.val_interval=100',
            'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.save_best=None',
            'default_hooks.logger.interval=2']
    mim = str(Path(sys.executable).with_name('mim'))
    proc = subprocess.Popen([mim, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env=dict(os.environ, OMP_NUM_THREADS='2'))
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if re.search(r'Epoch\(train\)\s+\[2\]\[\s*4/11\]', line):
            os.killpg(proc.pid, signal.SIGKILL)  # mim and its training child, mid-epoch 2
            break
    proc.wait()
    assert proc.returncode != 0, ''.join(seen[-20:])
    assert not (tmp_path / 'epoch_2.pth').exists()
    assert (tmp_path / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    for checkpoint in tmp_path.glob('*.pth'):
        load_checkpoint_file(checkpoint)  # nothing half-written

    output = run_mim(*args, '--resume')
    assert 'resumed epoch: 1, iter: 11' in output.replace('Resumed', 'resumed')
    final = load_checkpoint_file(tmp_path / 'epoch_3.pth')
    assert (final['meta']['iter'], final['meta']['epoch']) == (33, 3)


@HOOKS.register_module(force=True)
class _StopAtTrainStart(Hook):
    """Ends training right after resuming: the test needs only what resuming logs."""

    def before_train(self, runner) -> None:
        runner.train_loop.stop_training = True


def _resume_log(tmp_path: Path, checkpoint: Path) -> str:
    # A work dir and logger of its own per resume (runs within one second share a
    # timestamp, which names mmengine's logger by default).
    cfg = _sample_cfg(tmp_path / f'resume_{checkpoint.stem}', max_epochs=1)
    cfg.experiment_name = f'resume_{checkpoint.stem}'
    cfg.resume, cfg.load_from = True, str(checkpoint)
    cfg.custom_hooks = [dict(type='CheckpointFileCheckHook'), dict(type='_StopAtTrainStart')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    return (Path(runner.log_dir) / f'{runner.timestamp}.log').read_text()


def test_resume_from_a_mid_epoch_checkpoint_warns_that_the_epoch_is_repeated(tmp_path):
    """mmengine's epoch loop restarts the epoch a checkpoint was saved in: a checkpoint
    saved by iteration (4 of the epoch's 11) is resumed with a warning saying so."""
    cfg = _sample_cfg(tmp_path, max_epochs=1)
    cfg.default_hooks.checkpoint.update(by_epoch=False, interval=4)
    Runner.from_cfg(cfg).train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [
        'iter_11.pth', 'iter_4.pth', 'iter_8.pth']

    log = _resume_log(tmp_path, tmp_path / 'iter_4.pth')
    assert ('Resuming from a checkpoint saved mid-epoch: iteration 4, 4 of the 11 '
            'iterations of epoch 1.') in log
    assert 'the run ends at iteration 15, not 11' in log
    assert 'resume from a checkpoint saved at the end of an epoch (epoch_*.pth' in log
    # The last one was saved at the end of the epoch: resumed exactly, no warning.
    assert 'mid-epoch' not in _resume_log(tmp_path, tmp_path / 'iter_11.pth')


def _reproducible_cfg(work_dir: Path, max_epochs: int, run: str) -> Config:
    """The sample run made repeatable across a restart: seeded deterministic algorithms,
    and the augmentation drawn in one data worker that is started, and seeded by mmengine's
    ``worker_init_fn``, afresh for every epoch (in the main process, or in a persistent
    worker, its random state would carry over from epoch 1, which a resumed run lacks)."""
    cfg = _sample_cfg(work_dir, max_epochs)
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.train_dataloader.update(num_workers=1, persistent_workers=False)
    cfg.custom_hooks.append(dict(type='_RecordLossPerIteration', run=run))
    return cfg


@pytest.mark.new_torch
def test_resumed_epoch_has_the_losses_and_weights_of_an_uninterrupted_run(tmp_path, monkeypatch):
    """Train 2 epochs; train 1, then resume to 2: epoch 2's 11 logged losses and the final
    weights are identical (tolerance 0: the same seed, data order, augmentation and
    deterministic kernels give the same float operations in the same order)."""
    # cuBLAS under deterministic algorithms needs a fixed workspace (on a GPU machine).
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', ':4096:8')
    _LOSSES.clear()
    try:
        whole = Runner.from_cfg(_reproducible_cfg(tmp_path / 'whole', 2, 'whole'))
        whole.train()
        Runner.from_cfg(_reproducible_cfg(tmp_path / 'resumed', 1, 'first')).train()
        cfg = _reproducible_cfg(tmp_path / 'resumed', 2, 'resumed')
        cfg.resume = True
        resumed = Runner.from_cfg(cfg)
        resumed.train()
    finally:
        # mmengine's deterministic=True switches these for the whole process.
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False

    # Keys (runner.epoch, runner.iter), counted from 0: epoch 1 is (0, 0)...(0, 10).
    epoch_1 = {key: loss for key, loss in _LOSSES['whole'].items() if key[0] == 0}
    epoch_2 = {key: loss for key, loss in _LOSSES['whole'].items() if key[0] == 1}
    assert len(epoch_1) == len(epoch_2) == 11 and _LOSSES['first'] == epoch_1
    assert _LOSSES['resumed'] == epoch_2, (_LOSSES['resumed'], epoch_2)
    whole_weights, resumed_weights = whole.model.state_dict(), resumed.model.state_dict()
    assert whole_weights.keys() == resumed_weights.keys()
    for key, value in whole_weights.items():
        torch.testing.assert_close(resumed_weights[key], value, rtol=0, atol=0, msg=key)
