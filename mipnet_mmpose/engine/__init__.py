from .checkpoint_io import AtomicLocalBackend, CorruptCheckpointError, load_local_checkpoint
from .hooks import (
    MultiInstanceTestHook,
    MultiInstanceVisualizationHook,
    WorkDirInUseError,
    WorkDirLockHook,
)

__all__ = [
    'AtomicLocalBackend', 'CorruptCheckpointError', 'MultiInstanceTestHook',
    'MultiInstanceVisualizationHook', 'WorkDirInUseError', 'WorkDirLockHook',
    'load_local_checkpoint'
]
