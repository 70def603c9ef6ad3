"""High-level inference: run a MIPNet model on an image, merge and draw its poses."""
from .inference import (
    config_merge_settings,
    draw_mipnet_result,
    inference_mipnet,
    init_mipnet,
    merge_mipnet_samples,
    pose_records,
)
from .inferencer import MIPNetInferencer, complete_inference_config
from .test_time import set_test_time, test_time_from_config

__all__ = [
    'inference_mipnet', 'init_mipnet', 'draw_mipnet_result', 'config_merge_settings',
    'set_test_time', 'test_time_from_config', 'merge_mipnet_samples', 'pose_records',
    'MIPNetInferencer', 'complete_inference_config'
]
