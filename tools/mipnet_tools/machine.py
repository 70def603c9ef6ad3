"""What machine a measurement ran on, for the reports of the benchmark and experiments."""
import os
import platform
from pathlib import Path
from typing import Optional


def cpu_name() -> str:
    """The CPU model as Linux names it, else what ``platform`` knows."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> Optional[float]:
    """The 1-minute load average (None where the OS has none)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None
