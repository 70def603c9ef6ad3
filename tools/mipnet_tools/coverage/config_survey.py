"""MMPose's installed top-down configs, grouped by (task, data set, training data, family).

MMPose keeps its 2D configs as ``configs/<task>/<algorithm>/<data set>/<name>.py``
(e.g. ``body_2d_keypoint/topdown_heatmap/aic/td-hm_hrnet-w32_8xb64-210e_aic-256x192.py``).
A config is top-down when its ``model.type`` is ``TopdownPoseEstimator`` (the only
kind MIPNet converts); the others (bottom-up, distillation) are counted, not grouped.
"""
import glob
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config

from mipnet_mmpose.conversion import data_set_tree
from mipnet_mmpose.utils.mmpose_install import installed_mmpose_path

#: MMPose's 2D task folders, in the order of its docs.
TASKS = ('body_2d_keypoint', 'wholebody_2d_keypoint', 'animal_2d_keypoint',
         'hand_2d_keypoint', 'face_2d_keypoint', 'fashion_2d_keypoint')


def mmpose_config_root() -> str:
    """The installed MMPose's ``.mim/configs`` folder."""
    return installed_mmpose_path('configs')


def _type(cfg) -> str:
    kind = cfg.get('type', '') if isinstance(cfg, dict) else type(cfg).__name__
    return str(kind)


def family_of(cfg: Config) -> str:
    """``backbone/head/codec`` of a top-down config."""
    codec = cfg.get('codec')
    # Multi-stage models list one codec per stage: the family is the codec type.
    codec_type = '+'.join(sorted({_type(c) for c in codec})) if isinstance(codec, list) \
        else _type(codec)
    return f'{_type(cfg.model.backbone)}/{_type(cfg.model.head)}/{codec_type}'


def leaf_datasets(dataset: dict) -> List[dict]:
    """The data sets that read files, below ``CombinedDataset`` and ``RepeatDataset`` too."""
    return [part for _, part, wrapper in data_set_tree('dataset', dataset)
            if part and not wrapper]


def training_data(cfg: Config) -> str:
    """The training set's data set types, each once, e.g. ``Coco`` or ``Coco + Aic``."""
    names: List[str] = []
    for leaf in leaf_datasets(cfg.train_dataloader.dataset):
        name = re.sub(r'Dataset$', '', _type(leaf).split('.')[-1])
        if name not in names:
            names.append(name)
    return ' + '.join(names)


@dataclass
class ConfigEntry:
    """One top-down config and the group it belongs to."""
    path: str
    task: str  # e.g. 'hand_2d_keypoint'
    dataset: str  # MMPose's data set folder, e.g. 'onehand10k', 'body8'
    training_data: str  # e.g. 'OneHand10K', 'Coco + Aic'
    family: str  # 'backbone/head/codec'

    @property
    def key(self) -> Tuple[str, str, str, str]:
        return self.task, self.dataset, self.training_data, self.family


@dataclass
class Survey:
    """The top-down configs of the walked task folders, and what was left out."""
    entries: List[ConfigEntry]
    not_top_down: Dict[str, Dict[str, int]]  # task -> model type -> configs
    unreadable: Dict[str, str]  # path -> why it could not be read


def _location(path: str, root: str) -> Tuple[str, str]:
    """(task, data set folder) of a config path below ``root``."""
    parts = osp.relpath(path, root).split(osp.sep)
    return parts[0], parts[2]  # <task>/<algorithm>/<data set>/...


def survey_configs(tasks: Optional[Sequence[str]] = None,
                   datasets: Optional[Sequence[str]] = None,
                   root: Optional[str] = None) -> Survey:
    """Read MMPose's configs of ``tasks`` (default: :data:`TASKS`) and keep the top-down ones.

    Args:
        tasks (Sequence[str], optional): Task folders, or their first word
            (``'hand'`` for ``hand_2d_keypoint``).
        datasets (Sequence[str], optional): Only these data set folders (e.g. ``body8``).
        root (str, optional): The configs folder. Defaults to the installed MMPose's.
    """
    root = root or mmpose_config_root()
    wanted = [resolve_task(t) for t in tasks] if tasks else list(TASKS)
    entries, not_top_down, unreadable = [], OrderedDict(), OrderedDict()
    for task in wanted:
        paths = sorted(glob.glob(osp.join(root, task, '*', '*', '**', '*.py'), recursive=True))
        for path in paths:
            _, folder = _location(path, root)
            if datasets and folder not in datasets:
                continue
            try:
                cfg = Config.fromfile(path)
            except Exception as e:  # e.g. a new-style config whose bases are not installed
                # Paths below site-packages only: the page is shared.
                site = osp.dirname(osp.dirname(osp.dirname(root))) + osp.sep
                why = str(e).splitlines()[0].replace(site, '')[:160]
                unreadable[osp.relpath(path, root)] = f'{type(e).__name__}: {why}'
                continue
            model = cfg.get('model')
            kind = _type(model) if isinstance(model, dict) else 'no model'
            if kind != 'TopdownPoseEstimator':
                counts = not_top_down.setdefault(task, OrderedDict())
                counts[kind] = counts.get(kind, 0) + 1
                continue
            entries.append(ConfigEntry(path, task, folder, training_data(cfg), family_of(cfg)))
    return Survey(entries, not_top_down, unreadable)


def resolve_task(name: str) -> str:
    """A task folder from its name or first word (``'body'`` -> ``'body_2d_keypoint'``)."""
    for task in TASKS:
        if name in (task, task.split('_')[0]):
            return task
    raise ValueError(f'unknown task {name!r}; known: {", ".join(TASKS)} '
                     '(or their first word)')


def checked_first(path: str) -> tuple:
    """Sort key of a group's configs: the smallest input first, then by name."""
    name = osp.basename(path)
    size = re.search(r'(\d+)x(\d+)(?:-merge)?\.py$', name)
    area = int(size.group(1)) * int(size.group(2)) if size else 0
    return area, name


def group_configs(entries: Sequence[ConfigEntry]) -> Dict[tuple, List[str]]:
    """(task, data set, training data, family) -> its configs, the one to check first.

    Groups keep the order of :data:`TASKS`, then data set folder, training data and
    family, so the table reads the same however the walk was filtered.
    """
    found: Dict[tuple, List[str]] = {}
    for entry in entries:
        found.setdefault(entry.key, []).append(entry.path)
    order = sorted(found, key=lambda k: (TASKS.index(k[0]) if k[0] in TASKS else len(TASKS),)
                   + k[1:])
    return OrderedDict((k, sorted(found[k], key=checked_first)) for k in order)
