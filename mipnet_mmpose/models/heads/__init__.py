from .multi_instance_head import (
    MULTI_STAGE_HEADS,
    HeadOutputs,
    MultiInstanceHeadMixin,
    build_multi_instance_head,
    check_loss_lambdas,
    check_not_multi_stage_head,
    multi_instance_head_class,
    split_instance_targets,
)
from .multi_instance_heatmap_head import MultiInstanceHeatmapHead
from .multi_instance_vis_head import MultiInstanceVisPredictHead

__all__ = [
    'MultiInstanceHeatmapHead', 'MultiInstanceVisPredictHead', 'MultiInstanceHeadMixin',
    'HeadOutputs', 'build_multi_instance_head', 'multi_instance_head_class',
    'check_not_multi_stage_head', 'check_loss_lambdas', 'split_instance_targets',
    'MULTI_STAGE_HEADS'
]
