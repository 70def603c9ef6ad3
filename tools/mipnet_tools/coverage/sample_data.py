"""A stock config whose data sets read the bundled samples (data/sample/).

Each data set of the training and validation loaders keeps its stock type,
pipeline and settings; only where it reads from changes, to the sample of its
type in :data:`mipnet_tools.data_layout.BUNDLED_SAMPLES`. Parts of a
``CombinedDataset`` without a sample are dropped and listed; a data set without
one raises :class:`NoBundledSample`.
"""
import copy
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import List, Optional, Tuple

from mmengine.config import Config

from mipnet_mmpose.conversion import data_set_tree, type_name

from ..data_layout import SAMPLE_ROOT, bundled_sample

#: Training augmentations whose package is optional for MMPose.
OPTIONAL_TRANSFORMS = {'Albumentation': 'albumentations'}
#: Data set settings that name files of the full data set, not of a sample.
_FULL_DATA_FILES = ('bbox_file', 'headbox_file')


class NoBundledSample(LookupError):
    """A data set the config reads has no bundled sample."""


@dataclass
class SampleUse:
    """Which samples a loader's data set reads, and which parts were dropped."""
    samples: List[str] = field(default_factory=list)  # e.g. 'coco_mini' or 'coco (note)'
    dropped: List[str] = field(default_factory=list)  # data set types without a sample


def point_at_sample(dataset: dict, root: str = SAMPLE_ROOT,
                    use: Optional[SampleUse] = None) -> Tuple[Optional[dict], SampleUse]:
    """``dataset`` reading the bundled samples, or None when no part of it has one.

    ``CombinedDataset`` keeps the parts that have a sample (their own pipelines, e.g.
    ``KeypointConverter``, stay); ``RepeatDataset`` and ``ClassBalancedDataset``
    wrap what their data set becomes.
    """
    use = use if use is not None else SampleUse()
    kind = type_name(dataset)
    if kind == 'CombinedDataset':
        parts = []
        for part in dataset.get('datasets', []):
            pointed, _ = point_at_sample(part, root, use)
            if pointed is not None:
                parts.append(pointed)
        if not parts:
            return None, use
        out = copy.deepcopy(dataset)
        out['datasets'] = parts
        out['serialize_data'] = False  # see below
        return out, use
    if kind in ('RepeatDataset', 'ClassBalancedDataset'):
        inner, _ = point_at_sample(dataset.get('dataset'), root, use)
        if inner is None:
            return None, use
        out = copy.deepcopy(dataset)
        out['dataset'] = inner
        return out, use
    sample = bundled_sample(kind, root)
    if sample is None:
        use.dropped.append(kind)
        return None, use
    out = copy.deepcopy(dataset)
    for key in _FULL_DATA_FILES:
        out.pop(key, None)
    out.update(sample.paths(root))
    # Serializing (for data-loader workers) runs gc.collect() per data set, seconds in a
    # process holding many objects; a sample of a few boxes needs no sharing.
    out['serialize_data'] = False
    label = sample.folder + (f' ({sample.note})' if sample.note else '')
    if label not in use.samples:
        use.samples.append(label)
    return out, use


def stock_on_sample(path: str, root: str = SAMPLE_ROOT) -> Tuple[Config, SampleUse, SampleUse]:
    """The stock config at ``path`` reading the bundled samples.

    The training and validation (and test, as validation) loaders read the samples
    of their data set types; pipelines stay the config's own (a transform of
    :data:`OPTIONAL_TRANSFORMS` whose package is missing is an error: the model
    would train with other transforms than the stock config). The backbone's
    pretrained ``init_cfg`` is dropped (nothing is downloaded).

    Returns:
        tuple: The config, and the :class:`SampleUse` of its training and
        validation data (the validation data set is None where it has no sample).

    Raises:
        NoBundledSample: No part of the training data has a sample.
        ImportError: A training transform needs a package that is not installed.
    """
    cfg = Config.fromfile(path)
    for transform in _pipelines(cfg.train_dataloader.dataset):
        package = OPTIONAL_TRANSFORMS.get(type_name(transform))
        if package is not None and find_spec(package) is None:
            raise ImportError(
                f'{path}: its {type_name(transform)} transform needs {package}, which is not '
                'installed; install the version pinned in requirements.txt '
                '(tools/setup.sh does)')
    train, train_use = point_at_sample(cfg.train_dataloader.dataset, root)
    if train is None:
        raise NoBundledSample(f'no bundled sample of {", ".join(train_use.dropped)}')
    val, val_use = point_at_sample(cfg.val_dataloader.dataset, root)
    cfg.train_dataloader.dataset = train
    # None where the validation data have no sample: nothing to predict on.
    cfg.val_dataloader.dataset = val
    cfg.test_dataloader.dataset = copy.deepcopy(val)
    cfg.model.backbone.pop('init_cfg', None)
    return cfg, train_use, val_use


def _pipelines(dataset) -> list:
    """Every transform of a data set config, its parts' (and wrappers') too."""
    return [transform for _, part, _ in data_set_tree('dataset', dataset)
            for transform in (part.get('pipeline') or [])]


def scale_input(cfg: Config, factor: float) -> Config:
    """``cfg`` with its input (and heatmap, feature-map) sizes scaled by ``factor``.

    For fast checks: every ``input_size``, ``heatmap_size`` and
    ``in_featuremap_size`` in the config (codec, pipeline, head) is scaled the
    same way, so they stay consistent with each other. Sizes must stay whole
    multiples of the backbone's stride (e.g. 256x192 at 0.5 is 128x96).
    """
    out = copy.deepcopy(cfg)

    def scaled(value):
        sizes = [int(round(s * factor)) for s in value]
        if any(s < 1 for s in sizes):
            raise ValueError(f'input scale {factor} makes the size {tuple(value)} empty')
        return type(value)(sizes)

    def walk(value):
        if isinstance(value, (dict, Config)):
            for key in list(value.keys()):
                item = value[key]
                if key in ('input_size', 'heatmap_size', 'in_featuremap_size') and \
                        isinstance(item, (list, tuple)) and \
                        all(isinstance(s, int) for s in item):
                    value[key] = scaled(item)
                else:
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(out)  # top-level variables too (some configs keep e.g. ``input_size`` there)
    return out
