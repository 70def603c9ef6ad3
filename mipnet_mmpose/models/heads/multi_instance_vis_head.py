"""Visibility head (with its pose head) trained on N instances per box."""
from typing import Any

from mmpose.models.heads import VisPredictHead
from mmpose.registry import MODELS

from ...utils.mixin_class import named_made_class, stock_class
from .multi_instance_head import HeadOutputs, MultiInstanceHeadMixin, multi_instance_head_class


@named_made_class
class MultiInstanceVisPredictHead(MultiInstanceHeadMixin, VisPredictHead):
    """:class:`VisPredictHead` whose feature rows come in groups of N instances.

    The ``MultiInstance<Name>`` class of ``VisPredictHead``. Its stock ``loss``
    runs two forwards, its own ``vis_forward`` and its pose head's ``forward``
    (inside the pose head's ``loss``), so both answer :class:`HeadOutputs`: the
    pose head is built as the multi-instance class of its stock type with the
    same N (same parameters and names).

    Args:
        pose_cfg (dict): The stock pose head config.
        num_instances (int): N. Defaults to 2; the estimator sets it.
        **kwargs: ``loss_lambdas`` and the other arguments of :class:`VisPredictHead`.
    """

    def __init__(self, pose_cfg: dict, num_instances: int = 2, **kwargs):
        pose_cfg = dict(pose_cfg, type=multi_instance_head_class(stock_class(pose_cfg, MODELS)),
                        num_instances=num_instances)
        super().__init__(pose_cfg, num_instances=num_instances, **kwargs)

    def _loss_forwards(self):
        return [(self, 'vis_forward'), (self.pose_head, 'forward')]

    def vis_forward(self, feats: Any) -> Any:
        """The stock visibility forward; given :class:`HeadOutputs`, its entry."""
        if isinstance(feats, HeadOutputs):
            return feats.answer(self, 'vis_forward')
        return super().vis_forward(feats)
