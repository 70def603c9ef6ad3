"""Evaluation metrics (registered in ``mmpose.registry.METRICS``)."""
from .lambda_zero_metric import (
    PER_BOX_METRICS,
    LambdaZeroMetricMixin,
    lambda_zero_metric_class,
)
from .multi_instance_coco_metric import (
    MERGING_METRICS,
    MultiInstanceCocoMetric,
    MultiInstanceCocoMetricMixin,
    MultiInstanceCocoWholeBodyMetric,
    PoseId,
    multi_instance_coco_metric_class,
)

__all__ = ['MultiInstanceCocoMetric', 'MultiInstanceCocoWholeBodyMetric',
           'MultiInstanceCocoMetricMixin', 'multi_instance_coco_metric_class', 'MERGING_METRICS',
           'PoseId', 'LambdaZeroMetricMixin', 'PER_BOX_METRICS', 'lambda_zero_metric_class']
