"""Progress and frames per second of an inferencer run, with what the merge kept."""
import sys
import time
from typing import List, Optional

import numpy as np


class RunProgress:
    """Progress lines over a run's inputs, then one line of rates and counts.

    Progress is printed as whole lines (``3/10 frames, 2.10 frames/s, elapsed
    1 s, ETA 3 s``), at most one per ``interval`` seconds and always after the
    last input: what the run logs meanwhile (MMPose's "the output image has
    been saved", warnings about boxes) then stays on lines of its own, where
    a bar redrawn in place (mmengine's ``ProgressBar``) would share its line.

    The rate covers the whole path of each input (boxes, pose model, merge,
    drawing, writing): an input counts as done when the next one is asked
    for. The mean rate is inputs over the loop's time; the median input time
    is given too, steadier on a machine shared with other work.

    Args:
        total (int): Number of inputs; 0 when unknown (a webcam): the lines
            then count inputs and their rate.
        interval (float): Least seconds between two progress lines.
            Defaults to 1.
    """

    def __init__(self, total: int, interval: float = 1.0) -> None:
        # sys.stdout as it is now (the logger's handler writes there too).
        self.file = sys.stdout
        self.total = total
        self.interval = interval
        self.durations: List[float] = []
        self.start = self.last = self.printed = time.perf_counter()
        self.boxes = self.kept = self.poses = 0
        self.num_instances = 1
        self.merged_by = ''

    def add_poses(self, num_boxes: int, num_poses: int, num_kept: int, num_instances: int,
                  merged_by: str) -> None:
        """Count the boxes and poses of one input and how they were merged."""
        self.boxes += num_boxes
        self.poses += num_poses
        self.kept += num_kept
        self.num_instances = num_instances
        self.merged_by = merged_by

    def update(self) -> None:
        """One input done: a progress line if ``interval`` has passed or it was the last."""
        now = time.perf_counter()
        self.durations.append(now - self.last)
        self.last = now
        if len(self.durations) == self.total or now - self.printed >= self.interval:
            self.printed = now
            print(self.progress_line(), file=self.file, flush=True)

    def progress_line(self) -> str:
        """``'3/10 frames, 2.10 frames/s, elapsed 1 s, ETA 3 s'`` (no total: no ETA)."""
        done, elapsed = len(self.durations), self.last - self.start
        rate = done / elapsed if elapsed > 0 else float('inf')
        if not self.total:
            return f'{done} frames, {rate:.2f} frames/s, elapsed {elapsed:.0f} s'
        eta = (self.total - done) / rate
        return (f'{done}/{self.total} frames, {rate:.2f} frames/s, elapsed {elapsed:.0f} s, '
                f'ETA {eta:.0f} s')

    def summary(self) -> Optional[str]:
        """``'N frames in S s = R frames/s (median ...); B boxes x n instances -> ...'``."""
        if not self.durations:
            return None
        seconds = sum(self.durations)
        median = float(np.median(self.durations))
        return (f'{len(self.durations)} frames in {seconds:.1f} s = '
                f'{len(self.durations) / seconds:.2f} frames/s (median frame '
                f'{1000 * median:.0f} ms = {1 / median:.2f} frames/s; boxes, pose model, '
                f'merge, drawing, writing); {self.boxes} boxes x {self.num_instances} '
                f'instances -> {self.kept} of {self.poses} poses kept ({self.merged_by})')

    def finish(self) -> None:
        """Print the summary line."""
        text = self.summary()
        if text:
            print(text, file=self.file, flush=True)
