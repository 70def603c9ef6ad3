"""Checkpoint files that are never half-written, and a clear error for a broken one.

- ``AtomicLocalBackend`` (mmengine file backend ``'atomic_local'``): writes to a
  temporary file in the target folder, flushes it to disk, then renames it over
  the target, so a training process killed while saving leaves the previous
  file intact. Use it for checkpoints with
  ``default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')))``.
- Local checkpoint loading (mmengine's ``CheckpointLoader`` scheme for plain
  paths) is replaced by one that behaves the same but turns torch's errors on a
  corrupt or truncated file into one that names the file.
"""
import os
import os.path as osp
import pickle
import tempfile
from pathlib import Path
from typing import Union

import torch
from mmengine.fileio import LocalBackend, register_backend
from mmengine.runner import CheckpointLoader


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


def load_local_checkpoint(filename: str, map_location=None) -> dict:
    """Load a local checkpoint; a corrupt or truncated file raises a clear error."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint file not found: {filename}')
    try:
        return torch.load(filename, map_location=map_location)
    except (RuntimeError, EOFError, OSError, ValueError, TypeError,
            pickle.UnpicklingError) as error:
        # torch's own messages ("failed finding central directory", "Ran out of
        # input", ...) do not say which file or what to do.
        size = osp.getsize(filename)
        raise CorruptCheckpointError(
            f'checkpoint file {filename} ({size} bytes) is corrupt or truncated and cannot be '
            f'loaded ({type(error).__name__}: {error}). Use an earlier checkpoint of the run '
            f'(e.g. the previous epoch_*.pth) or re-download/re-save it.') from error


CheckpointLoader.register_scheme(prefixes='', loader=load_local_checkpoint, force=True)
