"""High-level inference: run a MIPNet model on an image, merge and draw its poses."""
from ..datasets.input_checks import UndecodableImageError
from .detection_file import (
    DetectionFile,
    DetectionFileBoxes,
    DetectionFileError,
    boxes_from_file,
)
from .inference import (
    config_bbox_thr,
    config_kpt_thr,
    config_merge_settings,
    decode_image,
    draw_mipnet_result,
    inference_mipnet,
    init_mipnet,
    merge_mipnet_samples,
    pose_records,
    split_boxes,
)
from .inferencer import MIPNetInferencer, complete_inference_config
from .test_time import set_test_time, test_time_from_config

__all__ = [
    'inference_mipnet', 'init_mipnet', 'draw_mipnet_result', 'config_merge_settings',
    'set_test_time', 'test_time_from_config', 'merge_mipnet_samples', 'pose_records',
    'MIPNetInferencer', 'complete_inference_config', 'config_kpt_thr', 'config_bbox_thr',
    'decode_image',
    'split_boxes', 'DetectionFile', 'DetectionFileBoxes', 'DetectionFileError',
    'boxes_from_file', 'UndecodableImageError'
]
