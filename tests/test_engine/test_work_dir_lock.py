"""Two `mim train` runs into one work directory: the second is refused, not interleaved."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

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
        while not (work_dir / LOCK).exists():
            assert first.poll() is None, 'the first run ended before taking the lock'
            assert time.time() < deadline, 'no lock after 120 s'
            time.sleep(0.5)
        second = subprocess.run(_mim_train(work_dir, 1), cwd=REPO, env=env,
                                capture_output=True, text=True)
        assert second.returncode != 0
        output = second.stdout + second.stderr
        assert 'WorkDirInUseError' in output
        # (mim runs the training script in a child process: that is the lock holder)
        assert re.search(r'is in use by another training run \(process \d+ on ', output)
        assert 'Give this run another --work-dir' in output
        assert first.poll() is None  # the first run goes on
    finally:
        # A killed run leaves its lock behind (no clean-up runs on SIGKILL).
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert (work_dir / LOCK).exists()

    # ...which the next run takes over, since its process is gone, and removes when done.
    output = run_mim(*_mim_train(work_dir, 1)[1:])
    assert 'which no longer runs' in output
    assert not (work_dir / LOCK).exists()
    assert (work_dir / 'epoch_1.pth').is_file()
