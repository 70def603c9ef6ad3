"""Checkpoint files that are never half-written, and a clear error for a broken one.

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
  corrupt or truncated file stops the run with an error naming it, not with
  torch's message about a zip archive.

Our own code that reads a checkpoint (``init_mipnet``, the official-checkpoint
converter, the ONNX export) calls :func:`load_checkpoint_file`; code that
hands the path to mmengine's loading (``MIPNetInferencer``, the hook above)
calls :func:`check_checkpoint_file` first.
"""
import os
import os.path as osp
import pickle
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.runner import CheckpointLoader

#: What torch raises for a file it cannot read (truncated: zip or pickle data
#: missing; garbage: an unknown pickle opcode; cut legacy files: struct errors).
#: Not OSError: a file that cannot be opened (permissions) is not corrupt, and
#: its error names it.
_READ_ERRORS = (RuntimeError, EOFError, ValueError, TypeError, struct.error,
                pickle.UnpicklingError)


def _current_umask() -> int:
    """The process umask (reading it means setting it; it is put back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file exists but cannot be read."""


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


def _corrupt(filename: str, error: BaseException, weights_only: bool) -> CorruptCheckpointError:
    """The error for a checkpoint file torch (or the zip check) cannot read."""
    size = osp.getsize(filename)
    other = (' or holds Python objects other than tensors and plain containers (it was read '
             'with weights_only=True)') if weights_only else ''
    return CorruptCheckpointError(
        f'cannot read checkpoint file {filename} ({size} bytes): it is corrupt or '
        f'truncated{other} ({type(error).__name__}: {error}). Use an earlier checkpoint of '
        'the run (e.g. the previous epoch_*.pth) or re-download/re-save it.')


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
                         weights_only: bool = False) -> Any:
    """``torch.load`` of a local checkpoint; a broken file raises an error naming it.

    A name with a scheme (``https://``, ``open-mmlab://``...) is loaded by
    mmengine's ``CheckpointLoader``, as MMPose's ``init_model`` loads it.

    Args:
        filename (str | Path): The checkpoint file (``~`` is expanded).
        map_location (str | callable, optional): As ``torch.load``'s.
            Defaults to ``'cpu'``.
        weights_only (bool): Unpickle only tensors and plain containers (for
            files you do not trust); local files only. Defaults to False, as
            mmengine loads.

    Returns:
        Any: What ``torch.load`` returns (a checkpoint dict, or a state dict).

    Raises:
        FileNotFoundError: No such file.
        CorruptCheckpointError: torch cannot read it (truncated, corrupt,
            not a checkpoint; with ``weights_only``, also one holding other
            Python objects); the message names the file and its size.
    """
    if _has_scheme(filename):
        if weights_only:
            raise ValueError(f'{filename}: weights_only loading reads local files only')
        return CheckpointLoader.load_checkpoint(str(filename), map_location=map_location)
    filename = _existing(filename)
    try:
        return torch.load(filename, map_location=map_location, weights_only=weights_only)
    except _READ_ERRORS as error:
        # torch's own messages ("failed finding central directory", "Ran out of
        # input", ...) do not say which file or what to do.
        raise _corrupt(filename, error, weights_only) from error


def check_checkpoint_file(filename: Union[str, Path]) -> None:
    """Refuse a local checkpoint file that cannot be read, before mmengine loads it.

    A checkpoint in torch's zip format (what torch >= 1.6 writes) is checked
    without unpickling it: the zip directory must be complete and every
    member match its CRC-32 (which also finds flipped bytes in tensor data
    that ``torch.load`` would load silently). Any other file (torch's legacy
    format, or no checkpoint at all: a truncated zip has no directory) is
    loaded by :func:`load_checkpoint_file` as mmengine would load it. A name
    with a scheme (``https://``...) is left to mmengine.

    Args:
        filename (str | Path): The checkpoint file.

    Raises:
        FileNotFoundError: No such file.
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
        raise _corrupt(filename, error, weights_only=False) from error
    if bad is not None:
        raise _corrupt(filename, zipfile.BadZipFile(f'CRC-32 mismatch in member {bad}'),
                       weights_only=False)
