"""One training run per work directory."""
import atexit
import errno
import json
import os
import os.path as osp
import socket
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

LOCK_NAME = '.training.lock'


class WorkDirInUseError(RuntimeError):
    """Another training run is writing into the same work directory."""


def _process_alive(pid: int) -> bool:
    """Whether a process of this host with ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except OSError as err:
        return err.errno == errno.EPERM  # exists, owned by another user
    return True


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Refuse to train into a work directory another training run is using.

    mmengine gives each run its own timestamped log folder, but checkpoints,
    ``last_checkpoint`` and the best checkpoint go to the work directory
    itself: two runs started with the same ``--work-dir`` overwrite each
    other's checkpoints and both report success. Before training, the main
    process creates ``<work_dir>/.training.lock`` holding its host and pid;
    a second run finds it and stops with an error naming the first. The lock
    is removed when training ends (also on an exception or exit); a lock
    left by a killed run (its process no longer exists on this host) is
    taken over with a warning, so ``--resume`` after a crash works.

    Args:
        lock_name (str): File name of the lock in the work directory.
            Defaults to ``'.training.lock'``
    """

    priority = 'VERY_HIGH'

    def __init__(self, lock_name: str = LOCK_NAME) -> None:
        self.lock_name = lock_name
        self._path: Optional[str] = None

    def before_train(self, runner) -> None:
        if not is_main_process():
            return
        path = osp.join(runner.work_dir, self.lock_name)
        me = dict(host=socket.gethostname(), pid=os.getpid())
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._check_holder(runner, path)
                continue
            with os.fdopen(fd, 'w') as file:
                json.dump(me, file)
            self._path = path
            atexit.register(self._release)
            return
        raise WorkDirInUseError(f'could not take the training lock {path}')

    def _check_holder(self, runner, path: str) -> None:
        """Raise if a live run holds the lock; remove a dead run's lock."""
        try:
            with open(path) as file:
                holder = json.load(file)
        except (OSError, ValueError):
            holder = {}
        host, pid = holder.get('host'), holder.get('pid')
        if host == socket.gethostname() and isinstance(pid, int) and not _process_alive(pid):
            runner.logger.warning(f'Taking over the training lock {path} of run {pid}, '
                                  'which no longer runs (killed?).')
            os.remove(path)
            return
        raise WorkDirInUseError(
            f'The work directory {runner.work_dir} is in use by another training run '
            f'(process {pid} on {host}, lock file {path}): its checkpoints would be '
            'overwritten. Give this run another --work-dir, or wait for that run to end. '
            'If no such run exists any more, delete the lock file.')

    def _release(self) -> None:
        if self._path is not None:
            try:
                os.remove(self._path)
            except FileNotFoundError:
                pass
            self._path = None

    def after_train(self, runner) -> None:
        self._release()
