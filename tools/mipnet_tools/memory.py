"""Peak memory of this process on Linux, as the memory probes of the benchmark measure it.

A probe runs in a fresh process, resets the peak RSS (VmHWM) to the current RSS just
before the measured work and reads it after: ``ru_maxrss`` would not do, as Linux
carries the parent's peak RSS at fork into the child's ``ru_maxrss`` through exec.
"""
from pathlib import Path
from typing import Optional


def proc_status_mib(field: str) -> Optional[float]:
    """A ``VmXXX`` field of /proc/self/status in MiB (None where there is none)."""
    try:
        for line in Path('/proc/self/status').read_text().splitlines():
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024  # in kB
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; Linux >= 4.0."""
    try:
        Path('/proc/self/clear_refs').write_text('5')
        return True
    except OSError:
        return False
