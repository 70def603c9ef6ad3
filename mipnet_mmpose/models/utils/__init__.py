"""Model utilities: the authors' checkpoint conversion and the ONNX export wrapper."""
from .official_ckpt import (
    HRNET_RULES,
    RESNET_RULES,
    OfficialCheckpointError,
    convert_official_checkpoint,
    convert_official_state_dict,
    extract_state_dict,
    load_official_state_dict,
    map_official_key,
)
from .onnx_wrapper import MultiInstanceHeatmapExporter, export_onnx

__all__ = [
    'HRNET_RULES', 'RESNET_RULES', 'MultiInstanceHeatmapExporter', 'OfficialCheckpointError',
    'convert_official_checkpoint', 'convert_official_state_dict', 'extract_state_dict',
    'export_onnx', 'load_official_state_dict', 'map_official_key'
]
