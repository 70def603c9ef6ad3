"""Heatmap head trained on N instances per box (MIPNet's HRNet/ResNet head)."""
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS

from ...utils.mixin_class import named_made_class
from .multi_instance_head import MultiInstanceHeadMixin


@named_made_class
@MODELS.register_module()
class MultiInstanceHeatmapHead(MultiInstanceHeadMixin, HeatmapHead):
    """:class:`HeatmapHead` whose feature rows come in groups of N instances.

    The ``MultiInstance<Name>`` class of ``HeatmapHead``: what
    :func:`~mipnet_mmpose.models.heads.build_multi_instance_head` and the
    estimator build for a ``HeatmapHead`` config. The keypoint-weighted loss
    over all N instances, the loss and PCK accuracy of each λ logged
    (``loss_kpt_lambda{i}``, ``acc_pose_lambda{i}``).

    Args:
        num_instances (int): N. Defaults to 2; the estimator sets it.
        loss_lambdas (Sequence[int], optional): The λ whose slots enter the
            loss; None (default) trains all N. The estimator sets it.
        **kwargs: Arguments of :class:`HeatmapHead`.
    """
