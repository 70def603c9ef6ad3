from .checks import check_int_at_least

__all__ = ['check_int_at_least']
