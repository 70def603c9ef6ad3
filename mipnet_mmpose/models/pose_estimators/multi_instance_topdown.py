"""Top-down estimator that predicts N poses per person box."""
import copy
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData, PixelData
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from mmpose.utils.typing import (
    ConfigType,
    OptConfigType,
    OptMultiConfig,
    OptSampleList,
    SampleList,
)
from torch import Tensor, nn
from torch.func import functional_call

from ...utils import check_int_at_least
from ..heads.multi_instance_head import check_loss_lambdas, is_lambda_log_key
from ..mimb import default_lambda_encoding
from ..utils.checkpoint_fit import CheckpointMismatchError, checkpoint_mismatch
from .per_lambda_step import train_step_per_lambda

#: Score factor of poses with λ > 0, the authors' value.
DEFAULT_LAMBDA_SCORE_DECAY = 0.5



@MODELS.register_module()
class MultiInstanceTopdownPoseEstimator(TopdownPoseEstimator):
    """MIPNet: a top-down estimator whose backbone is conditioned on λ.

    It owns N and hands it down, as MMPose's estimator hands down
    ``test_cfg``: give it MMPose's stock backbone and head configs and it
    builds them as ``MultiInstance<Name>``, the stock class with our mixin
    (any registered backbone gets MIMBs at its family's sites, see
    :meth:`MultiInstanceBackboneMixin.default_mimb_sites`; any single-stage
    top-down head trains on all N instances through its own loss).

    Training runs every box with all N values of λ in one step (the backbone
    computes its λ-independent trunk once per box), all N slots in the loss.
    Two options train as the authors' N=3 and N=4 code instead:
    ``loss_lambdas`` keeps only some slots in the loss, and
    ``optimizer_step_per_lambda`` makes one forward, backward and optimizer
    update per λ per batch. Prediction runs λ = 0..n-1
    for every box (flip test per λ as MMPose does) and returns, per data sample,
    n instances with ``lambdas`` (n,), ``keypoints`` (n, K, 2),
    ``keypoint_scores`` (n, K), ``bboxes`` (n, 4) and ``bbox_scores`` (n,): the
    box score, multiplied by the λ>0 score decay for λ > 0.

    Weights loaded into it (by any loader: the runner's ``load_from``,
    MMPose's ``init_model``, ``load_state_dict``) are compared with the model
    (:func:`~mipnet_mmpose.models.utils.checkpoint_fit.checkpoint_mismatch`):
    mmengine loads with ``strict=False``, which is right to fine-tune from a
    stock checkpoint (only the MIMB weights are new) and wrong to test. If
    they leave any weight unloaded, :meth:`predict` raises
    :class:`CheckpointMismatchError` until the model has been trained
    (:meth:`loss` ran), so that no test or inference reports the output of a
    partly random model.

    The test-time n and score decay are set by the test-time hook
    (:class:`MultiInstanceTestHook`, the config's
    ``default_hooks.multi_instance_test``) or :meth:`set_test_time`; by default
    n = N and the decay is the authors' 0.5.

    With ``num_instances=1`` this is exactly :class:`TopdownPoseEstimator` with
    the stock backbone and head (plus a ``lambdas`` field of zeros).

    Args:
        backbone (dict): A stock backbone config (or a multi-instance one,
            e.g. ``MIPHRNet``/``MultiInstanceBackbone`` without N).
        head (dict): A stock top-down head config.
        num_instances (int): N, poses per box (λ = 0..N-1). Defaults to 2.
        lambda_encoding (str, optional): ``'one_hot'`` or ``'binary'``; None
            (default): :func:`default_lambda_encoding` of N (the authors':
            one-hot for N=2, the 2-bit binary code for N = 3, 4).
        mimb_sites (list, optional): MIMB sites for a stock backbone, e.g.
            ``['stage4']``; None uses the family's default.
        mimb_reduction (int): MIMB hidden width divisor. Defaults to 4.
        loss_lambdas (Sequence[int], optional): The λ whose slots enter the
            training loss; the rows of the other λ are still computed (the
            batch statistics see them) and logged. None (default) trains all
            N. ``(0, 1)`` with N=3 is the authors' N=3 training
            (``lib/core/train_general.py`` lines 99-109: the λ=2 loss is
            computed but left out of ``pose_loss``).
        optimizer_step_per_lambda (bool): Train one λ at a time: per batch,
            for λ = 0..N-1 (or the ``loss_lambdas``), one forward of every box
            with that λ, its slot's loss, backward and optimizer update (the
            authors' N=4 training, ``train_general.py`` lines 236-270: four
            Adam updates per batch, the λ gate's BatchNorm1d seeing one code
            per step). Defaults to False. Distributed training needs the model
            wrapper ``MultiInstanceDistributedDataParallel``
            (``model_wrapper_cfg``), which does the same steps.
        forward_per_lambda (bool): In the one-step training, run the
            backbone (and neck) once per λ (every box with one λ code per
            forward), then take the loss of all rows in one update. Batch
            norm then normalises one λ at a time, as in the authors' N=3 run
            (DataParallel cut their 3 x 60 duplicated rows into one λ per
            GPU, ``train_general.py`` lines 62-86). As there, only the λ=0
            pass updates the running statistics (and every other buffer):
            DataParallel keeps the buffers of its device-0 replica, which
            held the λ=0 rows; the λ>0 passes normalise with their batch
            statistics and their buffer updates are discarded (see
            :meth:`_features_of_lambda`). The head runs once on all rows
            (HRNet's has no batch norm; one that has, e.g. SimpleBaseline's
            deconvolutions, normalises all λ together).
            Defaults to False (the trunk runs once per box, all λ in one
            forward).
        Other arguments: as :class:`TopdownPoseEstimator`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None,
                 num_instances: int = 2,
                 lambda_encoding: Optional[str] = None,
                 mimb_sites: Optional[Sequence[Union[str, dict]]] = None,
                 mimb_reduction: int = 4,
                 loss_lambdas: Optional[Sequence[int]] = None,
                 optimizer_step_per_lambda: bool = False,
                 forward_per_lambda: bool = False):
        n = check_int_at_least('num_instances', num_instances, 1)
        if lambda_encoding is None:
            lambda_encoding = default_lambda_encoding(n)
        loss_lambdas = check_loss_lambdas(loss_lambdas, n)
        for name, flag in (('optimizer_step_per_lambda', optimizer_step_per_lambda),
                           ('forward_per_lambda', forward_per_lambda)):
            if not isinstance(flag, bool):
                raise ValueError(f'{name} must be a bool, got {flag!r}')
        backbone = multi_instance_backbone_cfg(backbone, n, lambda_encoding,
                                               mimb_sites, mimb_reduction)
        if head is not None:
            head = multi_instance_head_cfg(head, n, loss_lambdas)
        super().__init__(backbone=backbone, neck=neck, head=head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, metainfo=metainfo)
        self.num_instances = n
        self.lambda_encoding = lambda_encoding
        self.loss_lambdas = loss_lambdas
        self.optimizer_step_per_lambda = optimizer_step_per_lambda
        self.forward_per_lambda = forward_per_lambda
        self._test_num_instances: Optional[int] = None
        self._lambda_score_decay = DEFAULT_LAMBDA_SCORE_DECAY
        #: Why the weights last loaded do not fit the model (None: they fit, or
        #: the model was trained since); :meth:`predict` refuses to run then.
        self._unfit_weights: Optional[str] = None
        # After MMPose's own pre-hook (registered in its __init__), which revises
        # the keys of older MMPose checkpoints: the revised keys are compared.
        self._register_load_state_dict_pre_hook(self._record_weights_fit)

    def _record_weights_fit(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        """Load hook: note whether ``state_dict`` fills every weight of the model.

        Args:
            state_dict (dict): What is being loaded (keys with ``prefix``).
            prefix (str): This model's key prefix (``'module.'`` inside a wrapper).
        """
        own = {key[len(prefix):]: value for key, value in state_dict.items()
               if key.startswith(prefix)}
        self._unfit_weights = checkpoint_mismatch(
            self, own, source=f'the checkpoint loaded into this {type(self).__name__}')

    def set_test_time(self, num_instances: Optional[int] = None,
                      lambda_score_decay: Optional[float] = None) -> None:
        """Set how many λ to run per box at test time and the λ>0 score decay.

        Args:
            num_instances (int, optional): n in [1, N]; None keeps the current.
            lambda_score_decay (float, optional): In [0, 1]; None keeps the current.
        """
        if num_instances is not None:
            if isinstance(num_instances, bool) or not isinstance(num_instances, int) or \
                    not 1 <= num_instances <= self.num_instances:
                raise ValueError(f'test-time num_instances={num_instances!r} must be an '
                                 f'integer in [1, {self.num_instances}] (the model was '
                                 f'built with num_instances={self.num_instances})')
            self._test_num_instances = num_instances
        if lambda_score_decay is not None:
            self._lambda_score_decay = check_lambda_score_decay(lambda_score_decay)

    @property
    def test_num_instances(self) -> int:
        """n, the λ run per box at test time (N unless set)."""
        return self._test_num_instances or self.num_instances

    @property
    def lambda_score_decay(self) -> float:
        """Score factor of the poses with λ > 0."""
        return self._lambda_score_decay

    def extract_feat(self, inputs: Tensor, num_instances: Optional[int] = None) -> Tuple[Tensor]:
        """Features of every box, for λ = 0..n-1 when ``num_instances=n`` > 1.

        Args:
            inputs (Tensor): Images in shape (B, 3, H, W).
            num_instances (int, optional): n; None or 1 runs λ=0 only.

        Returns:
            tuple[Tensor]: Features with B*n rows ordered (box, λ).
        """
        if not num_instances or num_instances == 1:
            return super().extract_feat(inputs)
        x = self.backbone(inputs, num_instances=num_instances)
        if self.with_neck:
            x = self.neck(x)
        return x

    @property
    def trained_lambdas(self) -> Tuple[int, ...]:
        """The λ whose slots enter the training loss."""
        return self.loss_lambdas or tuple(range(self.num_instances))

    def forward(self, inputs: Tensor, data_samples: OptSampleList = None,
                mode: str = 'tensor', train_lambda: Optional[int] = None):
        """The stock forward; ``train_lambda`` (mode ``'loss'`` only) runs
        every box with that one λ (see :meth:`loss`)."""
        if train_lambda is None:
            return super().forward(inputs, data_samples, mode)
        if mode != 'loss':
            raise ValueError(f"train_lambda is for mode='loss', not mode={mode!r}")
        return self.loss(inputs, data_samples, train_lambda=train_lambda)

    def loss(self, inputs: Tensor, data_samples: SampleList,
             train_lambda: Optional[int] = None) -> dict:
        """Losses of the trained instances of every box (see the head).

        Args:
            inputs (Tensor): Images in shape (B, 3, H, W).
            data_samples (list): B samples with N instance targets each.
            train_lambda (int, optional): Run every box with this λ only and
                return the losses of its slot (one step of
                ``optimizer_step_per_lambda``). None: all N λ in one pass.

        A non-finite loss stops training here, before the optimizer step, so
        no NaN weights are ever written to a checkpoint (see
        :func:`check_finite_losses`).
        """
        # Training (fine-tuning from a stock checkpoint) fills what the checkpoint
        # left unloaded: predictions are the trained model's from here on.
        self._unfit_weights = None
        if train_lambda is None:
            if self.optimizer_step_per_lambda:
                raise RuntimeError(
                    'this model trains one λ per optimizer step '
                    '(optimizer_step_per_lambda=True): train it through its train_step, '
                    "and in distributed training set model_wrapper_cfg=dict(type="
                    "'MultiInstanceDistributedDataParallel') so the wrapper does the same")
            if self.forward_per_lambda:
                # Only λ=0 updates the buffers: the authors' device-0 replica.
                feats = _interleave([
                    self._features_of_lambda(inputs, i, update_buffers=i == 0)
                    for i in range(self.num_instances)])
            else:
                feats = self.extract_feat(inputs, self.num_instances)
            losses = self.head.loss(feats, data_samples, train_cfg=self.train_cfg)
        else:
            if train_lambda not in self.trained_lambdas:
                raise ValueError(f'train_lambda={train_lambda!r} is not one of the trained '
                                 f'λ {self.trained_lambdas}')
            feats = self._features_of_lambda(inputs, train_lambda)
            losses = self.head.loss_of_lambda(feats, data_samples, train_lambda,
                                              train_cfg=self.train_cfg)
        check_finite_losses(losses, inputs, data_samples)
        return losses

    def _features_of_lambda(self, inputs: Tensor, lambda_value: int,
                            update_buffers: bool = True) -> Tuple[Tensor]:
        """Features (B rows) of every box with one λ.

        Args:
            inputs (Tensor): Images in shape (B, 3, H, W).
            lambda_value (int): The λ of every row.
            update_buffers (bool): Whether the pass may update the buffers
                (batch norm's running statistics and ``num_batches_tracked``).
                False runs the backbone and neck on copies of their buffers,
                dropped afterwards, as DataParallel runs its replicas on
                devices 1.. (their buffer updates are never copied back). In
                training, batch norm normalises with the batch statistics
                either way, and the gradients reach the parameters either
                way. Defaults to True.

        Returns:
            tuple[Tensor]: Features with B rows.
        """
        lambdas = torch.full((inputs.shape[0], ), lambda_value, dtype=torch.long,
                             device=inputs.device)
        if update_buffers:
            feats = self.backbone(inputs, lambdas=lambdas)
            return self.neck(feats) if self.with_neck else feats
        feats = _call_on_buffer_copies(self.backbone, inputs, lambdas=lambdas)
        return _call_on_buffer_copies(self.neck, feats) if self.with_neck else feats

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper) -> Dict[str, Tensor]:
        """mmengine's train step; with ``optimizer_step_per_lambda`` one
        update per trained λ (:func:`train_step_per_lambda`)."""
        if not self.optimizer_step_per_lambda:
            return super().train_step(data, optim_wrapper)
        return train_step_per_lambda(self, self, data, optim_wrapper)

    def parse_losses(self, losses: Dict[str, Any]) -> Tuple[Tensor, Dict[str, Tensor]]:
        """mmengine's, but the per-λ entries are logged without entering the total.

        The head logs each λ's losses and accuracies as ``<name>_lambda{i}``
        (:func:`~mipnet_mmpose.models.heads.multi_instance_head.is_lambda_log_key`);
        the loss names keep "loss", so mmengine's log processor averages them
        over its window as it averages ``loss`` and ``loss_<name>``, and they
        are comparable with those columns.

        Args:
            losses (dict): The head's losses, accuracies and per-λ logs.

        Returns:
            tuple: The total loss (the non-per-λ ``loss*`` entries, as mmengine
            sums them) and the log variables (the per-λ ones last).
        """
        per_lambda = [key for key in losses if is_lambda_log_key(key)]
        total, log_vars = super().parse_losses(
            {key: value for key, value in losses.items() if key not in per_lambda})
        # mmengine's averaging of tensors (and lists of them), its sum dropped.
        _, lambda_vars = super().parse_losses({key: losses[key] for key in per_lambda})
        lambda_vars.pop('loss')
        log_vars.update(lambda_vars)
        return total, log_vars

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """n poses per box; see the class docstring for the fields.

        Raises:
            CheckpointMismatchError: The weights last loaded leave some of the
                model's unloaded and it was not trained since.
        """
        assert self.with_head, 'The model must have head to perform prediction.'
        if self._unfit_weights is not None:
            raise CheckpointMismatchError(self._unfit_weights)
        n = self.test_num_instances
        if self.test_cfg.get('flip_test', False):
            feats = [self.extract_feat(inputs, n), self.extract_feat(inputs.flip(-1), n)]
        else:
            feats = self.extract_feat(inputs, n)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        row_instances, row_fields = preds if isinstance(preds, tuple) else (preds, None)
        # One sample per row (box, λ), with the box's metainfo and box: the stock
        # conversion to image space and box copy, as for any top-down prediction.
        row_samples = [PoseDataSample(metainfo=sample.metainfo,
                                      gt_instances=sample.gt_instances)
                       for sample in data_samples for _ in range(n)]
        self.add_pred_to_datasample(row_instances, row_fields, row_samples)
        return self._group_rows(row_samples, data_samples, n)

    def _group_rows(self, row_samples: SampleList, data_samples: SampleList,
                    n: int) -> SampleList:
        """Give each of the B samples the predictions of its n rows (box, λ).

        ``pred_instances`` of n instances with ``lambdas`` (n,) and the box
        score decayed for λ > 0; ``pred_fields`` (if predicted) with the n
        instances' heatmaps stacked, (n*K, H, W), instance-major.
        """
        for start, sample in zip(range(0, len(row_samples), n), data_samples):
            group = row_samples[start:start + n]
            merged = InstanceData.cat([row.pred_instances for row in group])
            merged.lambdas = np.arange(n, dtype=np.int64)
            merged.bbox_scores = np.asarray(merged.bbox_scores) * np.where(
                merged.lambdas > 0, self.lambda_score_decay, 1.0)
            sample.pred_instances = merged
            fields = [row.get('pred_fields') for row in group]
            if fields[0] is not None:
                sample.pred_fields = PixelData(**{
                    key: _concat([f.get(key) for f in fields]) for key in fields[0].keys()})
        return data_samples


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite."""


def check_finite_losses(losses: dict, inputs: Tensor, data_samples: SampleList) -> None:
    """Raise :class:`NonFiniteLossError` naming the iteration and the samples.

    Args:
        losses (dict): The head's losses (tensors; ``loss*`` keys are checked)
        inputs (Tensor): The batch images in shape (B, 3, H, W)
        data_samples (list): The batch's data samples (their metainfo holds
            ``img_id``, ``id`` = annotation id, ``img_path``)
    """
    # The per-λ logs are parts of the total: naming the total is enough.
    bad = [key for key, value in losses.items()
           if key.startswith('loss') and not is_lambda_log_key(key) and isinstance(value, Tensor)
           and not bool(torch.isfinite(value).all())]
    if not bad:
        return
    iteration = MessageHub.get_current_instance().get_info('iter')
    # The samples whose input or targets are not finite, if any; else the batch.
    suspects = []
    for row, sample in enumerate(data_samples):
        fields = [inputs[row]]
        if 'gt_fields' in sample and 'heatmaps' in sample.gt_fields:
            fields.append(sample.gt_fields.heatmaps)
        if 'gt_instance_labels' in sample and 'keypoint_weights' in sample.gt_instance_labels:
            fields.append(sample.gt_instance_labels.keypoint_weights)
        if not all(bool(torch.isfinite(torch.as_tensor(f)).all()) for f in fields):
            suspects.append(sample)
    named = suspects or list(data_samples)
    described = '; '.join(
        f"image id {s.metainfo.get('img_id')} annotation id {s.metainfo.get('id')} "
        f"({s.metainfo.get('img_path')})" for s in named[:8])
    which = ('the samples with non-finite input or targets' if suspects else
             f'no sample has a non-finite input or target; the batch of {len(named)}')
    raise NonFiniteLossError(
        f'Training stopped at iteration {iteration}: {", ".join(bad)} is not finite '
        f'({which}: {described}{" ..." if len(named) > 8 else ""}). Nothing of this step '
        'was applied to the weights and no checkpoint of it is written. Check those '
        'annotations and images, or lower the learning rate if the inputs are fine.')


def check_lambda_score_decay(decay: Any) -> float:
    """The λ>0 score decay as a float, or a clear error unless it lies in [0, 1]."""
    if isinstance(decay, bool) or not isinstance(decay, (int, float)) or not 0 <= decay <= 1:
        raise ValueError(f'lambda_score_decay={decay!r} must be a number in [0, 1]: the '
                         "score factor of the poses with λ > 0 (the authors' 0.5; 1 keeps "
                         'their box score, 0 ranks them last)')
    return float(decay)


def multi_instance_backbone_cfg(backbone: ConfigType, num_instances: int,
                                lambda_encoding: str, sites: Optional[Sequence],
                                reduction: int) -> dict:
    """The ``MultiInstanceBackbone`` config of a stock (or multi-instance) backbone."""
    cfg = dict(copy.deepcopy(backbone))
    for key in ('num_instances', 'lambda_encoding'):
        if key in cfg:
            raise ValueError(
                f'model.backbone.{key} is set: N and the λ code are set once, on the '
                f'estimator (model.num_instances, model.lambda_encoding); remove it from '
                'the backbone')
    common = dict(num_instances=num_instances, lambda_encoding=lambda_encoding,
                  mimb_reduction=reduction, sites=sites)
    if cfg.get('type') == 'MultiInstanceBackbone':
        if sites is None:
            common.pop('sites')
        return dict(cfg, **common)
    return dict(type='MultiInstanceBackbone', backbone=cfg, **common)


def multi_instance_head_cfg(head: ConfigType, num_instances: int,
                            loss_lambdas: Optional[Sequence[int]] = None) -> dict:
    """The ``MultiInstanceHead`` config of a stock (or multi-instance) head."""
    cfg = dict(copy.deepcopy(head))
    for key in ('num_instances', 'loss_lambdas'):
        if key in cfg:
            raise ValueError(f'model.head.{key} is set: it is set once, on the estimator '
                             f'(model.{key}); remove it from the head')
    common = dict(num_instances=num_instances, loss_lambdas=loss_lambdas)
    if cfg.get('type') == 'MultiInstanceHead':
        return dict(cfg, **common)
    return dict(type='MultiInstanceHead', head=cfg, **common)


def _call_on_buffer_copies(module: nn.Module, *args, **kwargs):
    """``module(*args, **kwargs)`` with copies of its buffers, dropped afterwards.

    The module's own parameters are used (gradients reach them); whatever the
    call writes to a buffer (batch norm's running statistics and
    ``num_batches_tracked`` in training) goes to the copies.
    """
    copies = {name: buf.clone() for name, buf in module.named_buffers()}
    return functional_call(module, copies, args, kwargs)


def _interleave(per_lambda: list):
    """N features of B rows each (one per λ) -> one of B*N rows in (box, λ) order."""
    first = per_lambda[0]
    if isinstance(first, Tensor):
        return torch.stack(per_lambda, dim=1).flatten(0, 1)
    return type(first)(_interleave(list(parts)) for parts in zip(*per_lambda))


def _concat(arrays: list):
    """Concatenate tensors or arrays along the first axis."""
    if isinstance(arrays[0], Tensor):
        return torch.cat(arrays)
    return np.concatenate(arrays)
