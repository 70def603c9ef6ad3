from .multi_instance_topdown import MultiInstanceTopdownPoseEstimator

__all__ = ['MultiInstanceTopdownPoseEstimator']
