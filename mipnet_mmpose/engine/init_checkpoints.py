"""The checkpoints a model config's ``init_cfg`` loads, where MMEngine caches a downloaded
one, and what to do when it cannot be downloaded.

MMEngine initialises a training run's weights (``Pretrained`` ``init_cfg``, e.g. a
backbone's ImageNet weights) after every hook's ``before_run``; a URL it cannot download
(offline) then stops the run with a bare ``urllib.error.URLError`` that names neither the
URL nor the config key. :class:`~mipnet_mmpose.engine.CheckpointFileCheckHook` downloads
those files first, into the cache MMEngine reads (:func:`cached_checkpoint`), and reports a
failure with :func:`offline_guidance`; ``tools/prepare_data.py check`` lists the same files.
"""
import os.path as osp
from typing import List, Mapping, Optional, Tuple
from urllib.parse import urlparse

#: The parts of a top-down model whose ``init_cfg`` may load a checkpoint.
MODEL_PARTS = ('backbone', 'neck', 'head')


def pretrained_checkpoints(model_cfg: Optional[Mapping]) -> List[Tuple[str, str]]:
    """The ``Pretrained`` checkpoints of a model config, with their config keys.

    Args:
        model_cfg (Mapping | None): The config's ``model``.

    Returns:
        list[tuple[str, str]]: ``(checkpoint, key)`` in the order backbone, neck,
        head, e.g. ``('https://.../hrnet_w32-36af842e.pth',
        'model.backbone.init_cfg.checkpoint')``; a list ``init_cfg`` gives keys
        ``model.<part>.init_cfg.<index>.checkpoint``.
    """
    found = []
    for part in MODEL_PARTS:
        sub = (model_cfg or {}).get(part)
        init_cfg = sub.get('init_cfg') if isinstance(sub, Mapping) else None
        many = isinstance(init_cfg, (list, tuple))
        for index, entry in enumerate(init_cfg if many else [init_cfg]):
            if isinstance(entry, Mapping) and entry.get('type') == 'Pretrained' \
                    and entry.get('checkpoint'):
                key = f'model.{part}.init_cfg{f".{index}" if many else ""}.checkpoint'
                found.append((str(entry['checkpoint']), key))
    return found


def download_url(checkpoint: str) -> Optional[str]:
    """The URL MMEngine downloads ``checkpoint`` from, or None.

    Args:
        checkpoint (str): As a config names it: ``https://...``, ``torchvision://<name>``
            or a local path.

    Returns:
        str | None: The URL of an ``http(s)://`` or ``torchvision://`` checkpoint; None
        for a local path and for the schemes left to MMEngine (``open-mmlab://``...).
    """
    if checkpoint.startswith(('http://', 'https://')):
        return checkpoint
    if checkpoint.startswith('torchvision://'):
        from mmengine.runner.checkpoint import get_torchvision_models
        return get_torchvision_models().get(checkpoint[len('torchvision://'):])
    return None


def cached_checkpoint(url: str) -> str:
    """Where MMEngine keeps (and looks first for) the download of ``url``.

    MMEngine loads URLs with PyTorch's ``load_state_dict_from_url``: the file's
    name in ``<torch hub dir>/checkpoints/`` (``~/.cache/torch/hub/checkpoints/``
    unless ``TORCH_HOME`` says otherwise).
    """
    import torch.hub
    return osp.join(torch.hub.get_dir(), 'checkpoints', osp.basename(urlparse(url).path))


def fetch_checkpoint(url: str, progress: bool = False) -> str:
    """Download ``url`` into MMEngine's cache unless it is there; returns the cached file.

    The same download MMEngine would make (PyTorch's ``download_url_to_file``,
    no hash check), made earlier so that a failure can be reported with the fix.

    Raises:
        OSError: The download failed (``urllib.error.URLError`` offline).
    """
    import os

    import torch.hub
    cached = cached_checkpoint(url)
    if not osp.isfile(cached):
        os.makedirs(osp.dirname(cached), exist_ok=True)
        torch.hub.download_url_to_file(url, cached, None, progress=progress)
    return cached


def init_cfg_fix(key: str) -> str:
    """How to run without the checkpoint at ``key``: another file, or none.

    Args:
        key (str): Its config key, e.g. ``'model.backbone.init_cfg.checkpoint'``.
    """
    return (f'point `--cfg-options {key}=PATH` at a copy, or train without these weights '
            f'with `--cfg-options {key.rsplit(".", 1)[0]}=None`')


def offline_guidance(checkpoint: str, key: str) -> str:
    """What to do when a run cannot download ``checkpoint``: where to put a copy, or how
    to point the config at one or train without it.

    Args:
        checkpoint (str): As the config names it (URL or ``torchvision://``).
        key (str): Its config key, e.g. ``'model.backbone.init_cfg.checkpoint'``.
    """
    url = download_url(checkpoint) or checkpoint
    return (f'download {url} on a machine with internet access and copy it to '
            f'{cached_checkpoint(url)} (where MMEngine looks first), or '
            f'{init_cfg_fix(key)}')
