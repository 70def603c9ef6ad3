"""The test-time n and λ>0 score decay outside a runner, from the config's hook entry."""
from typing import Any, Dict, Optional

from torch import nn

HOOK_TYPE = 'MultiInstanceTestHook'


def test_time_from_config(cfg: Any) -> Dict[str, Optional[Any]]:
    """The settings of the config's :class:`MultiInstanceTestHook`.

    The hook owns them (``default_hooks.multi_instance_test`` in our configs);
    it is found by type among ``default_hooks`` and ``custom_hooks``.

    Args:
        cfg (Config | dict): A full config (with hooks), e.g. ``model.cfg``

    Returns:
        dict: ``num_instances`` and ``lambda_score_decay`` (None: the model's
        default, all N and 0.5)
    """
    entries = []
    default_hooks = cfg.get('default_hooks') or {}
    for hook in list(default_hooks.values()) + list(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict) and str(hook.get('type', '')).split('.')[-1] == HOOK_TYPE:
            entries.append(hook)
    if len(entries) > 1:
        raise ValueError(f'the config has {len(entries)} {HOOK_TYPE} entries; keep one '
                         '(default_hooks.multi_instance_test): it owns the test-time n and '
                         'score decay')
    entry = entries[0] if entries else {}
    return dict(num_instances=entry.get('num_instances'),
                lambda_score_decay=entry.get('lambda_score_decay'))


def set_test_time(model: nn.Module, num_instances: Optional[int] = None,
                  lambda_score_decay: Optional[float] = None) -> None:
    """Set a MIPNet model's test-time n and λ>0 score decay (None keeps each).

    Args:
        model (nn.Module): A ``MultiInstanceTopdownPoseEstimator``
        num_instances (int, optional): n in [1, N]
        lambda_score_decay (float, optional): In [0, 1]
    """
    if not hasattr(model, 'set_test_time'):
        raise TypeError(f'set_test_time needs a MultiInstanceTopdownPoseEstimator, got '
                        f'{type(model).__name__}')
    model.set_test_time(num_instances, lambda_score_decay)
