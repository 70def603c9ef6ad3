"""Where tools may write: never over a file they read, nor over a file they did not make.

Every tool of this repository that writes files (the demo, the config and
checkpoint converters, the ONNX export) checks its output paths here first, so
a mistyped ``--out`` or an output folder equal to the input folder is a
one-line refusal instead of a lost picture, config or checkpoint.

- :func:`check_not_an_input`: an output that is (resolves to, or is a hard link
  of) one of the inputs is refused.
- :func:`check_replaceable`: an existing output is replaced only when the tool
  recognises it as its own earlier output (``is_ours``); anything else is
  refused with the name of the file.
- :func:`check_out_dir`: an output folder that exists as a file is refused.
- :func:`relative_output_stems`: per-image output names that keep the images'
  relative paths, so ``a/x.jpg`` and ``b/x.jpg`` both get a picture.
"""
import os.path as osp
from typing import Callable, Dict, Iterable, Optional, Sequence


class OutputPathError(ValueError):
    """An output path that would overwrite an input or a file the tool did not make."""


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (symlinks and hard links included)."""
    try:
        return osp.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the resolved paths
        return osp.realpath(a) == osp.realpath(b)


def check_not_an_input(output: str, inputs: Iterable[Optional[str]], what: str = 'output',
                       input_what: str = 'input') -> None:
    """Refuse an output path that names one of the inputs.

    Args:
        output (str): The path the tool is about to write.
        inputs (Iterable[str | None]): The files the tool reads (None skipped).
        what (str): The output's name in the message, e.g. ``'--out'``.
        input_what (str): The inputs' name in the message.

    Raises:
        OutputPathError: Naming both paths.
    """
    for path in inputs:
        if path is not None and same_file(output, path):
            raise OutputPathError(f'{what} {output} is the {input_what} {path}: writing it '
                                  'would destroy the input; give another output path')


def check_replaceable(output: str, is_ours: Optional[Callable[[str], bool]] = None,
                      what: str = 'output') -> None:
    """Refuse to replace an existing file the tool cannot tell is its own output.

    Args:
        output (str): The path the tool is about to write.
        is_ours (Callable[[str], bool], optional): Whether an existing file at
            ``output`` was written by this tool (then it may be replaced).
            None: no existing file may be replaced.
        what (str): The output's name in the message.

    Raises:
        OutputPathError: When ``output`` is a folder, or an existing file that
            ``is_ours`` does not recognise.
    """
    if osp.isdir(output):
        raise OutputPathError(f'{what} {output} is a folder; give a file name')
    if osp.lexists(output) and not (is_ours is not None and osp.isfile(output)
                                    and _safe(is_ours, output)):
        raise OutputPathError(f'{what} {output} exists and was not written by this tool; '
                              'move it away or give another output path')


def _safe(is_ours: Callable[[str], bool], path: str) -> bool:
    try:
        return bool(is_ours(path))
    except (OSError, ValueError, UnicodeDecodeError):
        return False


def check_out_dir(out_dir: str, what: str = '--out-dir') -> None:
    """Refuse an output folder that exists as something other than a folder."""
    if osp.lexists(out_dir) and not osp.isdir(out_dir):
        raise OutputPathError(f'{what} {out_dir} exists and is not a folder; give a folder')


def file_starts_with(marker: str, limit: int = 4096) -> Callable[[str], bool]:
    """An ``is_ours`` test: the file's first ``limit`` characters hold ``marker``."""
    def is_ours(path: str) -> bool:
        with open(path, encoding='utf-8', errors='replace') as f:
            return marker in f.read(limit)
    return is_ours


def relative_output_stems(paths: Sequence[str]) -> Dict[str, str]:
    """Output names (without extension) that keep each file's path below the common folder.

    ``['d/a/x.jpg', 'd/b/x.jpg']`` -> ``{'d/a/x.jpg': 'a/x', 'd/b/x.jpg':
    'b/x'}``; files of one folder keep their bare stems (``'x'``). Two files
    whose names differ only in the extension (``x.jpg``, ``x.png``) get the
    extension added (``x.jpg``, ``x.png``) so neither output hides the other.

    Args:
        paths (Sequence[str]): The input files (e.g. every image of a run).

    Returns:
        dict[str, str]: Input path -> relative output stem (``/``-separated
        as the OS separates paths).
    """
    unique = list(dict.fromkeys(paths))
    if not unique:
        return {}
    folders = [osp.dirname(osp.abspath(p)) for p in unique]
    try:
        root = osp.commonpath(folders)
    except ValueError:  # different drives (Windows): keep the whole path
        root = ''
    stems = {}
    for path, folder in zip(unique, folders):
        relative = osp.relpath(osp.join(folder, osp.basename(path)), root) if root else path
        stems[path] = osp.splitext(relative)[0]
    counts: Dict[str, int] = {}
    for stem in stems.values():
        counts[stem] = counts.get(stem, 0) + 1
    return {path: stem if counts[stem] == 1 else stem + osp.splitext(path)[1]
            for path, stem in stems.items()}
