"""One optimizer update per λ per batch (the authors' N=4 training loop).

The authors' N=4 code (``lib/core/train_general.py`` lines 236-270 of GitHub
``rawalkhirodkar/MIPNet``) runs, for each batch, λ = 0, 1, 2, 3 one after the
other: a forward of the whole batch with that λ's code, the loss of that λ's
targets, ``zero_grad``, ``backward`` and ``optimizer.step()``, so four Adam
updates per batch. :func:`train_step_per_lambda` does the same with mmengine's
optimizer wrapper (``update_params`` once per λ); the estimator's
``train_step`` and :class:`MultiInstanceDistributedDataParallel` (the model
wrapper for distributed training, as mmengine asks of a model with its own
optimisation steps) both call it.
"""
from collections import OrderedDict
from typing import Dict, Union

from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmpose.registry import MODEL_WRAPPERS
from torch import Tensor, nn

from ..heads.multi_instance_head import _lambda_key


def train_step_per_lambda(runner_model: nn.Module, model: nn.Module,
                          data: Union[dict, tuple, list],
                          optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
    """Preprocess a batch once, then per trained λ: forward, loss, update.

    Args:
        runner_model (nn.Module): What the runner trains: the estimator, or
            its distributed wrapper (whose forward synchronises gradients).
        model (nn.Module): The :class:`MultiInstanceTopdownPoseEstimator`.
        data (dict | tuple | list): The batch from the data loader.
        optim_wrapper (OptimWrapper): mmengine's optimizer wrapper; it must
            not accumulate gradients over iterations (each λ is its own
            update).

    Returns:
        dict: ``loss`` (the sum over λ, as the authors log it) and each
        step's parsed losses and accuracies per λ (``loss_lambda{i}``,
        ``loss_kpt_lambda{i}``, ``acc_pose_lambda{i}``; the loss ones are
        averaged by mmengine's log processor as ``loss`` is).
    """
    counts = getattr(optim_wrapper, '_accumulative_counts', 1)
    if counts != 1:
        raise ValueError(
            f'optimizer_step_per_lambda=True makes one optimizer update per λ; it cannot '
            f'be combined with gradient accumulation (optim_wrapper.accumulative_counts='
            f'{counts}): set accumulative_counts=1 or optimizer_step_per_lambda=False')
    with optim_wrapper.optim_context(runner_model):
        data = model.data_preprocessor(data, True)
    log_vars: Dict[str, Tensor] = OrderedDict(loss=None)
    total = None
    for lambda_value in model.trained_lambdas:
        with optim_wrapper.optim_context(runner_model):
            step_data = dict(data, train_lambda=lambda_value) if isinstance(data, dict) \
                else dict(inputs=data[0], data_samples=data[1], train_lambda=lambda_value)
            losses = runner_model._run_forward(step_data, mode='loss')
        parsed, step_vars = model.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        for key, value in step_vars.items():
            log_vars[_lambda_key(key, lambda_value)] = value
        total = step_vars['loss'] if total is None else total + step_vars['loss']
    log_vars['loss'] = total
    return log_vars


@MODEL_WRAPPERS.register_module()
class MultiInstanceDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's distributed wrapper that steps as the estimator asks.

    With ``optimizer_step_per_lambda`` the wrapped
    :class:`MultiInstanceTopdownPoseEstimator` makes one optimizer update per λ
    (:func:`train_step_per_lambda`, each forward through this wrapper so the
    gradients of every step are synchronised); otherwise this is
    :class:`MMDistributedDataParallel`. Use it in the config::

        model_wrapper_cfg = dict(type='MultiInstanceDistributedDataParallel')
    """

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapper) -> Dict[str, Tensor]:
        if not getattr(self.module, 'optimizer_step_per_lambda', False):
            return super().train_step(data, optim_wrapper)
        return train_step_per_lambda(self, self.module, data, optim_wrapper)
