"""Two `mim train` runs into one work directory: the second is refused, not interleaved."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, SAMPLE_CONFIG, run_mim

LOCK = '.training.lock'


def _mim_train(work_dir: Path, epochs: int, *extra: str) -> list:
    mim = Path(sys.executable).with_name('mim')
    return [str(mim), 'train', 'mmpose', str(SAMPLE_CONFIG), '--work-dir', str(work_dir),
            '--cfg-options', f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            f'param_scheduler.0.end={epochs}', *extra]


def test_second_training_into_a_busy_work_dir_is_refused(tmp_path):
    work_dir = tmp_path / 'work'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    first = subprocess.Popen(_mim_train(work_dir, 200), cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.time() + 120
        dump = work_dir / SAMPLE_CONFIG.name
        while not (work_dir / LOCK).exists() or not dump.exists():
            assert first.poll() is None, 'the first run ended before taking the lock'
            assert time.time() < deadline, 'no lock and config dump after 120 s'
            time.sleep(0.5)
        time.sleep(1)  # the dump is complete
        first_dump = dump.read_text()
        assert 'max_epochs=200' in first_dump
        second = subprocess.run(_mim_train(work_dir, 1), cwd=REPO, env=env,
                                capture_output=True, text=True)
        assert second.returncode != 0
        output = second.stdout + second.stderr
        assert 'WorkDirInUseError' in output
        # (mim runs the training script in a child process: that is the lock holder)
        assert re.search(r'is in use by another run \(process \d+ on ', output)
        assert 'Give this run another --work-dir' in output
        assert first.poll() is None  # the first run goes on
        # mmengine dumps the config while it builds the runner, before any hook method:
        # the refused run's dump replaced the first's; the first's stays in its log folder.
        assert 'max_epochs=1' in dump.read_text()
        assert any('max_epochs=200' in p.read_text()
                   for p in work_dir.glob('*/vis_data/config.py'))
    finally:
        # A killed run leaves its lock behind (no clean-up runs on SIGKILL).
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert (work_dir / LOCK).exists()

    # ...which the next run takes over, since its process is gone, and removes when done.
    output = run_mim(*_mim_train(work_dir, 1)[1:])
    assert 'Taking over the lock' in output and 'ended without releasing it' in output
    assert not (work_dir / LOCK).exists()
    assert (work_dir / 'epoch_1.pth').is_file()


# ---------------------------------------------------------------------------
# The lock itself, with processes (fast)
# ---------------------------------------------------------------------------

def _contender(path: str, barrier, won, results, trials: int) -> None:
    """Each trial: try to take the lock until someone has it, hold it until all tried."""
    from mipnet_mmpose.engine.hooks.work_dir_lock_hook import WorkDirInUseError, WorkDirLock
    lock = WorkDirLock(path)
    for trial in range(trials):
        barrier.wait()
        got = False
        deadline = time.monotonic() + 10
        while not won.value and time.monotonic() < deadline:
            try:
                lock.acquire()
            except WorkDirInUseError:
                time.sleep(0.001)
                continue
            got = True
            won.value = 1  # after the acquisition: two winners would both report it
            break
        results.put((trial, got))
        barrier.wait()  # every contender has tried, the winner still holds it
        if got:
            lock.release()
        barrier.wait()


def test_no_double_acquisition_in_200_trials(tmp_path):
    """Two processes race for a work dir whose lock file a dead run left (odd trials) or that
    a live holder releases while they try (even trials): never both get it, always one."""
    import multiprocessing

    from mipnet_mmpose.engine.hooks.work_dir_lock_hook import WorkDirLock
    trials, contenders = 200, 2
    ctx = multiprocessing.get_context('fork')
    barrier = ctx.Barrier(contenders + 1)
    won = ctx.Value('i', 0)
    results = ctx.Queue()
    workers = [ctx.Process(target=_contender,
                           args=(str(tmp_path), barrier, won, results, trials))
               for _ in range(contenders)]
    for worker in workers:
        worker.start()
    holder = WorkDirLock(str(tmp_path))
    winners = {}
    try:
        for trial in range(trials):
            won.value = 0
            if trial % 2:
                # A run killed by SIGKILL leaves its record (and no lock) behind.
                (tmp_path / LOCK).write_text('{"host": "h", "pid": 999999999}')
            else:
                holder.acquire()
            barrier.wait(timeout=30)
            if not trial % 2:
                holder.release()
            barrier.wait(timeout=30)
            barrier.wait(timeout=30)
            for _ in range(contenders):
                number, got = results.get(timeout=30)
                winners[number] = winners.get(number, 0) + got
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
    assert len(winners) == trials
    doubles = sum(count > 1 for count in winners.values())
    assert doubles == 0
    assert all(count == 1 for count in winners.values())


def _hold(path: str, ready, stop, record: str = '') -> None:
    from mipnet_mmpose.engine.hooks.work_dir_lock_hook import WorkDirLock
    lock = WorkDirLock(path)
    lock.acquire()
    if record is not None:
        with open(lock.path, 'w') as f:  # what another version (or a crash) leaves
            f.write(record)
    ready.set()
    stop.wait(30)
    lock.release()


def _held_by_another_process(tmp_path, record):
    import multiprocessing
    ctx = multiprocessing.get_context('fork')
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold, args=(str(tmp_path), ready, stop, record))
    proc.start()
    assert ready.wait(30)
    return proc, stop


@pytest.mark.parametrize('record, expected', [
    ('', "lock record is unreadable (file content: 'empty'"),
    ('garbage{', "lock record is unreadable (file content: 'garbage{'"),
    # Its pid now names another live process (pid 1 with another start time).
    ('{"host": "%s", "pid": 1, "start_ticks": -5, "started": "x", "command": "old run"}'
     % socket.gethostname(), 'which has ended; a process it started'),
])
def test_a_held_lock_with_an_unreadable_or_stale_record_is_explained(tmp_path, record,
                                                                     expected):
    from mipnet_mmpose.engine.hooks.work_dir_lock_hook import WorkDirInUseError, WorkDirLock
    proc, stop = _held_by_another_process(tmp_path, record)
    try:
        with pytest.raises(WorkDirInUseError, match='is in use by another run') as info:
            WorkDirLock(str(tmp_path)).acquire()
        assert expected in str(info.value)
        assert 'process None on None' not in str(info.value)
    finally:
        stop.set()
        proc.join(30)
    # Released: the next run takes it at once, and the lock file goes with the run.
    lock = WorkDirLock(str(tmp_path))
    assert lock.acquire() is None
    lock.release()
    assert not (tmp_path / LOCK).exists()


def test_live_holder_is_named_with_its_start_time(tmp_path):
    from mipnet_mmpose.engine.hooks.work_dir_lock_hook import (
        WorkDirInUseError,
        WorkDirLock,
        process_start_ticks,
    )
    proc, stop = _held_by_another_process(tmp_path, None)
    try:
        held = json.loads((tmp_path / LOCK).read_text())
        assert held['pid'] == proc.pid and held['start_ticks'] == process_start_ticks(proc.pid)
        with pytest.raises(WorkDirInUseError, match=rf'\(process {proc.pid} on '):
            WorkDirLock(str(tmp_path)).acquire()
    finally:
        stop.set()
        proc.join(30)


def test_a_dead_runs_record_is_taken_over(tmp_path):
    from mipnet_mmpose.engine.hooks.work_dir_lock_hook import WorkDirLock
    (tmp_path / LOCK).write_text('{"host": "h", "pid": 999999999}')
    lock = WorkDirLock(str(tmp_path))
    assert lock.acquire() == '{"host": "h", "pid": 999999999}'
    assert json.loads((tmp_path / LOCK).read_text())['pid'] == os.getpid()
    lock.release()


def test_a_refused_runner_stops_before_it_loads_or_writes_a_checkpoint(tmp_path):
    """The lock is taken in before_run (priority VERY_HIGH): before the checkpoint to
    resume from is checked or loaded, and before any checkpoint is written."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mipnet_mmpose.engine import WorkDirInUseError
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'epoch_1.pth').write_bytes(b'the running run\'s checkpoint')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_1.pth'))
    proc, stop = _held_by_another_process(work_dir, None)
    try:
        cfg = Config.fromfile(str(SAMPLE_CONFIG))
        cfg.work_dir = str(work_dir)
        cfg.resume = True  # would fail on the (unreadable) epoch_1.pth
        runner = Runner.from_cfg(cfg)
        with pytest.raises(WorkDirInUseError, match='is in use by another run'):
            runner.train()
        assert sorted(p.name for p in work_dir.glob('*.pth')) == ['epoch_1.pth']
        assert (work_dir / 'epoch_1.pth').read_bytes() == b'the running run\'s checkpoint'
        assert (work_dir / 'last_checkpoint').read_text() == str(work_dir / 'epoch_1.pth')
    finally:
        stop.set()
        proc.join(30)


def test_a_work_dir_holding_the_runs_config_is_refused_and_the_config_put_back(tmp_path):
    """work_dir = the config's folder: mmengine dumps the flat config over the user's file
    while it builds the runner; the first hook step puts the file back and refuses the run."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mipnet_mmpose.engine import WorkDirHoldsConfigError
    from mipnet_mmpose.engine.hooks.work_dir_lock_hook import check_config_dump
    folder = tmp_path / 'experiment'
    folder.mkdir()
    config = folder / 'my_sample.py'
    text = ('# My run: the sample config for one epoch (a comment the dump would drop).\n'
            f'_base_ = [{str(SAMPLE_CONFIG)!r}]\n'
            'train_cfg = dict(max_epochs=1, val_interval=1)\n')
    config.write_text(text)
    cfg = Config.fromfile(str(config))
    cfg.work_dir = str(folder)
    runner = Runner.from_cfg(cfg)
    assert config.read_text() != text  # mmengine's dump, as with stock MMPose
    with pytest.raises(WorkDirHoldsConfigError) as error:
        runner.train()
    assert str(error.value) == (
        f"The work directory {folder} holds the run's config {config}, which mmengine replaces "
        'by its dump of the config when it builds the runner (put back now): give the run '
        'another --work-dir (work_dir), e.g. work_dirs/my_sample')
    assert config.read_text() == text
    assert not list(folder.glob('*.pth')) and not (folder / LOCK).exists()
    # A work dir beside the config is fine.
    cfg.work_dir = str(tmp_path / 'work')
    check_config_dump(cfg.work_dir, cfg)
    # A config that is itself mmengine's dump, run in its own folder (the default work dir
    # of `mim test work_dirs/x/x.py`): mmengine rewrites the same text, so the run goes on.
    dumped = tmp_path / 'dumped' / 'my_sample.py'
    dumped.parent.mkdir()
    first_run = Config.fromfile(str(config))
    first_run.work_dir = str(dumped.parent)  # as the training run that wrote the dump had it
    first_run.dump(str(dumped))
    before = dumped.read_text()
    cfg = Config.fromfile(str(dumped))
    cfg.work_dir = str(dumped.parent)
    Runner.from_cfg(cfg)
    assert dumped.read_text() == before
    check_config_dump(cfg.work_dir, cfg)
