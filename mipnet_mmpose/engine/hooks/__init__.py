from .multi_instance_test_hook import MultiInstanceTestHook

__all__ = ['MultiInstanceTestHook']
