"""What machine a measurement ran on, for the reports of the benchmark and experiments."""
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU model as Linux names it, else what ``platform`` knows."""
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
