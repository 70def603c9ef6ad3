"""Number formatting of the measurement tables."""
from typing import Optional


def fmt(value: Optional[float], spec: str = '.3f') -> str:
    """``value`` formatted with ``spec``, or ``'-'`` for a figure that was not measured."""
    return '-' if value is None else format(value, spec)
