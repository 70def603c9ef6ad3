"""Draw the poses of many boxes and instances on one image, coloured by λ."""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmengine.structures import InstanceData
from mmpose.visualization import PoseLocalVisualizer

#: RGB colour of the poses of each λ (cycled beyond 4): λ=0 green, λ=1 orange, ...
LAMBDA_COLOURS: Sequence[Tuple[int, int, int]] = (
    (40, 220, 90), (255, 140, 0), (60, 140, 255), (230, 40, 200))


def lambda_colour(lam: int) -> Tuple[int, int, int]:
    return LAMBDA_COLOURS[int(lam) % len(LAMBDA_COLOURS)]


def draw_multi_instance_poses(visualizer: PoseLocalVisualizer,
                              image: np.ndarray,
                              poses: InstanceData,
                              kpt_thr: float = 0.3,
                              boxes: Optional[np.ndarray] = None) -> np.ndarray:
    """Draw poses with MMPose's skeleton drawing, one colour per λ.

    Args:
        visualizer (PoseLocalVisualizer): With the dataset meta set (skeleton).
        image (np.ndarray): RGB image in shape (H, W, 3).
        poses (InstanceData): M poses with ``keypoints`` (M, K, 2),
            ``keypoint_scores`` (M, K) and ``lambdas`` (M,).
        kpt_thr (float): Keypoints scored below are not drawn.
        boxes (np.ndarray, optional): Person boxes (B, 4) xyxy, drawn in white.

    Returns:
        np.ndarray: The drawn RGB image.
    """
    saved = visualizer.kpt_color, visualizer.link_color
    try:
        for lam in np.unique(poses.lambdas):
            group = poses[poses.lambdas == lam]
            # One colour for every joint and limb of this λ's poses.
            colour = lambda_colour(lam)
            visualizer.kpt_color = [colour] * poses.keypoints.shape[1]
            visualizer.link_color = [colour] * len(visualizer.skeleton or [])
            group.keypoints_visible = group.keypoint_scores
            image = visualizer._draw_instances_kpts(image, group, kpt_thr=kpt_thr)
    finally:
        visualizer.kpt_color, visualizer.link_color = saved
    visualizer.set_image(image)
    if boxes is not None and len(boxes):
        visualizer.draw_bboxes(np.asarray(boxes, dtype=np.float32), edge_colors='white',
                               line_widths=2)
    for row, lam in enumerate(np.unique(poses.lambdas)):
        visualizer.draw_texts(f'lambda={int(lam)}', np.array([8, 8 + 18 * row]),
                              colors=lambda_colour(lam), font_sizes=12,
                              vertical_alignments='top',
                              bboxes=[dict(facecolor='black', alpha=0.6, pad=1)])
    return visualizer.get_image()
