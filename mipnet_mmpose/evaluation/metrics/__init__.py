"""Evaluation metrics (registered in ``mmpose.registry.METRICS``)."""
from .lambda_zero_metric import (
    LAMBDA_ZERO_METRICS,
    PER_BOX_METRICS,
    LambdaZeroMetricMixin,
    multi_instance_metric_class,
)
from .multi_instance_coco_metric import MultiInstanceCocoMetric, PoseId

__all__ = ['MultiInstanceCocoMetric', 'PoseId', 'LambdaZeroMetricMixin', 'PER_BOX_METRICS',
           'LAMBDA_ZERO_METRICS',
           'multi_instance_metric_class']
