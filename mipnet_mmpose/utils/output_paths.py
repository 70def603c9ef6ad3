"""Where tools and hooks may write: the one rule every output path passes.

Every writer of this repository (the inferencer and the demo over it, the
picture hook of val/test runs, the config and checkpoint converters, the ONNX
export; the work-dir guard for mmengine's config dump) checks each output path
with :func:`check_output` before it writes anything:

1. never a folder, never an input of the run (under any name: the path itself,
   a symbolic link or a hard link to it);
2. never through a link: not a symbolic link to a file outside the output
   folder, not a file with another name (a hard link), which writing would
   change as well;
3. an existing file is replaced only when the writer's ownership mark says it
   wrote that very content (:data:`OURS`); an output edited since it was
   written (:data:`EDITED`) is kept and the message says how to overwrite it;
   anything else (:data:`FOREIGN`) is kept.

Ownership marks, which neither an edit nor an unrelated file of the same kind
can fake, each defined here:

- text files (configs): a stamp line holding the sha256 of the file's other
  lines (:func:`stamp_text`, :func:`text_owner`);
- ONNX files: metadata properties holding the writer and the sha256 of the
  graph (:func:`stamp_onnx`, :func:`onnx_owner`);
- files whose format has no room for a mark (pictures, videos, MMPose's
  prediction JSON): a record of the folder's writer, ``.mipnet_outputs.jsonl``,
  listing the name and sha256 of every file written (:class:`OutputRecords`).

Also here: :func:`check_out_dir` (an output folder that is a file) and
:func:`relative_output_stems` (per-image names that keep folders apart).
"""
import hashlib
import json
import os
import os.path as osp
import re
import tempfile
from typing import Callable, Dict, Iterable, Optional, Sequence, Union

#: Ownership verdicts of an existing output (see :func:`check_output`).
OURS, EDITED, FOREIGN = 'ours', 'edited', 'foreign'
#: An ownership test: path -> verdict (True / False: OURS / FOREIGN).
Owner = Callable[[str], Union[str, bool]]
#: The record file of :class:`OutputRecords` in each folder it lists.
RECORD_NAME = '.mipnet_outputs.jsonl'


class OutputPathError(ValueError):
    """An output path that would overwrite an input or a file the tool did not make."""


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (symlinks and hard links included)."""
    try:
        return osp.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the resolved paths
        return osp.realpath(a) == osp.realpath(b)


class Inputs:
    """The files a run reads, indexed once for the checks of many outputs.

    A file is known by its device and inode when it exists (so a symbolic or
    hard link to it is it), else by its resolved path.

    Args:
        paths (Iterable[str | None]): The files (None skipped).
    """

    def __init__(self, paths: Iterable[Optional[str]]) -> None:
        self._by_key: Dict[tuple, str] = {}
        for path in paths:
            if path is not None:
                self._by_key.setdefault(_file_key(path), path)

    def find(self, path: str) -> Optional[str]:
        """The input that ``path`` names, else None."""
        return self._by_key.get(_file_key(path))


def _file_key(path: str) -> tuple:
    try:
        stat = os.stat(path)
    except OSError:  # not there (yet): its resolved path
        return ('path', osp.realpath(path))
    return ('file', stat.st_dev, stat.st_ino)


def check_not_an_input(output: str, inputs: Union[Inputs, Iterable[Optional[str]]],
                       what: str = 'output', input_what: str = 'input') -> None:
    """Refuse an output path that names one of the inputs (rule 1 of :func:`check_output`).

    Args:
        output (str): The path the tool is about to write.
        inputs (Inputs | Iterable[str | None]): The files the tool reads
            (None skipped).
        what (str): The output's name in the message, e.g. ``'--out'``.
        input_what (str): The inputs' name in the message.

    Raises:
        OutputPathError: Naming both paths.
    """
    path = (inputs if isinstance(inputs, Inputs) else Inputs(inputs)).find(output)
    if path is not None:
        raise OutputPathError(f'{what} {output} is the {input_what} {path}: writing it '
                              'would destroy the input; give another output path')


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_output(output: str,
                 inputs: Union[Inputs, Iterable[Optional[str]]] = (),
                 owner: Optional[Owner] = None,
                 folder: Optional[str] = None,
                 what: str = 'output',
                 input_what: str = 'input',
                 force: bool = False,
                 overwrite: str = 'delete it first, or give another output path') -> None:
    """The one rule every output path passes before anything is written.

    Args:
        output (str): The path the writer is about to write.
        inputs (Inputs | Iterable[str | None]): Every file the run reads
            (None skipped); an :class:`Inputs` for the checks of many outputs.
        owner (Callable, optional): The writer's ownership test of an existing
            file at ``output``: :data:`OURS`, :data:`EDITED` or :data:`FOREIGN`
            (True / False for OURS / FOREIGN). None: no existing file is
            replaced.
        folder (str, optional): The output folder the file belongs in.
            Defaults to the folder of ``output``.
        what (str): The output's name in the message, e.g. ``'--out'``.
        input_what (str): The inputs' name in the message.
        force (bool): Replace an existing file whatever its owner (never an
            input, never through a link). Defaults to False.
        overwrite (str): How the user overwrites an edited output, for the
            message, e.g. ``'pass --force'``. Defaults to ``'delete it first,
            or give another output path'``.

    Raises:
        OutputPathError: One sentence naming the file, the reason and the fix.
    """
    if osp.isdir(output):
        raise OutputPathError(f'{what} {output} is a folder; give a file name')
    check_not_an_input(output, inputs, what, input_what)
    folder = osp.realpath(folder if folder is not None else osp.dirname(osp.abspath(output)))
    target = osp.realpath(output)
    if not _inside(target, folder):
        raise OutputPathError(f'{what} {output} is a link to {target}, outside the output '
                              f'folder {folder}: writing it would change that file; remove '
                              'the link or give another output path')
    if not osp.lexists(output):
        return
    if osp.isfile(output) and os.stat(output).st_nlink > 1:
        raise OutputPathError(f'{what} {output} has another name (a hard link): writing it '
                              'would change that file too; remove it or give another '
                              'output path')
    verdict = _verdict(owner, output) if osp.isfile(output) else FOREIGN
    if force or verdict == OURS:
        return
    if verdict == EDITED:
        raise OutputPathError(f'{what} {output} was changed since this tool wrote it, so it '
                              f'is kept; to overwrite it, {overwrite}')
    raise OutputPathError(f'{what} {output} exists and was not written by this tool; move '
                          'it away or give another output path')


def _verdict(owner: Optional[Owner], path: str) -> str:
    if owner is None:
        return FOREIGN
    try:
        verdict = owner(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return FOREIGN
    if verdict is True:
        return OURS
    return verdict if verdict in (OURS, EDITED) else FOREIGN


def check_out_dir(out_dir: str, what: str = '--out-dir') -> None:
    """Refuse an output folder that exists as something other than a folder."""
    if osp.lexists(out_dir) and not osp.isdir(out_dir):
        raise OutputPathError(f'{what} {out_dir} exists and is not a folder; give a folder')


def sha256_of(data: Union[bytes, str]) -> str:
    """The hex sha256 of bytes, or of a string's UTF-8 encoding."""
    return hashlib.sha256(data.encode('utf-8') if isinstance(data, str) else data).hexdigest()


def file_sha256(path: str) -> str:
    """The hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- text files
_STAMP = re.compile(r'^# stamp of (?P<tool>\S+) \(sha256 of the other lines; an edited file '
                    r'is not overwritten\): (?P<digest>[0-9a-f]{64})\n?', re.MULTILINE)


def stamp_text(text: str, tool: str) -> str:
    """``text`` with a last line stamping it as ``tool``'s output (see :func:`text_owner`).

    Args:
        text (str): The file's content; a comment line is appended, so it
            must be a format with ``#`` comments (Python, YAML, shell).
        tool (str): The writer, e.g. ``'tools/convert_config.py'`` (no spaces).
    """
    text = text if text.endswith('\n') else text + '\n'
    return (f'{text}# stamp of {tool} (sha256 of the other lines; an edited file is not '
            f'overwritten): {sha256_of(text)}\n')


def text_owner(tool: str) -> Owner:
    """The ownership test of :func:`stamp_text`'s files of ``tool``.

    Returns:
        Callable[[str], str]: :data:`OURS` when the file's first stamp of
        ``tool`` holds the sha256 of its other lines, :data:`EDITED` when it
        holds another one, else :data:`FOREIGN` (a file that merely mentions
        the tool is not its output).
    """
    def owner(path: str) -> str:
        with open(path, encoding='utf-8', newline='') as f:
            text = f.read()
        for stamp in _STAMP.finditer(text):
            if stamp['tool'] == tool:
                rest = text[:stamp.start()] + text[stamp.end():]
                return OURS if sha256_of(rest) == stamp['digest'] else EDITED
        return FOREIGN
    return owner


# --------------------------------------------------------------------------- ONNX files
#: The metadata properties of :func:`stamp_onnx`.
ONNX_WRITER_KEY, ONNX_DIGEST_KEY = 'mipnet_mmpose.written_by', 'mipnet_mmpose.graph_sha256'


def _graph_sha256(model) -> str:
    return sha256_of(model.graph.SerializeToString(deterministic=True))


def stamp_onnx(path: str, tool: str) -> None:
    """Add ``tool`` and the sha256 of the graph to the metadata of the ONNX file ``path``."""
    import onnx
    model = onnx.load(path)
    marks = {ONNX_WRITER_KEY: tool, ONNX_DIGEST_KEY: _graph_sha256(model)}
    kept = [p for p in model.metadata_props if p.key not in marks]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    for key, value in marks.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)


def onnx_owner(tool: str) -> Owner:
    """The ownership test of :func:`stamp_onnx`'s files of ``tool``.

    Returns:
        Callable[[str], str]: :data:`OURS` for a file stamped by ``tool``
        whose graph is unchanged, :data:`EDITED` for one whose graph changed
        since, else :data:`FOREIGN` (any other ONNX model, or no ONNX at all).
    """
    def owner(path: str) -> str:
        with open(path, 'rb') as f:
            if f.read(1) != b'\x08':  # a ModelProto starts with its ir_version field
                return FOREIGN
        import onnx
        try:
            model = onnx.load(path, load_external_data=False)
        except Exception:  # protobuf's DecodeError and friends: not an ONNX file
            return FOREIGN
        props = {p.key: p.value for p in model.metadata_props}
        if props.get(ONNX_WRITER_KEY) != tool or ONNX_DIGEST_KEY not in props:
            return FOREIGN
        return OURS if props[ONNX_DIGEST_KEY] == _graph_sha256(model) else EDITED
    return owner


# --------------------------------------------------------------------------- records
class OutputRecords:
    """The files a writer wrote into its output folders, by name and sha256.

    For outputs whose format has no room for a mark (pictures, videos,
    MMPose's prediction JSON). Each folder holds one record,
    ``<folder>/.mipnet_outputs.jsonl``: one JSON line ``{"file": name,
    "sha256": hex}`` per file written, the last line of a name counting; a
    record with repeated names is compacted when it is read. A file is
    :data:`OURS` while its content is the recorded one, :data:`EDITED` when
    it changed since, :data:`FOREIGN` when unlisted. The record itself is an
    output too: a file of that name that is no such record is refused.
    """

    def __init__(self) -> None:
        self._folders: Dict[str, Dict[str, str]] = {}

    def _record_of(self, folder: str) -> Dict[str, str]:
        key = osp.abspath(folder)
        if key in self._folders:
            return self._folders[key]
        path = osp.join(key, RECORD_NAME)
        check_output(path, owner=_is_record, what='the output record')
        files: Dict[str, str] = {}
        lines = 0
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                for line in f:
                    entry = json.loads(line)
                    files[entry['file']] = entry['sha256']
                    lines += 1
        if lines > len(files):
            self._rewrite(path, files)
        self._folders[key] = files
        return files

    @staticmethod
    def _rewrite(path: str, files: Dict[str, str]) -> None:
        fd, tmp = tempfile.mkstemp(dir=osp.dirname(path), prefix=RECORD_NAME)
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.writelines(json.dumps(dict(file=k, sha256=v)) + '\n' for k, v in files.items())
        os.replace(tmp, path)

    def check_folder(self, folder: str) -> None:
        """Read (and so check) the record of ``folder`` before anything is written there.

        Raises:
            OutputPathError: When the record's path is taken by another file.
        """
        if osp.isdir(folder):
            self._record_of(folder)

    def owner(self, path: str) -> str:
        """The verdict on an existing file (an :data:`Owner` for :func:`check_output`)."""
        recorded = self._record_of(osp.dirname(osp.abspath(path))).get(osp.basename(path))
        if recorded is None:
            return FOREIGN
        return OURS if file_sha256(path) == recorded else EDITED

    def add(self, path: str) -> None:
        """Record ``path`` (just written) as this writer's output."""
        folder, name = osp.split(osp.abspath(path))
        files = self._record_of(folder)
        files[name] = file_sha256(path)
        with open(osp.join(folder, RECORD_NAME), 'a', encoding='utf-8') as f:
            f.write(json.dumps(dict(file=name, sha256=files[name])) + '\n')


def _is_record(path: str) -> bool:
    """Whether ``path`` is an :class:`OutputRecords` file (every line a record entry)."""
    with open(path, encoding='utf-8') as f:
        for line in f:
            entry = json.loads(line)
            if not (isinstance(entry, dict) and isinstance(entry.get('file'), str)
                    and isinstance(entry.get('sha256'), str)):
                return False
    return True


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
