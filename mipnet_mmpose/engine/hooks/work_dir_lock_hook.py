"""One run per work directory, decided before the run loads or writes a checkpoint."""
import atexit
import errno
import fcntl
import json
import os
import os.path as osp
import socket
import sys
import time
from typing import Dict, List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from ...utils.output_paths import OURS, OutputPathError, check_output, same_file

LOCK_NAME = '.training.lock'

#: Lock file (real path) -> [pid, fd, depth] of the locks this process holds.
#: The lock guards against other processes: runners of one process (tests,
#: notebooks) may use one work dir in turn or nested.
_HELD: Dict[str, List[int]] = {}


class WorkDirInUseError(RuntimeError):
    """Another run is writing into the same work directory."""


class WorkDirHoldsConfigError(RuntimeError):
    """The work directory holds the run's config, which mmengine's config dump replaces."""


def config_text_as_read(cfg) -> Optional[str]:
    """The text of ``cfg``'s own file as mmengine read it, before the run started.

    mmengine keeps ``cfg.text``: each base file's text, then the file's own,
    each after a line with its absolute path (a lazy-import config: its own
    text alone).

    Returns:
        str | None: None for a config built without a file.
    """
    if not cfg.filename:
        return None
    text, head = cfg.text, osp.abspath(osp.expanduser(cfg.filename)) + '\n'
    if text.startswith(head):
        text = text[len(head):]
    at = text.rfind('\n' + head)
    return text[at + len(head) + 1:] if at >= 0 else text


def check_config_dump(work_dir: str, cfg) -> None:
    """Refuse a work directory that holds the run's config file.

    mmengine writes its dump of the config to ``<work_dir>/<config file
    name>`` while it builds the runner, before any hook runs: with the config
    in the work directory, the user's file (its ``_base_``, its comments) is
    replaced by the flat dump. The dump's path passes the output rule
    (:func:`~mipnet_mmpose.utils.output_paths.check_output`: never an input,
    never through a link out of the work directory; an earlier dump may be
    replaced, as mmengine does); when it is the config itself and the dump
    changed it, the config's text as mmengine read it is put back and the run
    refused. A config that is itself such a dump (testing ``work_dirs/x/x.py``
    in its default work dir ``work_dirs/x``) comes back unchanged and is run.

    Args:
        work_dir (str): The run's work directory.
        cfg (Config): The run's config (``runner.cfg``).

    Raises:
        WorkDirHoldsConfigError: Naming the config and the fix.
        OutputPathError: When the dump's path is a link out of the work dir.
    """
    if not cfg.filename:
        return
    dump = osp.join(work_dir, osp.basename(cfg.filename))
    try:
        check_output(dump, [cfg.filename], owner=lambda _: OURS, folder=work_dir,
                     what="mmengine's config dump", input_what="run's config")
    except OutputPathError:
        if not osp.isfile(cfg.filename) or not same_file(dump, cfg.filename):
            raise
        text = config_text_as_read(cfg)
        restored = text is not None
        if restored:
            with open(cfg.filename, encoding='utf-8') as f:
                changed = f.read() != text
            if not changed:
                # The config is itself a dump (e.g. `mim test work_dirs/x/x.py`, whose default
                # work dir is work_dirs/x): mmengine rewrote the same text, nothing was lost.
                return
            with open(cfg.filename, 'w', encoding='utf-8') as f:
                f.write(text)
        raise WorkDirHoldsConfigError(
            f'The work directory {work_dir} holds the run\'s config {cfg.filename}, which '
            "mmengine replaces by its dump of the config when it builds the runner "
            f"({'put back now' if restored else 'not restorable'}): give the run another "
            '--work-dir (work_dir), e.g. work_dirs/'
            f'{osp.splitext(osp.basename(cfg.filename))[0]}') from None


def process_start_ticks(pid: int) -> Optional[int]:
    """When a process started (clock ticks after boot), from ``/proc/<pid>/stat``.

    A pid alone does not name a process: a dead run's pid may be reused by
    any later process. The pid and its start time together do.

    Returns:
        int | None: None when the process does not exist (or no /proc).
    """
    try:
        with open(f'/proc/{pid}/stat') as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ')'.
    fields = stat.rsplit(')', 1)[-1].split()
    return int(fields[19]) if len(fields) > 19 else None


def _record() -> dict:
    pid = os.getpid()
    return dict(host=socket.gethostname(), pid=pid, start_ticks=process_start_ticks(pid),
                started=time.strftime('%Y-%m-%d %H:%M:%S'),
                command=' '.join(sys.argv)[:300])


def describe_holder(raw: str) -> str:
    """Who a lock file says holds it, checked against the processes of this host.

    Args:
        raw (str): The lock file's content.

    Returns:
        str: e.g. ``"process 4242 on host-a (started 2026-12-03 10:00:01:
        mim train ...)"``, or why the file does not say.
    """
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get('pid'), int):
        shown = raw.strip()[:80] or 'empty'
        return (f'a live process whose lock record is unreadable (file content: {shown!r}; '
                'written by an older version, or being written right now)')
    pid, host = record['pid'], record.get('host')
    who = f"process {pid} on {host} (started {record.get('started')}: " \
          f"{record.get('command', '?')})"
    if host == socket.gethostname():
        ticks = process_start_ticks(pid)
        if ticks is None or (record.get('start_ticks') is not None
                             and ticks != record['start_ticks']):
            # The lock is held, yet its recorded process is gone (or its pid
            # now names another process): a child of that run holds it.
            return (f'{who}, which has ended; a process it started (e.g. a data loader '
                    'worker) still holds the lock and will release it when it exits')
    return who


class WorkDirLock:
    """An exclusive lock on ``<work_dir>/<lock_name>``, atomic and crash-proof.

    The lock is the kernel's ``flock`` on the lock file, not the file's
    existence: taking it is one atomic step, two processes can never both
    hold it, and a run that dies (even by SIGKILL) releases it with its open
    files. A lock file left by a dead run is therefore not "stale": the next
    run locks the same file and overwrites the record inside it, with
    nothing removed and re-created in between. The file holds a record of the
    holder (host, pid, its start time, command) for the message of a refused
    run only. On release the holder removes the file while still holding
    it; a run that opened the old file meanwhile sees it is no longer the
    file at that path and starts over.

    Args:
        work_dir (str): The work directory (created if missing).
        lock_name (str): File name of the lock. Defaults to ``'.training.lock'``.
    """

    def __init__(self, work_dir: str, lock_name: str = LOCK_NAME) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, lock_name)
        self._key = osp.realpath(self.path)

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        entry = _HELD.get(osp.realpath(self.path))
        return entry is not None and entry[0] == os.getpid()

    def acquire(self) -> Optional[str]:
        """Take the lock or raise :class:`WorkDirInUseError`.

        Returns:
            str | None: The record a run that ended without releasing left in
            the file (taken over), else None.

        Raises:
            WorkDirInUseError: Another live process holds it; the message
                names it (see :func:`describe_holder`).
            OSError: The file system has no locks (e.g. ``ENOLCK``).
        """
        self._key = osp.realpath(self.path)
        if self.held:
            _HELD[self._key][2] += 1
            return None
        os.makedirs(self.work_dir, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                raw = _read(fd)
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise WorkDirInUseError(
                        f'The work directory {self.work_dir} is in use by another run '
                        f'({describe_holder(raw)}; lock file {self.path}): its checkpoints '
                        'and config would be overwritten. Give this run another --work-dir, '
                        'or wait for that run to end.') from None
                raise
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder released (removed) it meanwhile: lock the new one
        previous = _read(fd)
        data = json.dumps(_record()).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        _HELD[self._key] = [os.getpid(), fd, 1]
        return previous.strip() or None

    def release(self) -> None:
        """Release the lock (and remove its file) once every acquire is released."""
        entry = _HELD.get(self._key)
        if entry is None or entry[0] != os.getpid():
            return
        entry[2] -= 1
        if entry[2] > 0:
            return
        del _HELD[self._key]
        fd = entry[1]
        try:
            if _same_file(fd, self.path):
                os.remove(self.path)  # while still locked: see the class notes
        finally:
            os.close(fd)


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode('utf-8', errors='replace')
    except OSError:
        return ''


def _same_file(fd: int, path: str) -> bool:
    try:
        on_disk = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (on_disk.st_dev, on_disk.st_ino)


@HOOKS.register_module()
class WorkDirLockHook(Hook):
    """Refuse to run into a work directory another run is using.

    mmengine gives each run its own timestamped log folder, but checkpoints,
    ``last_checkpoint``, the best checkpoint and the config dump go to the
    work directory itself: two runs started with the same ``--work-dir``
    overwrite each other's files and both report success. In ``before_run``
    (priority VERY_HIGH: before the hooks that load or write files) the main
    process takes a :class:`WorkDirLock` on ``<work_dir>/.training.lock``; a
    second run stops there with an error naming the first, before it loads
    or writes any checkpoint (mmengine calls ``before_run`` once it has built
    the data loaders, optimizer and loops of the run). The lock is
    released when the run ends (also on an exception or exit); a run killed
    outright releases it with its process, so ``--resume`` after a crash
    works.

    mmengine dumps the config into the work directory while it builds the
    runner, before any hook method runs: a refused run has replaced the
    running run's ``<work_dir>/<config name>.py`` by its own by then. The
    running run's config stays in its log folder
    (``<work_dir>/<timestamp>/vis_data/config.py``) and in its checkpoints.
    A work directory that holds the run's config file, which that dump
    replaces, is refused first (:func:`check_config_dump`; the config's text
    is put back).

    Args:
        lock_name (str): File name of the lock in the work directory.
            Defaults to ``'.training.lock'``
    """

    priority = 'VERY_HIGH'

    def __init__(self, lock_name: str = LOCK_NAME) -> None:
        self.lock_name = lock_name
        self._lock: Optional[WorkDirLock] = None

    def before_run(self, runner) -> None:
        """Take the lock of ``runner.work_dir`` (main process; once per run)."""
        if self._lock is not None or not is_main_process():
            return
        work_dir, logger = runner.work_dir, runner.logger
        check_config_dump(work_dir, runner.cfg)
        lock = WorkDirLock(work_dir, self.lock_name)
        try:
            previous = lock.acquire()  # WorkDirInUseError goes to the user as it is
        except OSError as err:
            logger.warning(f'The work directory {work_dir} cannot be locked ({err}); '
                           'nothing keeps another run from writing into it.')
            return
        if previous:
            logger.warning(f'Taking over the lock {lock.path} of a run that ended without '
                           f'releasing it (killed?): {previous[:200]}')
        self._lock = lock
        atexit.register(self._release)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def after_run(self, runner) -> None:
        self._release()
