"""Any MMPose top-down head, trained on N instances per box."""
import copy
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.structures import PixelData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample
from mmpose.utils.typing import ConfigType, OptSampleList
from torch import Tensor, nn

from ...utils import check_int_at_least
from ...utils.mixin_class import made_on_demand, stock_class, with_mixin

#: Heads of multi-stage models: they take one target per stage.
MULTI_STAGE_HEADS = ('CPMHead', 'MSPNHead')


class HeadOutputs:
    """What a head's forward methods returned for a batch, handed to its stock
    ``loss`` in place of the features.

    A stock ``loss`` runs the head's forward on its first argument, then
    compares the outputs with the targets. The multi-instance head runs the
    forward once on all B*N rows and calls the stock loss several times (all
    rows or the trained λ, then each λ) on rows of those outputs: the forward
    methods of a multi-instance head answer a ``HeadOutputs`` with their entry
    instead of running the network (see :meth:`MultiInstanceHeadMixin.forward`).

    Args:
        outputs (dict): ``(module, method name)`` -> what that method returned
            (a tensor or a tuple of them, B rows each).
    """

    def __init__(self, outputs: Dict[Tuple[nn.Module, str], Any]):
        self.outputs = outputs
        self.answered: List[Tuple[nn.Module, str]] = []

    def answer(self, module: nn.Module, name: str) -> Any:
        """The output of ``module.<name>``, as its forward call in a stock loss."""
        self.answered.append((module, name))
        return self.outputs[module, name]

    def all_answered_once(self) -> bool:
        """Whether each output was asked for exactly once."""
        def keys(pairs):
            return sorted((id(module), name) for module, name in pairs)
        return keys(self.answered) == keys(self.outputs)

    @property
    def num_rows(self) -> int:
        return _first_tensor(next(iter(self.outputs.values()))).shape[0]

    def rows(self, rows: Any, detach: bool = False) -> 'HeadOutputs':
        """The same outputs, of the given rows only (a slice or an index tensor)."""
        return HeadOutputs({key: _rows(value, rows, detach)
                            for key, value in self.outputs.items()})


class MultiInstanceHeadMixin:
    """Trains a stock head on the N instance slots of every box, through its own loss.

    ``MultiInstance<Name>`` (this mixin first, then the stock head class) is
    built from the stock config plus ``num_instances`` and ``loss_lambdas``.

    The backbone returns B*N feature rows ordered (box, λ): row ``b*N + i`` is
    box b conditioned on λ=i. The targets come from
    :class:`~mipnet_mmpose.codecs.MultiInstanceCodec`: per sample, label arrays
    with N rows (``keypoint_weights`` (N, K), ``keypoint_x_labels``
    (N, K, Wx), ``keypoint_labels`` (N, K, 2) ...) and fields with N
    instance-major blocks (``heatmaps`` (N*C, H, W)).

    :meth:`loss` runs the head's forward once on all B*N rows, splits every
    sample into N single-instance samples (row order (box, λ)) and calls the
    stock ``loss`` with those outputs (:class:`HeadOutputs`): the stock loss,
    accuracy and any extra terms over all rows, then for each λ the same on
    its rows (detached, logged as ``<name>_lambda{i}``, e.g. ``loss_kpt_lambda0``
    and ``acc_pose_lambda0``: the estimator's ``parse_losses`` keeps them out
    of the total, and mmengine's log processor averages the loss ones over
    its window as it averages ``loss_kpt``).

    With ``loss_lambdas`` set, only the rows of those λ enter the loss (every
    row is still computed, so the backbone's batch statistics see all N, as in
    the authors' N=3 code, ``lib/core/train_general.py`` lines 86-109, which
    runs λ = 0, 1, 2 and sums the losses of λ = 0 and 1 only); the other λ
    are still logged.

    Prediction is the stock per-row decoding (flip test included); grouping the
    rows into instances is the estimator's job.

    Args:
        *args, **kwargs: The stock head's arguments.
        num_instances (int): N. Defaults to 2; the estimator sets it.
        loss_lambdas (Sequence[int], optional): The λ whose slots enter the
            loss; None (default) trains all N. The estimator sets it.
    """

    def __init__(self, *args, num_instances: int = 2,
                 loss_lambdas: Optional[Sequence[int]] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.num_instances = check_int_at_least('num_instances', num_instances, 1)
        #: The λ whose slots enter the training loss; None: all N.
        self.loss_lambdas = check_loss_lambdas(loss_lambdas, self.num_instances)

    def _loss_forwards(self) -> List[Tuple[nn.Module, str]]:
        """The forward methods the stock ``loss`` calls, as (module, name); each
        answers a :class:`HeadOutputs` with its entry."""
        return [(self, 'forward')]

    def forward(self, feats: Any, *args, **kwargs) -> Any:
        """The stock forward; given :class:`HeadOutputs` (inside the stock
        ``loss``), the outputs it holds for this head."""
        if isinstance(feats, HeadOutputs):
            return feats.answer(self, 'forward')
        return super().forward(feats, *args, **kwargs)

    def head_outputs(self, feats: Any) -> HeadOutputs:
        """Run the forward methods the stock ``loss`` calls on ``feats`` (B*N rows).

        The outputs of a reduced-precision forward (``torch.autocast``, bfloat16 or
        float16) are kept in float32: the stock losses compute their accuracies on
        numpy, which has no bfloat16, and the loss is then summed in float32.
        """
        return HeadOutputs({(module, name): _to_float32(getattr(module, name)(feats))
                            for module, name in self._loss_forwards()})

    def loss(self,
             feats: Tuple[Tensor],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Losses of B*N feature rows against per-instance targets.

        Args:
            feats (Tuple[Tensor]): Features with B*N rows; or the
                :class:`HeadOutputs` of single-instance samples computed by the
                head that owns this one (``VisPredictHead``'s pose head), whose
                loss is then the stock one.
            batch_data_samples (List[:obj:`PoseDataSample`]): B samples with N
                instance targets each.
            train_cfg (dict): The stock head's training config.

        Returns:
            dict: The stock losses and accuracies over all rows, and per λ.
        """
        if isinstance(feats, HeadOutputs):
            return super().loss(feats, batch_data_samples, train_cfg=train_cfg)
        n = self.num_instances
        samples = split_instance_targets(batch_data_samples, n, type(self).__name__)
        outputs = self.head_outputs(feats)
        rows = outputs.num_rows
        if rows != len(samples):
            raise ValueError(
                f'{type(self).__name__}(num_instances={n}) got {rows} feature rows for '
                f'{len(batch_data_samples)} samples; expected {len(samples)}. The backbone '
                'must run every box with all N values of λ (the estimator does).')
        if self.loss_lambdas is None:
            losses = self._stock_loss(outputs, samples, train_cfg)
        else:
            # Rows (box, λ) of the trained λ only, in row order.
            keep = [row for row in range(rows) if row % n in self.loss_lambdas]
            index = torch.tensor(keep, device=_first_tensor(feats).device)
            losses = self._stock_loss(outputs.rows(index), [samples[row] for row in keep],
                                      train_cfg)
        if n > 1:
            with torch.no_grad():
                for i in range(n):
                    per_lambda = self._stock_loss(outputs.rows(slice(i, None, n), detach=True),
                                                  samples[i::n], train_cfg)
                    for key, value in per_lambda.items():
                        losses[_lambda_key(key, i)] = value.detach() \
                            if isinstance(value, Tensor) else value
        return losses

    def loss_of_lambda(self,
                       feats: Tuple[Tensor],
                       batch_data_samples: OptSampleList,
                       lambda_value: int,
                       train_cfg: ConfigType = {}) -> dict:
        """The stock losses of B feature rows that all have λ = ``lambda_value``.

        For training one λ per optimizer step (the estimator's
        ``optimizer_step_per_lambda``): the rows are compared with slot
        ``lambda_value`` of every sample's targets.

        Args:
            feats (Tuple[Tensor]): Features with B rows, one per box.
            batch_data_samples (List[:obj:`PoseDataSample`]): B samples with N
                instance targets each.
            lambda_value (int): The λ of every row, in [0, N).
            train_cfg (dict): The stock head's training config.

        Returns:
            dict: The stock losses and accuracies (stock names).
        """
        n = self.num_instances
        if not 0 <= lambda_value < n:
            raise ValueError(f'lambda_value={lambda_value} must lie in [0, {n - 1}]')
        samples = split_instance_targets(batch_data_samples, n, type(self).__name__)
        samples = samples[lambda_value::n]
        outputs = self.head_outputs(feats)
        if outputs.num_rows != len(samples):
            raise ValueError(
                f'{type(self).__name__}.loss_of_lambda got {outputs.num_rows} feature rows '
                f'for {len(samples)} samples: the backbone must run every box once, with '
                f'lambda={lambda_value}')
        return self._stock_loss(outputs, samples, train_cfg)

    def _stock_loss(self, outputs: HeadOutputs, samples: List[PoseDataSample],
                    train_cfg: ConfigType) -> dict:
        """The stock ``loss`` of computed outputs."""
        losses = super().loss(outputs, samples, train_cfg=train_cfg)
        if not outputs.all_answered_once():
            raise TypeError(f'{type(self).__name__}.loss does not call its forward once per '
                            'batch; the multi-instance head cannot train it')
        return losses

    def decode(self, batch_outputs: Any):
        """Stock decoding, in float32 after a reduced-precision forward.

        Under ``torch.autocast`` the outputs come in bfloat16 or float16; the
        stock decoders work on numpy, which has no bfloat16.

        Args:
            batch_outputs (Tensor | Tuple[Tensor]): One output per row, e.g.
                heatmaps (B, K, H, W) or SimCC (x, y) vectors

        Returns:
            list[InstanceData]: The stock decoded instances, one per row
        """
        return super().decode(_to_float32(batch_outputs))


def split_instance_targets(batch_data_samples: List[PoseDataSample], n: int,
                           owner: str = 'the head') -> List[PoseDataSample]:
    """B samples with N instance targets -> B*N single-instance samples, (box, λ) order.

    Label arrays with N rows give row i to instance i (a label with one row,
    e.g. the own person's ``keypoints_visible_weights``, is shared); fields
    of N*C channels give channels ``i*C .. i*C+C-1`` to instance i.
    """
    out = []
    for sample in batch_data_samples:
        labels = sample.get('gt_instance_labels')
        if labels is None or 'keypoint_weights' not in labels or \
                labels.keypoint_weights.shape[0] != n:
            got = None if labels is None or 'keypoint_weights' not in labels else \
                tuple(labels.keypoint_weights.shape)
            raise ValueError(
                f'{owner}(num_instances={n}) needs per-instance targets: keypoint_weights '
                f'of shape ({n}, K), got {got}. Put BuildInstanceSlots(num_instances={n}) '
                'after TopdownAffine and encode with MultiInstanceCodec (model.num_instances '
                'and BuildInstanceSlots must name the same N)')
        fields = sample.get('gt_fields')
        for i in range(n):
            single = PoseDataSample(metainfo=sample.metainfo)
            if 'gt_instances' in sample:
                single.gt_instances = sample.gt_instances
            single.gt_instance_labels = _instance_row(labels, i, n)
            if fields is not None:
                single.gt_fields = PixelData(**{
                    key: value.reshape(n, -1, *value.shape[1:])[i]
                    for key, value in fields.items()})
            out.append(single)
    return out


def _instance_row(labels, i: int, n: int):
    row = labels.new()
    for key, value in labels.items():
        row.set_field(value[i:i + 1] if value.shape[0] == n else value, key)
    return row


def _lambda_key(key: str, i: int) -> str:
    """The log name of entry ``key`` (``loss_kpt``, ``acc_pose``, ...) of λ = i's rows."""
    return f'{key}_lambda{i}'


def is_lambda_log_key(key: str) -> bool:
    """Whether ``key`` names a per-λ log entry (``<name>_lambda{i}``, see
    :func:`_lambda_key`), which the estimator's ``parse_losses`` keeps out of the
    total loss."""
    return re.search(r'_lambda\d+$', key) is not None


def _first_tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else _first_tensor(value[0])


def _rows(value: Any, rows: Any, detach: bool = False) -> Any:
    """The rows (a slice or an index tensor) of a tensor or a nest of them."""
    if isinstance(value, Tensor):
        value = value[rows]
        return value.detach() if detach else value
    return type(value)(_rows(v, rows, detach) for v in value)


def _to_float32(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value.float() if value.dtype in (torch.bfloat16, torch.float16) else value
    if isinstance(value, (tuple, list)):
        return type(value)(_to_float32(v) for v in value)
    return value


def multi_instance_head_class(cls: type) -> type:
    """``MultiInstance<Name>``: the stock head class with the multi-instance mixin."""
    return with_mixin(MultiInstanceHeadMixin, cls, __name__)


def __getattr__(name: str) -> type:
    """``MultiInstance<Name>`` head classes on demand (for unpickling)."""
    return made_on_demand(name, MultiInstanceHeadMixin, __name__, (MODELS, ))


def check_not_multi_stage_head(head_type: str) -> None:
    name = str(head_type).split('.')[-1]
    if name in MULTI_STAGE_HEADS:
        raise ValueError(
            f'MIPNet does not support {name}: it is the head of a multi-stage model '
            '(CPM, Hourglass, MSPN, RSN) and takes one target per stage (intermediate '
            'supervision); use a single-stage top-down head (HeatmapHead, RTMCCHead, '
            'SimCCHead, RegressionHead, RLEHead, ViPNASHead, VisPredictHead)')


def check_loss_lambdas(loss_lambdas: Optional[Sequence[int]],
                       num_instances: int) -> Optional[Tuple[int, ...]]:
    """``loss_lambdas`` as a sorted tuple (None when it names all N), or a clear error."""
    if loss_lambdas is None:
        return None
    values = list(loss_lambdas) if isinstance(loss_lambdas, (list, tuple)) else None
    if not values or any(isinstance(v, bool) or not isinstance(v, int) or
                         not 0 <= v < num_instances for v in values) or \
            len(set(values)) != len(values):
        raise ValueError(
            f'loss_lambdas={loss_lambdas!r} must be distinct λ values in '
            f'[0, {num_instances - 1}] (num_instances={num_instances}), e.g. (0, 1) for '
            "the authors' N=3 training; None trains every slot")
    values = tuple(sorted(values))
    return None if values == tuple(range(num_instances)) else values


@MODELS.register_module(name='MultiInstanceHead')
def build_multi_instance_head(head: dict, num_instances: int = 2,
                              loss_lambdas: Optional[Sequence[int]] = None) -> nn.Module:
    """Build any registered top-down head as a multi-instance head.

    The stock class is looked up from the config's ``type`` (``_scope_``
    included) and ``MultiInstance<Name>`` (that class with
    :class:`MultiInstanceHeadMixin` in front; :class:`MultiInstanceHeatmapHead`
    for ``HeatmapHead``) is built from the same config plus the arguments
    below: parameter names, forward, predict and decode stay the stock ones.

    Args:
        head (dict): The stock head config.
        num_instances (int): N. Defaults to 2.
        loss_lambdas (Sequence[int], optional): The λ whose slots enter the
            loss; None (default) trains all N.
    """
    check_not_multi_stage_head(head.get('type', ''))
    cls = stock_class(head, MODELS)
    check_not_multi_stage_head(cls.__name__)
    return MODELS.build(dict(copy.deepcopy(head), type=multi_instance_head_class(cls),
                             num_instances=num_instances, loss_lambdas=loss_lambdas))
