"""Convert the MIPNet authors' checkpoints (and the single-person releases they
start from) into this plugin's state-dict layout.

The authors' code (GitHub ``rawalkhirodkar/MIPNet``, ``lib/models/``) builds
the original HRNet / SimpleBaseline module tree with the λ-conditioned
squeeze-excite blocks ("SE-λ", our MIMB) as extra top-level modules:

- HRNet-λ (``pose_hrnet_se_lambda``): stem ``conv1``/``bn1``/``conv2``/``bn2``,
  ``layer1``, ``transition1..3``, ``stage2..4`` with ``branches``/``fuse_layers``,
  and ``final_layer`` (1x1 conv, K outputs, with bias). The SE-λ blocks are
  ``stage{s}_se.se_layers.{i}`` where ``stage3_se`` modulates the four stage-4
  inputs and ``stage4_se`` the high-resolution stage-4 output (their released
  models use ``SE_MODULES=[False, False, True, True]``; ``stage1_se`` and
  ``stage2_se``, on the stage-2/3 inputs, are not built by :class:`MIPHRNet`).
- ResNet-λ (``pose_resnet_se_lambda``): ``conv1``/``bn1``, ``layer1..4``,
  ``deconv_layers`` (ConvTranspose2d, BN, ReLU per layer), ``final_layer``, and
  ``layer{l}_se.se_layers.0`` before ResNet layer l.
- One SE-λ block: ``fc`` = Linear(C, C/4, no bias), ReLU, Linear(C/4, C, no
  bias), Sigmoid and ``fc_lambda`` = Linear(2, C/4), BatchNorm1d(C/4), ReLU,
  Linear(C/4, C), Sigmoid. The Sequential indices of the layers with
  parameters (0/2 and 0/1/3) are those of :class:`MIMB`'s ``se_gate`` and
  ``lambda_gate``, so only the module path changes.

MMPose's HRNet/ResNet keep the original names of the stem, blocks (``bn1``
etc.), transitions and fuse layers, so those only gain the ``backbone.``
prefix; ``final_layer`` and ``deconv_layers`` move to ``head.``.

The authors' code feeds a 2-vector code of λ in every model (one-hot for N=2,
2-bit binary for N=3/4), so a checkpoint does not tell N: the config decides,
and a shape check catches an encoding whose code length is not 2. For N=2 their
training pairs the code [1, 0] with the box's own person and [0, 1] with the
nearest other person (their evaluation script calls these ``lambda_val`` 1 and
0, and decays the score of the latter): exactly our one-hot λ=0 and λ=1, so the
converted weights need no reordering.

The authors' COCO HRNet runs start from HRNet's own release
(``pose_hrnet_w32_256x192.pth``, ``pose_hrnet_w48_384x288.pth`` of GitHub
``leoxiaobin/deep-high-resolution-net.pytorch``, ``lib/models/pose_hrnet.py``):
the same names without the SE-λ blocks. Such a release converts onto the
N=1 model of a config (:func:`release_model_cfg`), i.e. MMPose's ``HRNet`` +
``HeatmapHead``.
"""
import os
import pickletools
import re
import zipfile
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.runner import save_checkpoint
from torch import Tensor, nn

# Also registers the 'atomic_local' file backend used to save the converted checkpoint.
from ...engine.checkpoint_io import (
    CorruptCheckpointError,
    UnsafeCheckpointError,
    load_checkpoint_file,
)

#: One renaming rule: a regular expression on the authors' key (full match)
#: and the replacement template giving ours.
Rule = Tuple[str, str]

#: Containers the authors' training script writes, in the order their own
#: test script prefers them (``latest_state_dict`` first); ``state_dict`` there
#: holds the DataParallel-wrapped model (``module.`` prefix).
STATE_DICT_CONTAINERS = ('latest_state_dict', 'state_dict', 'best_state_dict', 'model')

#: How many keys of each kind of problem an error lists (a checkpoint of another
#: model has hundreds).
LISTED = 12

#: Buffers our model has and the authors' do not: filled by the converter.
CONVERTER_FILLED_KEYS = ('backbone.mip_meta', )

#: Batch norm's step counter. PyTorch added it in 0.4.1 (2018): a checkpoint
#: saved before has none (SimpleBaseline's 2018 releases; HRNet's 2019 ones
#: could not be checked), and PyTorch's own BatchNorm loading fills it then.
BATCH_COUNTER = 'num_batches_tracked'


def _se_lambda_rules(theirs: str, ours: str) -> List[Rule]:
    """Rules for one authors' ``SELambdaModule`` onto one of our MIMB ModuleLists.

    Args:
        theirs (str): The authors' module path, e.g. ``stage3_se``.
        ours (str): Our ModuleList path, e.g. ``backbone.mimb_stage4_inputs``.
    """
    t = re.escape(theirs)
    return [
        # fc.0 / fc.2: the squeeze-excite Linear layers (no bias).
        (rf'{t}\.se_layers\.(\d+)\.fc\.([02])\.weight', rf'{ours}.\1.se_gate.\2.weight'),
        # fc_lambda.0 Linear, .1 BatchNorm1d (with its statistics), .3 Linear.
        (rf'{t}\.se_layers\.(\d+)\.fc_lambda\.([013])\.(\w+)', rf'{ours}.\1.lambda_gate.\2.\3'),
    ]


#: The authors' HRNet-λ names onto :class:`MIPHRNet` + :class:`MultiInstanceHeatmapHead`.
HRNET_RULES: Tuple[Rule, ...] = tuple(
    _se_lambda_rules('stage3_se', 'backbone.mimb_stage4_inputs') +
    _se_lambda_rules('stage4_se', 'backbone.mimb_output') + [
        (r'final_layer\.(weight|bias)', r'head.final_layer.\1'),
        (r'((?:conv|bn)[12]\.\w+)', r'backbone.\1'),
        (r'((?:layer1|transition[123]|stage[234])\..+)', r'backbone.\1'),
    ])

#: The authors' ResNet-λ names onto :class:`MIPResNet` + :class:`MultiInstanceHeatmapHead`
#: (SE-λ before ResNet layer l is our ``mimb_layer{l}``).
RESNET_RULES: Tuple[Rule, ...] = tuple(
    [rule for layer in (1, 2, 3, 4)
     for rule in _se_lambda_rules(f'layer{layer}_se', f'backbone.mimb_layer{layer}')] + [
        (r'final_layer\.(weight|bias)', r'head.final_layer.\1'),
        (r'(deconv_layers\..+)', r'head.\1'),
        (r'((?:conv1|bn1)\.\w+)', r'backbone.\1'),
        (r'(layer[1-4]\..+)', r'backbone.\1'),
    ])

#: Rules per backbone type. The single-person releases the authors start from
#: (HRNet's ``pose_hrnet_w{32,48}_*.pth``, SimpleBaseline's ``pose_resnet_*.pth``)
#: have the same names without the SE-λ blocks: they convert onto MMPose's stock
#: ``HRNet``/``ResNet`` + ``HeatmapHead`` (or our backbones built with N=1) with the
#: same rules.
RULES_BY_BACKBONE: Dict[str, Tuple[Rule, ...]] = {
    'MIPHRNet': HRNET_RULES,
    'MIPResNet': RESNET_RULES,
    'HRNet': HRNET_RULES,
    'ResNet': RESNET_RULES,
}

#: What every SE-λ block's keys contain; a checkpoint without it is a single-person release.
_SE_LAMBDA_MARK = '_se.se_layers.'


def is_single_person_release(source: Mapping[str, Tensor]) -> bool:
    """True when the checkpoint has no SE-λ block (an HRNet/SimpleBaseline release)."""
    return not any(_SE_LAMBDA_MARK in key for key in source)


def release_model_cfg(model_cfg: Mapping) -> dict:
    """The single-person (N=1) version of a MIPNet model config.

    An N=1 :class:`MultiInstanceTopdownPoseEstimator` is MMPose's HRNet/ResNet
    and ``HeatmapHead`` with their stock parameter names and no MIMB, so a
    release converted for it is a stock MMPose checkpoint: MMPose's own
    estimator loads it strictly, and the N>1 MIPNet model of the same config
    starts from it with ``load_from`` (only its MIMB keys missing).
    """
    cfg = dict(model_cfg)
    if cfg.get('type') == 'MultiInstanceTopdownPoseEstimator':
        cfg.update(num_instances=1)
        for key in ('loss_lambdas', 'optimizer_step_per_lambda', 'forward_per_lambda',
                    'lambda_encoding'):
            cfg.pop(key, None)
    return cfg


class OfficialCheckpointError(ValueError):
    """The authors' checkpoint does not fit the model built from the config."""


def rules_for_model(model: nn.Module) -> Tuple[Rule, ...]:
    """The renaming rules for a built estimator, chosen by its backbone class."""
    backbone = getattr(model, 'backbone', None)
    name = type(backbone).__name__
    if name not in RULES_BY_BACKBONE:
        raise OfficialCheckpointError(
            f'no mapping from the authors\' checkpoints for backbone {name}; '
            f'supported: {sorted(RULES_BY_BACKBONE)}')
    return RULES_BY_BACKBONE[name]


def map_official_key(name: str, rules: Sequence[Rule]) -> Optional[str]:
    """Our key for the authors' key ``name`` (first matching rule), or None."""
    for pattern, template in rules:
        match = re.fullmatch(pattern, name)
        if match:
            return match.expand(template)
    return None


def extract_state_dict(obj: object) -> Tuple[Dict[str, Tensor], str]:
    """The model weights inside a loaded checkpoint object.

    Accepts the authors' training checkpoints (``latest_state_dict`` /
    ``state_dict`` / ``best_state_dict``), a bare state dict (their
    ``final_state.pth``), and DataParallel ``module.`` prefixes.

    Returns:
        tuple: The state dict without ``module.`` prefixes, and where in the
        object it was found (e.g. ``'latest_state_dict'`` or ``'<root>'``).
    """
    if not isinstance(obj, Mapping):
        raise OfficialCheckpointError(
            f'expected a checkpoint dict, got {type(obj).__name__}')
    where = '<root>'
    for key in STATE_DICT_CONTAINERS:
        if isinstance(obj.get(key), Mapping):
            obj, where = obj[key], key
            break
    state = {k: v for k, v in obj.items() if isinstance(v, Tensor)}
    if not state:
        raise OfficialCheckpointError(
            f'no tensors found in the checkpoint (looked in {where}; top-level keys: '
            f'{sorted(map(str, obj))[:20]})')
    skipped = sorted(k for k, v in obj.items() if not isinstance(v, Tensor))
    if skipped:
        raise OfficialCheckpointError(
            f'the state dict in {where} holds non-tensor entries: {skipped[:20]}')
    if all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state, where


#: What the keys of an MMPose (mmengine) state dict start with, as MMPose's
#: estimators and this plugin save them; the authors' keys start with none of them.
MMPOSE_KEY_PREFIXES = ('backbone.', 'neck.', 'head.', 'data_preprocessor.')


def mmpose_layout_error(path: str, keys: Sequence[str]) -> Optional[str]:
    """The error for a checkpoint that is already in MMPose's layout, else None.

    Args:
        path (str): The file, for the message.
        keys (Sequence[str]): Its state-dict keys (``module.`` removed), or,
            read without unpickling, the strings of its pickle.

    Returns:
        str | None: One sentence saying what the file is and what to do with
        it instead of converting it; None when ``keys`` are not MMPose's.
    """
    ours = [key for key in keys if key.startswith(MMPOSE_KEY_PREFIXES)]
    if not ours:
        return None
    if any('mimb' in key for key in ours):
        what = ('a MIPNet checkpoint of this plugin (it has MIMB weights): test it or run '
                'inference with it as it is (`mim test mmpose CONFIG --checkpoint '
                f'{path}`, MIPNetInferencer)')
    else:
        what = ('a stock MMPose checkpoint (no MIMB weights): a MIPNet run starts from it '
                "as it is, as the config's `load_from`")
    return (f'{path} is already in the MMPose layout (state_dict keys backbone.*, '
            f'head.*): {what}. It needs no conversion; this tool converts the MIPNet '
            "authors' checkpoints and the HRNet/SimpleBaseline releases.")


def _pickled_strings(path: str) -> List[str]:
    """The strings in the pickle of a torch zip checkpoint, read without unpickling.

    :mod:`pickletools` walks the opcodes and runs none of them, so a file that
    ``weights_only`` loading refuses (an mmengine training checkpoint holds
    numpy arrays and mmengine objects) is looked into without running it.
    """
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.rsplit('/', 1)[-1] == 'data.pkl']
        if not names:
            return []
        with archive.open(names[0]) as data:
            return [arg for op, arg, _ in pickletools.genops(data)
                    if isinstance(arg, str) and 'UNICODE' in op.name]


def _unreadable_reason(path: str) -> Optional[str]:
    """Why ``path`` is no checkpoint at all (empty, text, a cut zip), or None.

    torch writes a zip archive (PyTorch >= 1.6) or a pickle, whose first byte
    is the PROTO opcode ``0x80``.
    """
    size = os.path.getsize(path)
    if size == 0:
        return f'{path} is empty (0 bytes): it is no checkpoint; download or copy it again.'
    with open(path, 'rb') as f:
        head = f.read(64)
    if head.startswith(b'PK'):
        if not zipfile.is_zipfile(path):
            return (f'{path} ({size} bytes) is a truncated zip archive (torch\'s checkpoint '
                    'format without its end): download or copy it again.')
        return None
    if not head.startswith(b'\x80'):
        text = head.decode('utf-8', 'replace').split('\n')[0][:60]
        return (f'{path} ({size} bytes) is no PyTorch checkpoint (neither a zip archive nor '
                f'a pickle; it starts with {text!r}): give the .pth file itself.')
    return None


def load_official_state_dict(path: str,
                             allow_pickle: bool = False) -> Tuple[Dict[str, Tensor], str]:
    """Load the authors' checkpoint file onto the CPU; see :func:`extract_state_dict`.

    Args:
        path (str): The ``.pth`` file.
        allow_pickle (bool): Unpickle arbitrary objects (only for files you
            trust). By default the file is read weights-only (tensors, plain
            containers and mmengine's checkpoint types), which covers all the
            authors' checkpoints hold.

    Raises:
        OfficialCheckpointError: The file is empty, truncated or no
            checkpoint; it is already in MMPose's layout (an MMPose or
            MIPNet checkpoint of this plugin, which needs no conversion);
            or it holds Python objects the weights-only reader refuses
            (with ``--allow-pickle`` advice for a trusted file).
    """
    if os.path.isfile(path):
        reason = _unreadable_reason(path)
        if reason is not None:
            raise OfficialCheckpointError(reason)
    try:
        obj = load_checkpoint_file(path, allow_pickle=allow_pickle)
    except CorruptCheckpointError as e:
        raise OfficialCheckpointError(str(e)) from e
    except UnsafeCheckpointError as e:
        if zipfile.is_zipfile(path):
            # An MMPose-layout checkpoint holding other objects (e.g. another
            # numpy's): named by its pickled key strings, never unpickled.
            layout = mmpose_layout_error(path, _pickled_strings(path))
            if layout is not None:
                raise OfficialCheckpointError(layout) from None
        raise OfficialCheckpointError(
            f'{e} (The converter\'s --allow-pickle converts a trusted file directly.)') from e
    state, where = extract_state_dict(obj)
    layout = mmpose_layout_error(path, list(state))
    if layout is not None:
        raise OfficialCheckpointError(layout)
    return state, where


def _shape(t: Tensor) -> Tuple[int, ...]:
    return tuple(t.shape)


def convert_official_state_dict(
        source: Mapping[str, Tensor],
        model: nn.Module,
        rules: Optional[Sequence[Rule]] = None) -> 'OrderedDict[str, Tensor]':
    """Rename the authors' state dict for ``model`` and check it fills the model exactly.

    Args:
        source (Mapping[str, Tensor]): The authors' state dict (no ``module.``).
        model (nn.Module): Our estimator, built from the matching config.
        rules (Sequence[Rule], optional): Renaming rules; default from the
            model's backbone (:func:`rules_for_model`).

    Returns:
        OrderedDict[str, Tensor]: Our state dict in the model's key order,
        including the converter-filled keys (``backbone.mip_meta``, the N and
        λ encoding the model was built with).

    A checkpoint without any ``num_batches_tracked`` (saved before PyTorch
    0.4.1 added them) gets them as a fresh model has them, 0: the counter
    only matters to a batch norm with ``momentum=None``, which neither
    HRNet nor SimpleBaseline uses.

    Raises:
        OfficialCheckpointError: Listing every problem at once (at most
            :data:`LISTED` keys of each): the authors' keys no rule maps,
            mapped keys the model lacks, keys whose shapes differ (both
            shapes), two keys mapped onto one, and model keys the
            checkpoint leaves empty (counters included, where the
            checkpoint has some).
    """
    rules = rules_for_model(model) if rules is None else rules
    target = model.state_dict()
    # A checkpoint without any batch-norm counter predates them: they are
    # filled as a fresh model has them (0). One with some is held to all.
    fill_counters = not any(_is_counter(name) for name in source)
    converted: Dict[str, Tensor] = {}
    origin: Dict[str, str] = {}
    claimed = set()  # our keys some source key was mapped onto, fitting or not
    unknown, absent, misshapen, duplicate = [], [], [], []
    for name, tensor in source.items():
        ours = map_official_key(name, rules)
        if ours is None:
            unknown.append(f'{name} {_shape(tensor)}')
        elif ours not in target or ours in CONVERTER_FILLED_KEYS:
            absent.append(f'{name} {_shape(tensor)} -> {ours}')
        elif ours in origin:
            duplicate.append(f'{origin[ours]} and {name} -> {ours}')
        else:
            origin[ours] = name
            claimed.add(ours)
            if _shape(tensor) != _shape(target[ours]):
                misshapen.append(f'{name} {_shape(tensor)} -> {ours} {_shape(target[ours])}')
            else:
                converted[ours] = tensor
    # A key already reported as misshapen or doubly mapped is not listed again.
    filled = [k for k in target
              if fill_counters and k not in claimed and _is_counter(k)]
    missing = [f'{k} {_shape(v)}' for k, v in target.items()
               if k not in claimed and k not in CONVERTER_FILLED_KEYS and k not in filled]
    problems = [
        ('keys of the checkpoint that no rule maps', unknown),
        ('mapped keys the model does not have', absent),
        ('keys whose shapes differ (theirs -> ours)', misshapen),
        ('keys mapped onto the same key', duplicate),
        ('keys of the model the checkpoint does not fill', missing),
    ]
    if any(items for _, items in problems):
        lines = [f'the checkpoint does not fit the model built from the config '
                 f'({type(model.backbone).__name__}, num_instances='
                 f'{getattr(model.backbone, "num_instances", 1)}, lambda_encoding='
                 f'{getattr(model.backbone, "lambda_encoding", None)!r}):']
        for title, items in problems:
            if items:
                lines.append(f'{len(items)} {title}:')
                lines.extend(f'  {item}' for item in items[:LISTED])
                if len(items) > LISTED:
                    lines.append(f'  ... and {len(items) - LISTED} more')
        # A release maps onto the N=1 model; a file with unknown keys is something else.
        if not unknown and is_single_person_release(source) and \
                getattr(model.backbone, 'num_instances', 1) > 1:
            lines.append('The checkpoint has no SE-λ block: it is a single-person release '
                         '(HRNet / SimpleBaseline), the start checkpoint of a MIPNet run. '
                         'Convert it for the N=1 model (tools/convert_official_ckpt.py '
                         '--release, or release_model_cfg) and give it as load_from.')
        raise OfficialCheckpointError('\n'.join(lines))
    for key in CONVERTER_FILLED_KEYS:
        if key in target:
            converted[key] = target[key].clone()
    for key in filled:
        converted[key] = torch.zeros_like(target[key])
    return OrderedDict((k, converted[k]) for k in target)


def _is_counter(key: str) -> bool:
    return key.rsplit('.', 1)[-1] == BATCH_COUNTER


def convert_official_checkpoint(src: str,
                                dst: str,
                                model: nn.Module,
                                extra_meta: Optional[dict] = None,
                                allow_pickle: bool = False,
                                loaded: Optional[Tuple[Dict[str, Tensor], str]] = None) -> dict:
    """Load the authors' ``src``, convert it for ``model`` and save it to ``dst``.

    Args:
        src (str): The authors' checkpoint.
        dst (str): Where to write ours (``{'state_dict', 'meta'}``, mmengine's layout).
        model (nn.Module): Our estimator built from the matching config.
        extra_meta (dict, optional): More ``meta`` entries (e.g. the config path).
        allow_pickle (bool): See :func:`load_official_state_dict`.
        loaded (tuple, optional): What :func:`load_official_state_dict`
            returned for ``src``, if the caller read it already (the CLI
            reads it before building the model, so a wrong file is named at
            once); None reads ``src``.

    Returns:
        dict: The saved ``meta`` (``mipnet_filled_counters``: the
        ``num_batches_tracked`` filled with 0, as ``src`` had none).
    """
    source, where = loaded or load_official_state_dict(src, allow_pickle=allow_pickle)
    state_dict = convert_official_state_dict(source, model)
    backbone = model.backbone
    filled_counters = 0 if any(_is_counter(k) for k in source) else \
        sum(_is_counter(k) for k in state_dict)
    meta = dict(
        mipnet_converted_from=os.path.abspath(src),
        mipnet_source_container=where,
        mipnet_source_keys=len(source),
        mipnet_filled_counters=filled_counters,
        num_instances=getattr(backbone, 'num_instances', 1),
        lambda_encoding=getattr(backbone, 'lambda_encoding', None),
        **(extra_meta or {}))
    # Written to a temporary file and renamed (mipnet_mmpose.engine.AtomicLocalBackend).
    save_checkpoint(dict(state_dict=state_dict, meta=meta), dst,
                    backend_args=dict(backend='atomic_local'))
    return meta
