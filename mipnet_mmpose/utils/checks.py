"""Argument checks shared by the plugin's modules."""
import numpy as np


def check_int_at_least(name: str, value, minimum: int) -> int:
    """Return ``value`` as an int, or raise a clear error unless it is an int >= ``minimum``.

    ``bool`` is refused although it is an ``int`` subclass: ``num_instances=True``
    is a config mistake, not N=1.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f'{name} must be an int >= {minimum}, got {value!r}')
    return int(value)
