from .multi_instance_topdown import MultiInstanceTopdownPoseEstimator
from .per_lambda_step import MultiInstanceDistributedDataParallel, train_step_per_lambda

__all__ = [
    'MultiInstanceTopdownPoseEstimator', 'MultiInstanceDistributedDataParallel',
    'train_step_per_lambda'
]
