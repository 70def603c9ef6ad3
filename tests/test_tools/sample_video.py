"""A short real video made from the bundled sample images, for the video paths."""
from pathlib import Path
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from tests.conftest import SAMPLE

#: The OCHuman sample images (602 x 900 and others), in name order.
OCHUMAN_IMAGES: List[Path] = sorted((SAMPLE / 'ochuman').glob('*.jpg'))


def write_sample_video(path: Path, frames: Sequence[Path] = tuple(OCHUMAN_IMAGES),
                       size: Tuple[int, int] = (200, 300), fps: float = 5.0) -> List[np.ndarray]:
    """Write the images, resized to ``size`` (width, height), as an mp4v video.

    Returns:
        list[np.ndarray]: The BGR frames written (H, W, 3).
    """
    images = [cv2.resize(cv2.imread(str(frame)), size) for frame in frames]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), fps, size)
    assert writer.isOpened(), f'OpenCV cannot write {path}'
    for image in images:
        writer.write(image)
    writer.release()
    return images


def count_frames(path: Path) -> Tuple[int, Tuple[int, int]]:
    """Frames decoded from a video and their (width, height)."""
    capture = cv2.VideoCapture(str(path))
    count, size = 0, (0, 0)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count += 1
        size = (frame.shape[1], frame.shape[0])
    capture.release()
    return count, size
