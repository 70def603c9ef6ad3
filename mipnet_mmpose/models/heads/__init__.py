from .multi_instance_head import (
    MULTI_STAGE_HEADS,
    MultiInstanceHeadMixin,
    build_multi_instance_head,
    check_loss_lambdas,
    check_not_multi_stage_head,
    split_instance_targets,
)
from .multi_instance_heatmap_head import MultiInstanceHeatmapHead

__all__ = [
    'MultiInstanceHeatmapHead', 'MultiInstanceHeadMixin', 'build_multi_instance_head',
    'check_not_multi_stage_head', 'check_loss_lambdas', 'split_instance_targets',
    'MULTI_STAGE_HEADS'
]
