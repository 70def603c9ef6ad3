"""Keypoint codecs: targets of the N instance slots."""
from .multi_instance_codec import MultiInstanceCodec

__all__ = ['MultiInstanceCodec']
