"""Which checkpoints a config loads, whether they are there, where each comes from and the
command that makes it (tools/prepare_data.py check).

The checkpoints are read from the config itself: ``load_from`` and the ``Pretrained``
``init_cfg`` of the model's backbone, neck and head; the alternatives a config offers in
its ``start_checkpoints`` dict (``--cfg-options load_from=...``) are named beside them.
Sources and commands are found from the file name (docs/reproduce.md, "Data, checkpoints and
commands").
"""
import glob
import os.path as osp
import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from mmengine.config import Config

from mipnet_mmpose.engine.init_checkpoints import (
    cached_checkpoint,
    download_url,
    init_cfg_fix,
    offline_guidance,
    pretrained_checkpoints,
)
from mipnet_mmpose.utils.mmpose_install import installed_mmpose_path
from mipnet_tools.metafile import (
    AUTHORS_MODEL_ZOO,
    AUTHORS_W48_CONVERTED,
    authors_convert_command,
    mmpose_download_command,
)

#: HRNet's and SimpleBaseline's single-person releases, converted by
#: ``tools/convert_official_ckpt.py --release`` to ``<release name>_mmpose.pth``.
RELEASE_SOURCES = {
    'pose_hrnet': "HRNet's model zoo, https://github.com/leoxiaobin/deep-high-resolution-net"
                  '.pytorch (its README links the Google Drive / OneDrive folder; the file is '
                  'in models/pytorch/pose_coco/)',
    'pose_resnet': "SimpleBaseline's model zoo, https://github.com/microsoft/human-pose-"
                   'estimation.pytorch (its README links the folder; models/pytorch/pose_coco/)',
}
#: An MMPose model-zoo file: ``<config name>-<8 hex>_<date>.pth``.
_MMPOSE_FILE = re.compile(r'^(?P<name>.+)-[0-9a-f]{8}_\d{8}\.pth$')
_RELEASE_FILE = re.compile(r'^(?P<release>(?P<family>pose_hrnet|pose_resnet)_.+)_mmpose\.pth$')


@dataclass
class CheckpointEntry:
    """One checkpoint a config loads (or offers in ``start_checkpoints``)."""
    path: str  # as the config names it: a local path or a URL
    field: str  # e.g. 'load_from', 'model.backbone.init_cfg.checkpoint'
    config: str  # the config file as given on the command line (used in the command)
    alternative: bool = False  # in start_checkpoints only: not loaded unless chosen

    @property
    def is_remote(self) -> bool:
        """``https://``, ``torchvision://``, ``open-mmlab://``...: fetched by MMEngine."""
        return '://' in self.path

    @property
    def exists(self) -> bool:
        return self.is_remote or osp.isfile(self.path)

    @property
    def cached(self) -> Optional[str]:
        """Where MMEngine keeps the download of a URL (None: local, or not resolved)."""
        url = download_url(self.path) if self.is_remote else None
        return cached_checkpoint(url) if url else None

    @property
    def origin(self) -> Tuple[str, Optional[str]]:
        """(where the file comes from, the command that makes it or None)."""
        return checkpoint_origin(self.path, self.config)


def mmpose_weights_url(file_name: str) -> Optional[str]:
    """The URL of an MMPose model-zoo file, from the metafiles installed with MMPose."""
    root = installed_mmpose_path('configs')
    for path in glob.glob(osp.join(root, '**', '*.yml'), recursive=True):
        with open(path) as f:
            for line in f:
                if line.rstrip().endswith('/' + file_name) and 'Weights:' in line:
                    return line.split('Weights:', 1)[1].strip()
    return None


def checkpoint_origin(path: str, config: str) -> Tuple[str, Optional[str]]:
    """Where the checkpoint ``path`` comes from and the command that makes it.

    Args:
        path (str): The checkpoint as a config names it.
        config (str): The config file (given to the conversion command: it builds the
            same architecture).

    Returns:
        tuple[str, str | None]: The source, and the command (None for a URL, which
        MMEngine downloads itself, and for an unknown file).
    """
    if '://' in path:
        url = download_url(path)
        cache = cached_checkpoint(url) if url else '~/.cache/torch/hub/checkpoints/'
        return (f'downloaded by MMEngine when training starts ({url or path}, kept in '
                f'{cache})', None)
    name, folder = osp.basename(path), osp.dirname(path) or '.'
    release = _RELEASE_FILE.match(name)
    if release:
        source = (f"{release['release']}.pth, {RELEASE_SOURCES[release['family']]}, "
                  'converted into MMPose\'s layout')
        return source, (f"python tools/convert_official_ckpt.py {release['release']}.pth "
                        f'{path} --release --config {config}')
    mmpose_file = _MMPOSE_FILE.match(name)
    if mmpose_file:
        url = mmpose_weights_url(name)
        source = f"MMPose's model zoo ({url or mmpose_file['name']})"
        return source, mmpose_download_command(mmpose_file['name'], dest=folder)
    if name == osp.basename(AUTHORS_W48_CONVERTED):
        return (f"the authors' released MIPNet checkpoint ({AUTHORS_MODEL_ZOO}), converted",
                authors_convert_command())
    return 'your own checkpoint (not one this repository knows)', None


def config_checkpoints(cfg: Config, config: str) -> List[CheckpointEntry]:
    """Every checkpoint the config loads, then the alternatives of its ``start_checkpoints``.

    Args:
        cfg (Config): The loaded config.
        config (str): Its file as the user named it.

    Returns:
        list[CheckpointEntry]: ``load_from`` first, then the model's ``init_cfg``
        checkpoints, then the ``start_checkpoints`` it does not load; each path once.
    """
    entries: List[CheckpointEntry] = []
    seen = set()

    def add(path: Optional[str], field: str, alternative: bool = False) -> None:
        if path and path not in seen:
            seen.add(path)
            entries.append(CheckpointEntry(path, field, config, alternative))

    add(cfg.get('load_from'), 'load_from')
    for path, key in pretrained_checkpoints(cfg.get('model')):
        add(path, key)
    for key, path in (cfg.get('start_checkpoints') or {}).items():
        add(path, f"start_checkpoints['{key}']", alternative=True)
    return entries


def describe_checkpoints(entries: Sequence[CheckpointEntry]) -> str:
    """A report of each checkpoint: there or missing, its source and the command."""
    lines = []
    for entry in entries:
        source, command = entry.origin
        if entry.alternative:
            state = 'there' if entry.exists else 'not there'
            lines.append(f'alternative start checkpoint {entry.path} ({entry.field}; '
                         f'--cfg-options load_from={entry.path}): {state}')
        elif entry.is_remote:
            cached = entry.cached
            state = 'downloaded' if cached and osp.isfile(cached) else 'remote'
            lines.append(f'{state} checkpoint {entry.path} (config field {entry.field})')
        else:
            state = 'there' if entry.exists else 'missing'
            lines.append(f'{state} checkpoint {entry.path} (config field {entry.field})')
        lines.append(f'    from: {source}')
        if command and not entry.exists:
            lines.append(f'    make it: {command}')
        # The same guidance as CheckpointFileCheckHook's when the run cannot load it.
        if entry.is_remote and not entry.alternative and state == 'remote':
            lines.append(f'    offline: {offline_guidance(entry.path, entry.field)}')
        elif entry.field.startswith('model.') and state == 'missing':
            lines.append(f'    or: {init_cfg_fix(entry.field)}')
    return '\n'.join(lines)
