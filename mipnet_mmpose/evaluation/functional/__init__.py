from .fast_oks_nms import oks_nms
from .pose_merging import (
    NoCocoMetricError,
    coco_metric_defaults,
    merge_instance_poses,
    merge_settings_from_metric,
    pose_areas,
    rescore_poses,
)

__all__ = [
    'NoCocoMetricError', 'coco_metric_defaults', 'merge_instance_poses',
    'merge_settings_from_metric', 'oks_nms', 'pose_areas', 'rescore_poses'
]
