"""Progress and frames per second of an inferencer run, with what the merge kept."""
import sys
import time
from typing import List, Optional

import numpy as np
from mmengine.utils import ProgressBar


class RunProgress:
    """mmengine's progress bar over a run's inputs, then one line of rates and counts.

    The rate covers the whole path of each input (boxes, pose model, merge,
    drawing, writing): an input counts as done when the next one is asked
    for. The mean rate is inputs over the loop's time; the median input time
    is given too, steadier on a machine shared with other work.

    Args:
        total (int): Number of inputs; 0 when unknown (a webcam): the bar
            then counts inputs and their rate.
    """

    def __init__(self, total: int) -> None:
        # sys.stdout as it is now (ProgressBar's default is bound at import).
        self.file = sys.stdout
        self.bar = ProgressBar(total, file=self.file)
        self.durations: List[float] = []
        self.last = time.perf_counter()
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
        """One input done."""
        now = time.perf_counter()
        self.durations.append(now - self.last)
        self.last = now
        self.bar.update()

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
            print(f'\n{text}', file=self.file, flush=True)
