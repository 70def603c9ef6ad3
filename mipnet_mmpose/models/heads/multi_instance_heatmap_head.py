"""Heatmap head trained on N instances per box (MIPNet's HRNet/ResNet head)."""
from typing import Optional, Sequence

from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS

from ...utils import check_int_at_least
from .multi_instance_head import MultiInstanceHeadMixin, check_loss_lambdas


@MODELS.register_module()
class MultiInstanceHeatmapHead(MultiInstanceHeadMixin, HeatmapHead):
    """:class:`HeatmapHead` whose feature rows come in groups of N instances.

    What :func:`~mipnet_mmpose.models.heads.build_multi_instance_head` makes of
    a ``HeatmapHead``, under a fixed name: the keypoint-weighted loss over all
    N instances, the loss and PCK accuracy of each λ logged
    (``lambda{i}_kpt``, ``acc_pose_lambda{i}``).

    Args:
        num_instances (int): N. Defaults to 2; the estimator sets it.
        loss_lambdas (Sequence[int], optional): The λ whose slots enter the
            loss; None (default) trains all N. The estimator sets it.
        **kwargs: Arguments of :class:`HeatmapHead`.
    """

    def __init__(self, num_instances: int = 2,
                 loss_lambdas: Optional[Sequence[int]] = None, **kwargs):
        super().__init__(**kwargs)
        self.num_instances = check_int_at_least('num_instances', num_instances, 1)
        self.loss_lambdas = check_loss_lambdas(loss_lambdas, self.num_instances)
