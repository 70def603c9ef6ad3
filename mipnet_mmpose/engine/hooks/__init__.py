from .checkpoint_file_check_hook import CheckpointFileCheckHook
from .multi_instance_test_hook import MultiInstanceTestHook
from .multi_instance_visualization_hook import MultiInstanceVisualizationHook
from .work_dir_lock_hook import WorkDirHoldsConfigError, WorkDirInUseError, WorkDirLockHook

__all__ = [
    'CheckpointFileCheckHook', 'MultiInstanceTestHook', 'MultiInstanceVisualizationHook',
    'WorkDirHoldsConfigError', 'WorkDirInUseError', 'WorkDirLockHook'
]
