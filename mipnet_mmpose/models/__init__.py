from .backbones import MIPHRNet, MIPResNet
from .heads import MultiInstanceHeatmapHead
from .mimb import MIMB, encode_lambdas, lambda_code_size
from .pose_estimators import MultiInstanceTopdownPoseEstimator

__all__ = [
    'MIMB', 'MIPHRNet', 'MIPResNet', 'MultiInstanceHeatmapHead',
    'MultiInstanceTopdownPoseEstimator', 'encode_lambdas', 'lambda_code_size'
]
