from .checkpoint_io import (
    AtomicLocalBackend,
    CorruptCheckpointError,
    check_checkpoint_file,
    load_checkpoint_file,
)
from .hooks import (
    CheckpointFileCheckHook,
    MultiInstanceTestHook,
    MultiInstanceVisualizationHook,
    WorkDirHoldsConfigError,
    WorkDirInUseError,
    WorkDirLockHook,
)

__all__ = [
    'AtomicLocalBackend', 'CheckpointFileCheckHook', 'CorruptCheckpointError',
    'MultiInstanceTestHook', 'MultiInstanceVisualizationHook', 'WorkDirHoldsConfigError',
    'WorkDirInUseError', 'WorkDirLockHook', 'check_checkpoint_file', 'load_checkpoint_file'
]
