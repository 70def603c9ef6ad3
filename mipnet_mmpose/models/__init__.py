from .backbones import MIPHRNet, MIPResNet
from .heads import MultiInstanceHeatmapHead
from .mimb import (
    MIMB,
    default_lambda_encoding,
    encode_lambdas,
    lambda_code_size,
    lambda_code_table,
)
from .pose_estimators import MultiInstanceTopdownPoseEstimator

__all__ = [
    'MIMB', 'MIPHRNet', 'MIPResNet', 'MultiInstanceHeatmapHead',
    'MultiInstanceTopdownPoseEstimator', 'default_lambda_encoding', 'encode_lambdas',
    'lambda_code_size', 'lambda_code_table'
]
