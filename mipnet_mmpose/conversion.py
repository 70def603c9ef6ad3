"""Turn a stock MMPose top-down config into its MIPNet version."""
import copy
import os
import os.path as osp
from typing import Any, Dict, Iterator, List, Optional, Tuple

from mmengine.config import Config, ConfigDict

from .utils.mmpose_install import installed_mmpose_path

#: Stock transforms replaced by a subclass that also handles the neighbour fields
#: (a CombinedDataset part's keypoint mapping; see
#: :mod:`mipnet_mmpose.datasets.transforms.keypoint_converter`).
TRANSFORMS = {'KeypointConverter': 'MultiInstanceKeypointConverter'}
ESTIMATOR = 'MultiInstanceTopdownPoseEstimator'
#: Placeholder written for N in the generated file, then replaced by the
#: name of the file's one ``num_instances`` variable.
_N_MARK = '__mipnet_num_instances__'


class ConversionError(ValueError):
    """A stock config that cannot be made a MIPNet config; says which part and why."""


def type_name(cfg: Any) -> str:
    """The ``type`` of a config dict without its scope (``'mmpose.CocoDataset'`` ->
    ``'CocoDataset'``; a class: its name); ``''`` for anything else."""
    kind = cfg.get('type', '') if isinstance(cfg, dict) else ''
    return kind.split('.')[-1] if isinstance(kind, str) else getattr(kind, '__name__', '')


def convert_config(cfg: Config, num_instances: int = 2,
                   lambda_encoding: Optional[str] = None) -> Config:
    """The MIPNet version of a stock MMPose top-down config.

    Changes, and nothing else: the estimator becomes
    ``MultiInstanceTopdownPoseEstimator`` with ``num_instances`` (it builds the
    stock backbone with MIMBs at its family's sites and the stock head trained
    on N instances; their configs stay as they are); every training pipeline
    (``GenerateTarget`` after ``TopdownAffine``, e.g. RTMPose's second-stage
    pipeline too) gets ``BuildInstanceSlots`` after ``TopdownAffine`` and
    encodes with ``MultiInstanceCodec`` around its stock codec; every data
    set built on MMPose's ``BaseCocoStyleDataset`` becomes
    ``MultiInstance<Name>`` and ``CocoMetric`` ``MultiInstanceCocoMetric``
    (per-box metrics, PCK/AUC/EPE/NME, stay stock); a ``KeypointConverter``
    (a ``CombinedDataset`` part's mapping to the combined keypoints) becomes
    ``MultiInstanceKeypointConverter``, which maps the part's neighbours
    too, with the same arguments; the test-time hook
    (``default_hooks.multi_instance_test``), the picture hook and the
    work-dir lock are added, checkpoints are written atomically, and
    ``custom_imports`` loads this plugin.

    Args:
        cfg (Config): A stock top-down config (``Config.fromfile`` of e.g.
            ``mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py``)
        num_instances (int): N, poses per box. Defaults to 2.
        lambda_encoding (str, optional): ``'one_hot'`` or ``'binary'``; None
            (default): :func:`~mipnet_mmpose.models.default_lambda_encoding`
            of N (the authors': binary for N = 3, 4, else one-hot).

    Returns:
        Config: The converted config (the input is not changed).

    Raises:
        ConversionError: For configs that are not single-stage top-down
            models or train on data sets without a multi-instance version,
            naming the part and the reason.
    """
    from .models.backbones import check_not_multi_stage
    from .models.heads import check_not_multi_stage_head
    from .models.mimb import check_lambda_encoding, default_lambda_encoding
    from .utils import check_int_at_least

    num_instances = check_int_at_least('num_instances', num_instances, 1)
    if lambda_encoding is None:
        lambda_encoding = default_lambda_encoding(num_instances)
    check_lambda_encoding(lambda_encoding)
    out = copy.deepcopy(cfg)
    model = out.get('model')
    if not isinstance(model, dict):
        raise ConversionError('the config has no model dict')
    kind = type_name(model)
    if kind == ESTIMATOR:
        raise ConversionError('model.type is already MultiInstanceTopdownPoseEstimator: '
                              'the config is a MIPNet config')
    if kind != 'TopdownPoseEstimator':
        raise ConversionError(f'model.type is {kind!r}: MIPNet predicts N poses per person '
                              'box, so it converts top-down models (TopdownPoseEstimator) only')
    try:
        check_not_multi_stage(type_name(model.get('backbone', {})))
        check_not_multi_stage_head(type_name(model.get('head', {})))
    except ValueError as e:
        raise ConversionError(f'model: {e}') from None
    model['type'] = ESTIMATOR
    model['num_instances'] = num_instances
    model['lambda_encoding'] = lambda_encoding

    for key in list(out.keys()):
        if key == 'model':
            continue
        out[key] = _convert(out[key], key, num_instances)
    # ``dataset_type`` stays the stock name: MMPose's inferencer reads it to pick
    # a person detector; the data loaders above already name our data sets.
    _check_training_data(out)

    hooks = out.get('default_hooks') or ConfigDict()
    hooks['multi_instance_test'] = dict(type='MultiInstanceTestHook')
    if isinstance(hooks.get('checkpoint'), dict):
        # Written to a temporary file and renamed: a killed run never leaves a
        # half-written checkpoint.
        hooks['checkpoint']['backend_args'] = dict(backend='atomic_local')
    out['default_hooks'] = hooks
    custom = list(out.get('custom_hooks') or [])
    present = {type_name(h) for h in custom}
    for hook in (dict(type='MultiInstanceVisualizationHook', max_images=20),
                 dict(type='WorkDirLockHook'), dict(type='CheckpointFileCheckHook')):
        if hook['type'] not in present:
            custom.append(hook)
    out['custom_hooks'] = custom
    out['custom_imports'] = _with_plugin_import(out.get('custom_imports'))
    return out


def _with_plugin_import(custom_imports: Any) -> dict:
    """``custom_imports`` that also imports this plugin, in every form mmengine takes.

    mmengine's ``import_modules_from_strings`` accepts ``imports`` as one module
    name (a string) or a list/tuple of names; a string must stay one name, not
    be split into its characters.
    """
    imports = custom_imports or dict(imports=[], allow_failed_imports=False)
    if not isinstance(imports, dict):
        raise ConversionError(f'custom_imports is a {type(imports).__name__}; mmengine takes '
                              "a dict such as dict(imports=['module'])")
    names = imports.get('imports') or []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ConversionError(f'custom_imports.imports is {names!r}; mmengine takes a module '
                              'name or a list of module names')
    names = list(names)
    if 'mipnet_mmpose' not in names:
        names.append('mipnet_mmpose')
    return dict(imports, imports=names)


def _convert(value: Any, path: str, num_instances: int) -> Any:
    """Convert pipelines, data sets and metrics anywhere below ``value``."""
    if isinstance(value, dict):
        value = type(value)({k: _convert(v, f'{path}.{k}', num_instances)
                             for k, v in value.items()})
        kind = type_name(value)
        if kind == 'GenerateTarget':
            encoder = value.get('encoder')
            if isinstance(encoder, (list, tuple)):
                raise ConversionError(
                    f'{path}: GenerateTarget with several encoders (one target per stage '
                    'or level) is a multi-stage model; MIPNet wraps one codec')
            if type_name(encoder) != 'MultiInstanceCodec':
                value['encoder'] = dict(type='MultiInstanceCodec', encoder=encoder)
        elif multi_instance_dataset_type(kind) is not None:
            value['type'] = multi_instance_dataset_type(kind)
        elif kind in TRANSFORMS:
            value['type'] = TRANSFORMS[kind]
        elif kind in _merging_metrics():
            # COCO-style AP metrics merge all N poses per box (the lists' owner:
            # mipnet_mmpose.evaluation).
            value['type'] = 'MultiInstance' + kind
        elif kind in _per_box_metrics():
            # Per-box metrics score the λ = 0 pose.
            value['type'] = 'LambdaZero' + kind
        return value
    if isinstance(value, (list, tuple)):
        items = [_convert(v, f'{path}[{i}]', num_instances) for i, v in enumerate(value)]
        kinds = [type_name(v) for v in items]
        if 'TopdownAffine' in kinds and 'GenerateTarget' in kinds and \
                'BuildInstanceSlots' not in kinds:
            affine = items[kinds.index('TopdownAffine')]
            slots = dict(type='BuildInstanceSlots', num_instances=num_instances,
                         use_udp=bool(affine.get('use_udp', False)))
            items.insert(kinds.index('TopdownAffine') + 1, slots)
        return type(value)(items)
    return value


def _merging_metrics() -> tuple:
    from .evaluation.metrics import MERGING_METRICS
    return MERGING_METRICS


def _per_box_metrics() -> tuple:
    from .evaluation.metrics import PER_BOX_METRICS
    return PER_BOX_METRICS


def multi_instance_dataset_type(kind: str) -> Optional[str]:
    """``MultiInstance<Name>`` for a stock data set type that has one, else None.

    Every data set registered in MMPose's ``DATASETS`` and built on its
    ``BaseCocoStyleDataset`` has one (each sample also carries the other
    instances of its image, which the instance slots are built from; see
    :func:`mipnet_mmpose.datasets.multi_instance_dataset_class`).
    """
    from mmpose.registry import DATASETS

    from .datasets import multi_instance_dataset_class
    from .utils.mixin_class import PREFIX

    if not kind or kind.startswith(PREFIX):
        return None
    cls = DATASETS.get(kind)
    try:
        return multi_instance_dataset_class(cls).__name__
    except TypeError:
        return None


def _check_training_data(cfg: Config) -> None:
    """The training data set must be one with neighbours (a multi-instance one)."""
    from mmpose.registry import DATASETS

    from .datasets import MultiInstanceDatasetMixin

    loader = cfg.get('train_dataloader')
    if not isinstance(loader, dict):
        return
    for where, part, wrapper in data_set_tree('train_dataloader.dataset',
                                               loader.get('dataset', {})):
        hands = [t for t in (part.get('pipeline') or [])
                 if type_name(t) == 'SingleHandConverter']
        if hands:
            # It maps by the sample's own hand type (left or right); the other hands
            # of the image may be of the other type, so the neighbours cannot be
            # mapped by it. (KeypointConverter parts are mapped: convert_config
            # makes them MultiInstanceKeypointConverter.)
            raise ConversionError(
                f'{where} maps its keypoints with SingleHandConverter, which maps by '
                "the sample's own hand type: the neighbours (other hands of the image) "
                'cannot be mapped by it; train on a data set without it')
        if wrapper:
            continue
        kind = type_name(part)
        cls = DATASETS.get(kind) if kind else None
        if kind and cls is None:
            # e.g. MMPose 1.3.2's hand5 config names HalpeHandDataset, which that
            # release does not define: the stock config cannot be built either.
            raise ConversionError(
                f'{where} is {kind!r}, which is not registered in DATASETS (the stock '
                'config cannot build it either): import the module that registers it '
                '(custom_imports) or remove the part')
        if not (isinstance(cls, type) and issubclass(cls, MultiInstanceDatasetMixin)):
            raise ConversionError(
                f'{where} is {kind!r}, which has no multi-instance version: MIPNet trains '
                "on every box's neighbours, read from a data set built on MMPose's "
                'BaseCocoStyleDataset (COCO, CrowdPose, COCO-WholeBody, AIC, MPII, AP-10K, '
                'OneHand10K, WFLW, ...); train on one of those')


def data_set_tree(where: str, dataset: Any) -> Iterator[Tuple[str, dict, bool]]:
    """Every data set config below ``dataset``, as (config path, config, is a wrapper).

    Wrappers hold their parts as ``datasets`` (MMPose's ``CombinedDataset``, nested
    in the whole-body cocktail; mmengine's ``ConcatDataset``) or ``dataset``
    (mmengine's ``RepeatDataset``, ``ClassBalancedDataset``); the samples come from
    the data sets at the leaves, whose neighbours MIPNet trains on.
    """
    if not isinstance(dataset, dict):
        yield where, {}, False
        return
    parts = dataset.get('datasets')
    inner = dataset.get('dataset')
    if isinstance(parts, (list, tuple)):
        yield where, dataset, True
        for i, part in enumerate(parts):
            yield from data_set_tree(f'{where}.datasets[{i}]', part)
    elif isinstance(inner, dict):
        yield where, dataset, True
        yield from data_set_tree(f'{where}.dataset', inner)
    else:
        yield where, dataset, False


def config_overrides(stock: Config, converted: Config) -> Dict[str, Any]:
    """What ``converted`` changes on top of ``stock``, as mmengine merges configs.

    Dicts are merged key by key by mmengine, so only changed keys are kept;
    lists replace the base's list whole.
    """
    def diff(old: Any, new: Any) -> Any:
        if isinstance(old, dict) and isinstance(new, dict):
            return {k: diff(old.get(k), v) for k, v in new.items()
                    if k not in old or old[k] != v}
        return new

    stock_dict, new_dict = stock.to_dict(), converted.to_dict()
    return {k: diff(stock_dict.get(k), v) for k, v in new_dict.items()
            if k not in stock_dict or stock_dict[k] != v}


def resolve_config_path(path: str) -> str:
    """A config file path from ``mmpose::<path>`` (MMPose's installed configs) or a path."""
    if path.startswith('mmpose::'):
        path = installed_mmpose_path('configs', path[len('mmpose::'):])
    if not osp.isfile(path):
        raise FileNotFoundError(f'config not found: {path}')
    return path


def base_reference(filename: str) -> str:
    """How a written config names its stock base so that the file can be copied anywhere:
    ``mmpose::<path>`` for a config installed with MMPose, else the absolute path."""
    root = osp.realpath(installed_mmpose_path('configs'))
    path = osp.realpath(filename)
    if path.startswith(root + osp.sep):
        return 'mmpose::' + osp.relpath(path, root)
    return path


#: Where MMPose's COCO configs find the data below ``data_root``; a COCO-format data set
#: laid out the same way needs only ``data_root``.
COCO_LAYOUT = dict(train_ann_file='annotations/person_keypoints_train2017.json',
                   train_img_dir='train2017/',
                   val_ann_file='annotations/person_keypoints_val2017.json',
                   val_img_dir='val2017/')
#: Placeholder for the data root in the generated file, written as the ``data_root``
#: variable (the one place the path is stated).
_ROOT_MARK = '__mipnet_data_root__'


def set_data_paths(cfg: Config, data_root: str,
                   train_ann_file: str = COCO_LAYOUT['train_ann_file'],
                   train_img_dir: str = COCO_LAYOUT['train_img_dir'],
                   val_ann_file: str = COCO_LAYOUT['val_ann_file'],
                   val_img_dir: str = COCO_LAYOUT['val_img_dir'],
                   val_bbox_file: Optional[str] = None) -> Config:
    """Point a top-down config at a COCO-format data set of one's own.

    Sets ``data_root``, ``ann_file`` and ``data_prefix.img`` of the training
    data set (train split) and of the validation and test data sets (val
    split), their ``bbox_file`` (``None``: GT boxes), and the ``ann_file`` of
    every evaluator that has one (``data_root + val_ann_file``).

    Args:
        cfg (Config): A top-down config (stock or converted)
        data_root (str): The data set's folder, ending in ``/``
        train_ann_file (str): Training annotations, relative to ``data_root``
        train_img_dir (str): Training images, relative to ``data_root``
        val_ann_file (str): Validation/test annotations, relative to ``data_root``
        val_img_dir (str): Validation/test images, relative to ``data_root``
        val_bbox_file (str, optional): A detection file (COCO results format) for
            validation and test; relative to the working directory, as MMPose
            reads it. Defaults to None (GT boxes).

    Returns:
        Config: A copy with the data paths set.

    Raises:
        ConversionError: ``data_root`` is empty (every path would start at
            ``/``), or a data set is a ``CombinedDataset``.
    """
    if not isinstance(data_root, str) or not data_root.strip():
        raise ConversionError(f"data_root={data_root!r} names no folder: give the data set's "
                              "folder, e.g. 'data/my_dataset/' ('./' for the working "
                              'directory)')
    if not data_root.endswith('/'):
        data_root += '/'
    out = copy.deepcopy(cfg)
    splits = dict(train_dataloader=(train_ann_file, train_img_dir),
                  val_dataloader=(val_ann_file, val_img_dir),
                  test_dataloader=(val_ann_file, val_img_dir))
    for loader, (ann_file, img_dir) in splits.items():
        dataset = (out.get(loader) or {}).get('dataset')
        if not isinstance(dataset, dict):
            continue
        if type_name(dataset) == 'CombinedDataset':
            raise ConversionError(f'{loader}.dataset is a CombinedDataset: set the data '
                                  'paths of each of its data sets by hand')
        dataset.update(data_root=data_root, ann_file=ann_file,
                       data_prefix=dict(dataset.get('data_prefix') or {}, img=img_dir))
        if loader != 'train_dataloader':
            dataset['bbox_file'] = val_bbox_file
    for key in ('val_evaluator', 'test_evaluator'):
        metrics = out.get(key)
        for metric in (metrics if isinstance(metrics, (list, tuple)) else [metrics]):
            if isinstance(metric, dict) and 'ann_file' in metric:
                metric['ann_file'] = data_root + val_ann_file
    out['data_root'] = data_root
    return out


def _mark_data_root(overrides: Dict[str, Any], data_root: str) -> Dict[str, Any]:
    """Overrides whose data-root strings are the placeholder (written as the variable)."""
    def mark(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        if isinstance(value, str) and value.startswith(data_root):
            return _ROOT_MARK + value[len(data_root):]
        return value
    return {k: mark(v) for k, v in overrides.items() if k != 'data_root'}


def converted_config_text(stock: Config, num_instances: int = 2,
                          lambda_encoding: Optional[str] = None,
                          base: Optional[str] = None, header: str = '',
                          data: Optional[Dict[str, Any]] = None) -> str:
    """A short config file: ``_base_`` = the stock config, then the MIPNet changes.

    N is written once, as the variable ``num_instances`` that the model and
    the instance slots read. With ``data`` (the arguments of
    :func:`set_data_paths`), the data sets and evaluators are pointed at that
    data, and its folder is written once, as the variable ``data_root``.

    Raises:
        ConversionError: Also for a lazy-import (new-style) stock config,
            which a written config can neither hold (its values are imported
            classes) nor name as its ``_base_`` (mmengine mixes no styles);
            the message names the old-style config to convert instead.
    """
    # Its items as built (a lazy-import config's types are classes; to_dict names them).
    _check_writable(dict(stock.items()), stock.filename)
    converted = convert_config(stock, num_instances, lambda_encoding)
    if data:
        converted = set_data_paths(converted, **data)
    overrides = config_overrides(stock, _mark_n(converted))
    data_lines: List[str] = []
    if data:
        # Every data path is written, also those equal to the stock config's: the
        # reader sees the whole data set in one place.
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            dataset = (converted.get(loader) or {}).get('dataset')
            if isinstance(dataset, dict):
                written = overrides.setdefault(loader, {}).setdefault('dataset', {})
                for key in ('data_root', 'ann_file', 'data_prefix', 'bbox_file'):
                    if key in dataset:
                        written[key] = dataset[key]
        overrides = _mark_data_root(overrides, converted['data_root'])
        data_lines = ['# The data set, stated once: its folder (data_root) and the files below it.',
                      f"data_root = {converted['data_root']!r}", '']
    base = base or base_reference(stock.filename)
    names = {k: v for k, v in overrides.items() if isinstance(v, list) and 'pipeline' in k}
    # Pipeline variables first, so the later values can name them.
    order = list(names) + [k for k in overrides if k not in names]
    body = '\n'.join(f'{key} = {_format(overrides[key], names, indent=0, skip=key)}'
                      for key in order)
    body = body.replace(f"'{_N_MARK}'", 'num_instances')
    body = body.replace(f"'{_ROOT_MARK}'", 'data_root').replace(f"'{_ROOT_MARK}",
                                                                "data_root + '")
    lines = [header.rstrip('\n')] if header else []
    # repr: a path holding a quote or a backslash stays one valid string.
    lines += [f'_base_ = [{base!r}]', '',
              '# N, poses per box (λ = 0..N-1): set once, read by the model and the',
              '# instance slots of the training pipeline(s).',
              f'num_instances = {num_instances}', ''] + data_lines + [body]
    return '\n'.join(lines).rstrip('\n') + '\n'


#: The values a config file holds as Python literals.
_LITERALS = (type(None), bool, int, float, complex, str, bytes)


def _unwritable(value: Any, path: str) -> Optional[Tuple[str, Any]]:
    """The first (key path, value) in ``value`` that is no Python literal, else None."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, (list, tuple)):
        items = enumerate(value)
    else:
        return None if isinstance(value, _LITERALS) else (path, value)
    for key, item in items:
        found = _unwritable(item, f'{path}[{key}]' if isinstance(key, int) else
                            f'{path}.{key}' if path else str(key))
        if found:
            return found
    return None


def _check_writable(values: Dict[str, Any], filename: Optional[str]) -> None:
    """Refuse a stock config whose values a config file cannot hold (a lazy-import config's).

    Raises:
        ConversionError: Naming the value and the old-style config to convert
            instead (see :func:`old_style_config`).
    """
    found = _unwritable(values, '')
    if found is None:
        return
    path, value = found
    old = old_style_config(filename) if filename else None
    instead = (f'convert the old-style config {old} instead' if old else
               'convert an old-style config of the model instead (one whose types are '
               "strings, type='...', e.g. an mmpose::<task>/<algorithm>/<data set>/<name>.py)")
    raise ConversionError(f'{path} is {value!r}, an imported Python object: a lazy-import '
                          '(new-style) config, which a written config can neither hold nor '
                          f'inherit; {instead}')


def old_style_config(filename: str) -> Optional[str]:
    """MMPose's old-style config of the model a new-style config describes, if installed.

    MMPose's new-style (lazy-import) configs, ``mmpose/configs/<task>/...``,
    mirror its old-style ones, ``mmpose::<task>/...``, with ``_`` for some
    ``-`` in the file names (``rtmpose_m_8xb256-420e_coco-256x192.py`` for
    ``rtmpose-m_8xb256-420e_coco-256x192.py``).

    Returns:
        str | None: ``mmpose::<path>`` of the installed old-style config in
        the same folder whose name differs only in ``_`` / ``-``, else None.
    """
    parts = osp.abspath(filename).split(os.sep)
    if 'configs' not in parts:
        return None
    below = parts[len(parts) - parts[::-1].index('configs'):]
    folder = installed_mmpose_path('configs', *below[:-1])
    key = below[-1].replace('_', '-')
    for name in sorted(os.listdir(folder)) if osp.isdir(folder) else []:
        if name.replace('_', '-') == key:
            return 'mmpose::' + '/'.join(below[:-1] + [name])
    return None


def _mark_n(cfg: Config) -> Config:
    """A copy whose N fields hold a placeholder (to be written as the variable)."""
    out = copy.deepcopy(cfg)
    out['model']['num_instances'] = _N_MARK

    def mark(value: Any) -> None:
        if isinstance(value, dict):
            if type_name(value) == 'BuildInstanceSlots':
                value['num_instances'] = _N_MARK
            for v in value.values():
                mark(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                mark(v)

    for key in out.keys():
        if key != 'model':
            mark(out[key])
    return out


def _format(value: Any, names: Dict[str, Any], indent: int, skip: str = '',
            width: int = 96) -> str:
    """Python source for a config value: one line when it fits, else one item per
    line; a list equal to a top-level pipeline variable is written as its name."""
    for name, named in names.items():
        if name != skip and value == named:
            return name
    pad = ' ' * (indent + 4)
    if isinstance(value, dict):
        items = [(f'{k}=' if str(k).isidentifier() else f'{k!r}: ', v) for k, v in value.items()]
        keyed = all(str(k).isidentifier() for k in value)
        flat = ', '.join(p + _format(v, names, indent + 4) for p, v in items)
        one = f'dict({flat})' if keyed else '{' + flat + '}'
        if len(one) + indent <= width and '\n' not in one:
            return one
        inner = (',\n').join(pad + p + _format(v, names, indent + 4) for p, v in items)
        return (f'dict(\n{inner})' if keyed else '{\n' + inner + '}')
    if isinstance(value, (list, tuple)):
        parts = [_format(v, names, indent + 4) for v in value]
        close = ',)' if isinstance(value, tuple) and len(value) == 1 else ')'
        start, end = ('[', ']') if isinstance(value, list) else ('(', close)
        one = start + ', '.join(parts) + end
        if len(one) + indent <= width and '\n' not in one:
            return one
        return start + '\n' + ',\n'.join(pad + p for p in parts) + ',\n' + ' ' * indent + end
    return repr(value)
