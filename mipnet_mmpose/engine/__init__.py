from .hooks import MultiInstanceTestHook

__all__ = ['MultiInstanceTestHook']
