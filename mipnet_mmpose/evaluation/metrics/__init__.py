"""Evaluation metrics (registered in ``mmpose.registry.METRICS``)."""
from .multi_instance_coco_metric import MultiInstanceCocoMetric, PoseId

__all__ = ['MultiInstanceCocoMetric', 'PoseId']
