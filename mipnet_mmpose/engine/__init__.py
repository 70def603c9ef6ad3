from .checkpoint_io import (
    CHECKPOINT_GLOBALS,
    AtomicLocalBackend,
    CorruptCheckpointError,
    UnsafeCheckpointError,
    allow_checkpoint_globals,
    check_checkpoint_file,
    load_checkpoint_file,
    resave_trusted_checkpoint,
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
    'AtomicLocalBackend', 'CHECKPOINT_GLOBALS', 'CheckpointFileCheckHook',
    'CorruptCheckpointError', 'MultiInstanceTestHook', 'MultiInstanceVisualizationHook',
    'UnsafeCheckpointError', 'WorkDirHoldsConfigError', 'WorkDirInUseError', 'WorkDirLockHook',
    'allow_checkpoint_globals', 'check_checkpoint_file', 'load_checkpoint_file',
    'resave_trusted_checkpoint'
]
