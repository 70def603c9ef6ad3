"""Data transforms of the multi-instance training path."""
from .clipped_bbox_transform import ClippedRandomBBoxTransform
from .instance_slots import BuildInstanceSlots

__all__ = ['BuildInstanceSlots', 'ClippedRandomBBoxTransform']
