from .checks import check_int_at_least
from .machine import cpu_name

__all__ = ['check_int_at_least', 'cpu_name']
