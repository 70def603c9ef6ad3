"""Data transforms of the multi-instance training path."""
from .instance_slots import BuildInstanceSlots

__all__ = ['BuildInstanceSlots']
