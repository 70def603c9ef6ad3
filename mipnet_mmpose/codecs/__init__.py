"""Keypoint codecs: multi-instance heatmap targets."""
from .multi_instance_heatmap import MultiInstanceHeatmap

__all__ = ['MultiInstanceHeatmap']
