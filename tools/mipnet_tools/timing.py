"""Interleaved, repeated timing of measured cases on the wall and the process CPU clock.

The compared variants run inside every repeat, each repeat starting at another one, so
that machine noise hits all of them alike; each measurement is summarised by its median.
"""
import statistics
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch


class Clock:
    """Wall time (and process CPU time on CPU), synchronising CUDA first."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == 'cuda'

    def now(self) -> Tuple[float, float]:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter(), time.process_time()

    def since(self, start: Tuple[float, float]) -> Tuple[float, Optional[float]]:
        """(wall ms, CPU ms or None on CUDA) since ``start``."""
        wall, cpu = self.now()
        return (wall - start[0]) * 1e3, None if self.cuda else (cpu - start[1]) * 1e3


# A case runs once and returns {measurement name: (wall ms, cpu ms)}: a flip-test
# inference times its first forward (flip off) and the whole (flip on) in one run.
# Called with warmup=True it may run a cheaper version with the same shapes.
Case = Callable[[bool], Dict[str, Tuple[float, Optional[float]]]]


def run_interleaved(cases: Dict[str, Case], repeats: int, warmup: int,
                    log: Callable[[str], None]) -> Dict[str, Dict[str, dict]]:
    """Run every case ``warmup`` times untimed, then ``repeats`` times interleaved.

    Repeat r starts at case r (mod the number of cases), so no case always holds
    the same place in a repeat (first after a pause, last, ...).

    Returns:
        dict: ``{case: {measurement: stats}}``, see :func:`summarise`.
    """
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name](True)
    samples: Dict[str, Dict[str, List[Tuple[float, Optional[float]]]]] = {n: {} for n in names}
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(len(names)):
            name = names[(r + i) % len(names)]
            for key, value in cases[name](False).items():
                samples[name].setdefault(key, []).append(value)
        log(f'  repeat {r + 1}/{repeats} took {time.perf_counter() - t0:.1f} s')
    return {n: {k: summarise(v) for k, v in m.items()} for n, m in samples.items()}


def summarise(samples: List[Tuple[float, Optional[float]]]) -> dict:
    """Median / min / all samples of wall ms, and of CPU ms where measured (not CUDA)."""
    walls = [w for w, _ in samples]
    cpus = [c for _, c in samples if c is not None]
    return dict(median_ms=statistics.median(walls), min_ms=min(walls),
                samples_ms=[round(w, 3) for w in walls],
                cpu_median_ms=statistics.median(cpus) if cpus else None,
                cpu_samples_ms=[round(c, 3) for c in cpus])


CLOCK_KEYS = {'wall': 'median_ms', 'cpu': 'cpu_median_ms'}


def ratio(a: dict, b: dict, clock: str = 'wall') -> Optional[float]:
    """Ratio of the medians of two measurements on ``clock`` (None if unmeasured)."""
    key = CLOCK_KEYS[clock]
    if a.get(key) is None or b.get(key) is None or not b[key]:
        return None
    return a[key] / b[key]
