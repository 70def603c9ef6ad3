"""Does a checkpoint fit the model it is loaded into for testing or inference?

mmengine loads weights with ``strict=False`` everywhere: a checkpoint of another
backbone width, another N or a stock (MIMB-less) model only logs warnings about
missing and misshapen keys, and the test then runs on a partly random model and
reports an AP. That is right for fine-tuning (``load_from`` a stock checkpoint:
only the MIMB weights are new) and wrong for testing and inference, where every
weight must come from the checkpoint. :func:`check_checkpoint_fits` compares a
checkpoint's state dict with the model's and raises one error listing what does
not fit, with what the checkpoint was trained as.

Every state dict loaded into a :class:`MultiInstanceTopdownPoseEstimator` is
compared so (:func:`checkpoint_mismatch`, from the estimator's load hook), by
whatever loads it (the runner's ``load_from``, MMPose's ``init_model``, a
plain ``load_state_dict``): the estimator refuses to predict with weights
that do not fit it until it has been trained. The callers that know the file
(:func:`~mipnet_mmpose.apis.init_mipnet`, ``MIPNetInferencer``,
``MultiInstanceTestHook``) call :func:`check_checkpoint_fits` as they load, so
the error names the file before any data is read.
"""
import re
from typing import Dict, List, Mapping, Optional

import torch
from torch import nn

# Keys a model may lack in a checkpoint without any effect on its outputs.
_IGNORED = re.compile(r'(^|\.)num_batches_tracked$')
SHOWN = 6


class CheckpointMismatchError(RuntimeError):
    """A checkpoint's weights do not fit the model built from the config."""


def state_dict_of(checkpoint: Mapping) -> Dict[str, torch.Tensor]:
    """The model weights of a loaded checkpoint file (``state_dict`` key or the dict itself),
    without the ``module.`` prefix that DataParallel/DDP add (mmengine strips it too).

    Args:
        checkpoint (Mapping): What ``torch.load`` returned

    Returns:
        dict[str, Tensor]: Parameter and buffer name -> tensor
    """
    state = checkpoint.get('state_dict', checkpoint)
    return {re.sub(r'^module\.', '', key): value for key, value in state.items()
            if isinstance(value, torch.Tensor)}


def describe_checkpoint(state: Mapping[str, torch.Tensor]) -> str:
    """What model a state dict belongs to: backbone widths or depth, N, λ code, keypoints.

    Args:
        state (Mapping[str, Tensor]): A state dict (keys as in the model)

    Returns:
        str: e.g. ``"HRNet stage-4 widths (32, 64, 128, 256), MIPNet N=2
        (one_hot λ code), 17 keypoints"``
    """
    parts = []
    widths = []
    for branch in range(8):
        key = f'backbone.stage4.0.branches.{branch}.0.conv1.weight'
        if key not in state:
            break
        widths.append(int(state[key].shape[0]))
    if widths:
        parts.append(f'HRNet stage-4 widths {tuple(widths)}')
    else:
        blocks = [len({k.split('.')[2] for k in state if k.startswith(f'backbone.layer{i}.')})
                  for i in range(1, 5)]
        if any(blocks):
            depth = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101,
                     (3, 8, 36, 3): 152}.get(tuple(blocks))
            parts.append(f'ResNet-{depth}' if depth else f'ResNet with blocks {tuple(blocks)}')
    meta = state.get('backbone.mip_meta')
    has_mimb = any('mimb' in key for key in state)
    if meta is not None:
        from ..mimb import LAMBDA_ENCODINGS
        names = {v: k for k, v in LAMBDA_ENCODINGS.items()}
        parts.append(f'MIPNet N={int(meta[0])} '
                     f'({names.get(int(meta[1]), "unknown")} λ code)')
    elif has_mimb:
        parts.append('MIPNet (N not recorded)')
    else:
        parts.append('a stock model without MIMBs (N=1)')
    head = [key for key in state if key.startswith('head.final_layer.') and
            key.endswith('weight')]
    if head:
        out = int(state[head[0]].shape[0])
        parts.append(f'{out} heatmap channels')
    return ', '.join(parts)


def checkpoint_mismatch(model: nn.Module, checkpoint: Mapping,
                        source: str = 'checkpoint',
                        config: Optional[str] = None) -> Optional[str]:
    """What loading ``checkpoint`` would leave unloaded in ``model``, as the error message.

    Args:
        model (nn.Module): The model built from the config (unwrapped)
        checkpoint (Mapping): The loaded checkpoint file (or its state dict)
        source (str): The checkpoint's path, for the message
        config (str, optional): The config's path, for the message

    Returns:
        str | None: None when every weight of the model comes from the
        checkpoint; else the message of :class:`CheckpointMismatchError`:
        the missing, unexpected and misshapen keys and what the checkpoint
        and the config are.
    """
    theirs = state_dict_of(checkpoint)
    ours = model.state_dict()
    missing = [k for k in ours if k not in theirs and not _IGNORED.search(k)]
    unexpected = [k for k in theirs if k not in ours and not _IGNORED.search(k)]
    misshapen = [f'{k} {tuple(theirs[k].shape)} vs {tuple(ours[k].shape)}'
                 for k in ours if k in theirs and theirs[k].shape != ours[k].shape]
    if not (missing or unexpected or misshapen):
        return None
    problems: List[str] = []
    for what, keys in (('missing from the checkpoint', missing),
                       ('not in the model', unexpected),
                       ('of another shape (checkpoint vs model)', misshapen)):
        if keys:
            shown = ', '.join(keys[:SHOWN]) + (f' (and {len(keys) - SHOWN} more)'
                                               if len(keys) > SHOWN else '')
            problems.append(f'{len(keys)} key(s) {what}: {shown}')
    built_from = f' from {config}' if config else ''
    return (
        f'{source} does not fit the model built{built_from} for testing/inference: '
        f'{"; ".join(problems)}. The checkpoint is {describe_checkpoint(theirs)}; the config '
        f'builds {describe_checkpoint(ours)}. Use the config the checkpoint was trained '
        'with (backbone widths, N, keypoints), or the checkpoint of this config. '
        '(To fine-tune from a stock checkpoint, use it as `load_from` in training.)')


def check_checkpoint_fits(model: nn.Module, checkpoint: Mapping,
                          source: str = 'checkpoint', config: Optional[str] = None) -> None:
    """Raise if loading ``checkpoint`` would leave any weight of ``model`` unloaded.

    Args:
        model (nn.Module): The model built from the config (unwrapped)
        checkpoint (Mapping): The loaded checkpoint file (or its state dict)
        source (str): The checkpoint's path, for the message
        config (str, optional): The config's path, for the message

    Raises:
        CheckpointMismatchError: Listing the missing, unexpected and misshapen
            keys and what the checkpoint and the config are
            (:func:`checkpoint_mismatch`)
    """
    message = checkpoint_mismatch(model, checkpoint, source, config)
    if message is not None:
        raise CheckpointMismatchError(message)
