"""Checkpoint files that are never half-written, loaded with torch's weights-only
unpickler, and a clear error for a broken or unsafe one.

Importing this module changes nothing in mmengine or torch: it adds the file
backend ``'atomic_local'`` under a name of its own, which only a config that
names it uses. What our configs name:

- ``default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')))``:
  :class:`AtomicLocalBackend` writes each checkpoint to a temporary file in the
  target folder, flushes it to disk, then renames it over the target, so a
  training process killed while saving leaves the previous file intact.
- ``custom_hooks = [dict(type='CheckpointFileCheckHook')]``
  (:class:`~mipnet_mmpose.engine.hooks.CheckpointFileCheckHook`): before
  mmengine loads ``load_from`` (or the checkpoint a run resumes from), a
  corrupt or truncated file, or one holding a pickle payload, stops the run
  with an error naming it.

Every checkpoint is unpickled by torch's weights-only unpickler with exactly
:data:`CHECKPOINT_GLOBALS` allowed besides torch's own types: what mmengine's
checkpoints hold (numpy arrays of four dtypes, numpy scalars, mmengine's
``HistoryBuffer``; measured in ``docs/torch_versions.md``). Anything else
(``os.system``, a class of another package, ``getattr`` of anything but
``HistoryBuffer``'s statistics methods) raises :class:`UnsafeCheckpointError`
naming the file and how to re-save it if it is trusted
(``tools/resave_checkpoint.py``).

Our own code that reads a checkpoint (``init_mipnet``, the official-checkpoint
converter, the ONNX export) calls :func:`load_checkpoint_file`; code that
hands the path to mmengine's loading (``MIPNetInferencer``, the hook above)
calls :func:`check_checkpoint_file` first (the same weights-only unpickling),
then :func:`allow_checkpoint_globals`, so that mmengine's own ``torch.load``
(weights-only by default from torch 2.6) accepts the same types.
"""
import _codecs
import os
import os.path as osp
import pickle
import re
import struct
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

#: What torch raises for a file it cannot read (truncated: zip or pickle data
#: missing; garbage: an unknown pickle opcode; cut legacy files: struct errors).
#: Not OSError: a file that cannot be opened (permissions) is not corrupt, and
#: its error names it.
_READ_ERRORS = (RuntimeError, EOFError, ValueError, TypeError, struct.error,
                pickle.UnpicklingError)

#: The statistics methods mmengine's ``HistoryBuffer`` defines and keeps in every
#: buffer's ``_statistics_methods`` (so in every checkpoint's message hub).
HISTORY_BUFFER_STATISTICS = ('current', 'max', 'mean', 'min')

#: The command :class:`UnsafeCheckpointError` names for a file the user trusts.
RESAVE_COMMAND = 'python tools/resave_checkpoint.py'


def _history_buffer_statistic(owner: Any, name: str) -> Callable:
    """The only ``getattr`` a checkpoint may call: one of HistoryBuffer's statistics.

    Pickle (protocol 2, torch's) writes the function ``HistoryBuffer.min`` as the
    call ``getattr(HistoryBuffer, 'min')``. The real ``getattr`` would let a pickle
    reach any attribute (``__init__.__globals__`` and from there ``exec``), so
    this stands in for it and returns nothing else.

    Raises:
        pickle.UnpicklingError: For any other object or name.
    """
    if owner is HistoryBuffer and name in HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refused getattr({getattr(owner, "__qualname__", type(owner).__name__)}, {name!r}): '
        f'a checkpoint may only fetch HistoryBuffer.{"/".join(HISTORY_BUFFER_STATISTICS)}')


# torch's weights-only unpickler finds an allowed global by the name the pickle
# gives it, ``builtins.getattr``, and keys user globals by ``__module__`` and
# ``__name__`` (torch 2.4) or ``__qualname__`` (torch >= 2.6): the stand-in carries
# the name it replaces (torch 2.4 has no other way to name an allowed global).
_history_buffer_statistic.__module__ = 'builtins'
_history_buffer_statistic.__name__ = _history_buffer_statistic.__qualname__ = 'getattr'

#: Exactly the Python objects, besides torch's own types, that mmengine 0.10's
#: checkpoints hold (numpy 1.x names; see docs/torch_versions.md): numpy arrays
#: (``dataset_meta``, the message hub's ``HistoryBuffer`` histories) of the
#: uint8/float32/float64/int64 dtypes only, numpy scalars, ``HistoryBuffer``
#: and the restricted ``getattr`` above; and ``_codecs.encode``, how pickle
#: protocol 2 writes bytes (an array's data), which torch allows by default
#: from 2.6 but not 2.4.
CHECKPOINT_GLOBALS: Tuple[Any, ...] = (
    np.core.multiarray._reconstruct, np.ndarray, np.dtype, np.core.multiarray.scalar,
    type(np.dtype(np.uint8)), type(np.dtype(np.float32)), type(np.dtype(np.float64)),
    type(np.dtype(np.int64)), HistoryBuffer, _history_buffer_statistic, _codecs.encode)


def allow_checkpoint_globals() -> None:
    """Allow :data:`CHECKPOINT_GLOBALS` in every weights-only ``torch.load`` of this process.

    For mmengine's own loading of a checkpoint (a run's ``load_from``/resume,
    the inferencers): from torch 2.6 its ``torch.load`` unpickles weights-only
    and refuses mmengine's own types otherwise. Called by
    :class:`~mipnet_mmpose.engine.hooks.CheckpointFileCheckHook` and
    ``MIPNetInferencer`` after :func:`check_checkpoint_file`, never at import.
    """
    present = torch.serialization.get_safe_globals()
    torch.serialization.add_safe_globals([g for g in CHECKPOINT_GLOBALS if g not in present])


@contextmanager
def _checkpoint_globals_allowed() -> Iterator[None]:
    """:data:`CHECKPOINT_GLOBALS` allowed for one load; torch's list is put back after."""
    # A copy: torch 2.4 returns its list itself and extends it in place.
    before = list(torch.serialization.get_safe_globals())
    torch.serialization.add_safe_globals([g for g in CHECKPOINT_GLOBALS if g not in before])
    try:
        yield
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)


def _current_umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be read."""


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint file holds a Python object the weights-only loader refuses.

    Its ``refused`` names that object (``'posix.system'``, ``"getattr(dict, 'get')"``).
    """

    refused: Optional[str] = None


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """:class:`LocalBackend` whose writes replace the target in one step."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        """Write bytes to ``filepath`` atomically (temp file + fsync + rename)."""
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        fd, tmp_path = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp',
                                        dir=folder)
        try:
            # mkstemp creates the file 0600; give it the mode a plain write
            # would (0666 less the umask), so checkpoints stay shareable.
            os.chmod(tmp_path, 0o666 & ~_current_umask())
            with os.fdopen(fd, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp_path, filepath)
        except BaseException:
            if osp.exists(tmp_path):
                os.remove(tmp_path)
            raise

    def put_text(self, obj: str, filepath: Union[str, Path], encoding: str = 'utf-8') -> None:
        """Write text to ``filepath`` atomically."""
        self.put(obj.encode(encoding), filepath)


def _corrupt(filename: str, error: BaseException) -> CorruptCheckpointError:
    """The error for a checkpoint file torch (or the zip check) cannot read."""
    size = osp.getsize(filename)
    return CorruptCheckpointError(
        f'cannot read checkpoint file {filename} ({size} bytes): it is corrupt or '
        f'truncated ({type(error).__name__}: {error}). Use an earlier checkpoint of '
        'the run (e.g. the previous epoch_*.pth) or re-download/re-save it.')


#: How torch's weights-only unpickler (2.4 ... 2.14) and the restricted getattr
#: name what they refuse: a global not allowed, a global of a blocked module, a
#: getattr; else what the unpickler refused to do with an allowed one (build an
#: object of a class not allowed, e.g. an object-dtype array's dtype).
_REFUSED = (re.compile(r'GLOBAL (\S+) was not an allowed global'),
            re.compile(r'unsupported GLOBAL (\S+) whose module'),
            re.compile(r'refused (getattr\(.*?\))'),
            re.compile(r'WeightsUnpickler error:\s*(.+)'))


def _refused_global(error: BaseException) -> Optional[str]:
    """What a weights-only load refused, if that is the error (not a corrupt file:
    an unknown opcode is garbage, not a payload)."""
    for pattern in _REFUSED:
        found = pattern.search(str(error))
        if found:
            refused = found.group(1).strip()
            return None if refused.startswith('Unsupported operand') else refused
    return None


def _unsafe(filename: str, refused: str) -> UnsafeCheckpointError:
    error = UnsafeCheckpointError(
        f'refused to load checkpoint file {filename}: it holds a Python object that '
        f'weights-only loading does not allow ({refused}; a checkpoint of mmengine holds '
        'only tensors, numpy arrays and mmengine\'s HistoryBuffer), and unpickling it could '
        'run any code. If you trust the file, re-save it once for weights-only loading: '
        f'`{RESAVE_COMMAND} {filename} NEW.pth` (this unpickles it fully), then use NEW.pth.')
    error.refused = refused
    return error


def _existing(filename: Union[str, Path]) -> str:
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    return filename


def _has_scheme(filename: Union[str, Path]) -> bool:
    """Whether mmengine's ``CheckpointLoader`` reads it from elsewhere than a local
    file (``https://``, ``open-mmlab://``, ``s3://``...)."""
    return '://' in str(filename)


def load_checkpoint_file(filename: Union[str, Path],
                         map_location: Optional[Union[str, Callable]] = 'cpu',
                         allow_pickle: bool = False, mmap: bool = False) -> Any:
    """Load a local checkpoint weights-only; a broken or unsafe file raises an error naming it.

    torch's weights-only unpickler reads it with :data:`CHECKPOINT_GLOBALS`
    allowed for this load only. A name with a scheme (``https://``,
    ``open-mmlab://``...) is loaded by mmengine's ``CheckpointLoader``, as
    MMPose's ``init_model`` loads it (weights-only from torch 2.6, with the same
    types allowed).

    Args:
        filename (str | Path): The checkpoint file (``~`` is expanded).
        map_location (str | callable, optional): As ``torch.load``'s.
            Defaults to ``'cpu'``.
        allow_pickle (bool): Unpickle any Python object, running whatever code
            the file holds: only for a file you trust (``--allow-pickle`` of
            the official-checkpoint converter). Defaults to False.
        mmap (bool): Map the tensors' storage instead of reading it (a file in
            torch's zip format only), as ``torch.load``'s. Defaults to False.

    Returns:
        Any: What ``torch.load`` returns (a checkpoint dict, or a state dict).

    Raises:
        FileNotFoundError: No such file.
        UnsafeCheckpointError: It holds a Python object outside
            :data:`CHECKPOINT_GLOBALS` (a pickle payload); the message names
            the file, the object and how to re-save a trusted file.
        CorruptCheckpointError: torch cannot read it (truncated, corrupt,
            not a checkpoint); the message names the file and its size.
    """
    if _has_scheme(filename):
        allow_checkpoint_globals()
        return CheckpointLoader.load_checkpoint(str(filename), map_location=map_location)
    filename = _existing(filename)
    try:
        if allow_pickle:
            return torch.load(filename, map_location=map_location, weights_only=False,
                              mmap=mmap)
        with _checkpoint_globals_allowed():
            return torch.load(filename, map_location=map_location, weights_only=True,
                              mmap=mmap)
    except _READ_ERRORS as error:
        refused = None if allow_pickle else _refused_global(error)
        if refused is not None:
            raise _unsafe(filename, refused) from None
        # torch's own messages ("failed finding central directory", "Ran out of
        # input", ...) do not say which file or what to do.
        raise _corrupt(filename, error) from error


def check_checkpoint_file(filename: Union[str, Path]) -> None:
    """Refuse a local checkpoint file that cannot be read or is unsafe, before mmengine loads it.

    A checkpoint in torch's zip format (what torch >= 1.6 writes) is checked
    first without unpickling it: the zip directory must be complete and every
    member match its CRC-32 (which also finds flipped bytes in tensor data
    that ``torch.load`` would load silently). Then its pickle is read
    weights-only by :func:`load_checkpoint_file` (tensors memory-mapped), as is
    any other file (torch's legacy format, or no checkpoint at all: a
    truncated zip has no directory). A name with a scheme (``https://``...) is
    left to mmengine.

    Args:
        filename (str | Path): The checkpoint file.

    Raises:
        FileNotFoundError: No such file.
        UnsafeCheckpointError: It holds a pickle payload; the message names it.
        CorruptCheckpointError: It cannot be read; the message names it.
    """
    if _has_scheme(filename):
        return
    filename = _existing(filename)
    if not zipfile.is_zipfile(filename):
        load_checkpoint_file(filename)
        return
    try:
        with zipfile.ZipFile(filename) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError,
            RuntimeError) as error:
        raise _corrupt(filename, error) from error
    if bad is not None:
        raise _corrupt(filename, zipfile.BadZipFile(f'CRC-32 mismatch in member {bad}'))
    # The pickle, weights-only: a payload is refused before anything unpickles it
    # fully. The tensors are mapped, not read (the CRC check read them).
    load_checkpoint_file(filename, mmap=True)


def check_before_mmengine_loads(filename: Union[str, Path]) -> None:
    """Check a checkpoint that mmengine is about to load, then allow its types there.

    :func:`check_checkpoint_file`, then :func:`allow_checkpoint_globals` so that
    mmengine's own ``torch.load`` (weights-only from torch 2.6) reads what the
    check passed: what every caller that hands a path to mmengine's loading
    does (``CheckpointFileCheckHook``, ``MIPNetInferencer``).

    Raises:
        FileNotFoundError, UnsafeCheckpointError, CorruptCheckpointError: As
            :func:`check_checkpoint_file`.
    """
    check_checkpoint_file(filename)
    allow_checkpoint_globals()


def resave_trusted_checkpoint(src: Union[str, Path], dst: Union[str, Path]) -> None:
    """Re-save a checkpoint you trust so that weights-only loading reads it.

    ``src`` is unpickled fully (running any code it holds: trust it first) and
    what it held is written to ``dst`` by this environment's torch, numpy and
    mmengine (atomically), then ``dst`` is loaded weights-only. A checkpoint
    written by another numpy or mmengine version, or one whose pickle ran code
    on loading, becomes one of :data:`CHECKPOINT_GLOBALS` only.

    Args:
        src (str | Path): The trusted checkpoint.
        dst (str | Path): Where to write it (not ``src``).

    Raises:
        UnsafeCheckpointError: What ``src`` holds still needs other Python
            objects (e.g. an instance of another package's class); ``dst`` is
            removed and the message says how to keep only the weights.
    """
    src, dst = _existing(src), osp.expanduser(str(dst))
    checkpoint = load_checkpoint_file(src, allow_pickle=True)
    with tempfile.TemporaryFile() as buffer:
        torch.save(checkpoint, buffer)
        buffer.seek(0)
        AtomicLocalBackend().put(buffer.read(), dst)
    try:
        load_checkpoint_file(dst, mmap=True)
    except UnsafeCheckpointError as error:
        os.remove(dst)
        refused = getattr(error, 'refused', None)
        raise UnsafeCheckpointError(
            f'{src} holds Python objects other than a checkpoint\'s even when re-saved '
            f'({refused}); keep only its weights: torch.save({{"state_dict": '
            f'torch.load("{src}", weights_only=False)["state_dict"]}}, "{dst}")') from None
