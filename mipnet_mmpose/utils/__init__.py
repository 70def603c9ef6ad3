from .machine import cpu_name

__all__ = ['cpu_name']
