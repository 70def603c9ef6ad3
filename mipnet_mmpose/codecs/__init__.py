"""Keypoint codecs: targets of the N instance slots."""
from .multi_instance_codec import MultiInstanceCodec, MultiInstanceHeatmap

__all__ = ['MultiInstanceCodec', 'MultiInstanceHeatmap']
