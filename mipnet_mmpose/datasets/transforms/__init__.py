"""Data transforms of the multi-instance training path."""
from .clipped_bbox_transform import ClippedRandomBBoxTransform
from .instance_slots import BuildInstanceSlots
from .keypoint_converter import MultiInstanceKeypointConverter

__all__ = ['BuildInstanceSlots', 'ClippedRandomBBoxTransform', 'MultiInstanceKeypointConverter']
