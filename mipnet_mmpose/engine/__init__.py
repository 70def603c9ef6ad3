from .checkpoint_io import AtomicLocalBackend, CorruptCheckpointError, load_local_checkpoint
from .hooks import MultiInstanceTestHook, MultiInstanceVisualizationHook

__all__ = [
    'AtomicLocalBackend', 'CorruptCheckpointError', 'MultiInstanceTestHook',
    'MultiInstanceVisualizationHook', 'load_local_checkpoint'
]
