from .multi_instance_test_hook import MultiInstanceTestHook
from .multi_instance_visualization_hook import MultiInstanceVisualizationHook

__all__ = ['MultiInstanceTestHook', 'MultiInstanceVisualizationHook']
