from .hooks import MultiInstanceTestHook, MultiInstanceVisualizationHook

__all__ = ['MultiInstanceTestHook', 'MultiInstanceVisualizationHook']
