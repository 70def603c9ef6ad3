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
    text_px = legend_text_pixels(image.shape)
    # matplotlib sizes text in points: 72 per inch of the figure's dpi.
    points = text_px * 72.0 / float(getattr(visualizer, 'dpi', 100) or 100)
    margin = max(4, text_px // 2)
    for row, lam in enumerate(np.unique(poses.lambdas)):
        visualizer.draw_texts(f'lambda={int(lam)}',
                              np.array([margin, margin + round(1.5 * text_px) * row]),
                              colors=lambda_colour(lam), font_sizes=points,
                              vertical_alignments='top',
                              bboxes=[dict(facecolor='black', alpha=0.6, pad=2)])
    return visualizer.get_image()


def legend_text_pixels(image_shape: Sequence[int]) -> int:
    """Height in pixels of the λ legend's text: about 1/30 of the short side, at least 12.

    A fixed point size reads well on one image size only: a 4000-pixel photo
    makes it a speck, a 96-pixel crop a banner.

    Args:
        image_shape (Sequence[int]): (H, W, ...) of the image drawn on.

    Returns:
        int: The text height in pixels.
    """
    return max(12, round(min(image_shape[:2]) / 30))


def readable_sizes(image_shape: Sequence[int]) -> Tuple[int, int]:
    """Joint radius and limb width readable on both small crops and large photos.

    Args:
        image_shape (Sequence[int]): (H, W, ...) of the image drawn on.

    Returns:
        tuple: ``radius`` and ``line_width`` in pixels.
    """
    short_side = min(image_shape[:2])
    return max(2, round(short_side / 200)), max(1, round(short_side / 300))


def draw_merged_poses(visualizer: PoseLocalVisualizer,
                      image: np.ndarray,
                      poses: InstanceData,
                      kpt_thr: float = 0.3,
                      draw_boxes: bool = True) -> np.ndarray:
    """Draw the poses of one image that its NMS kept, one colour per λ.

    The picture :class:`MultiInstanceVisualizationHook` draws, for a merged
    prediction (``mipnet_mmpose.apis.merge_mipnet_samples``): the kept poses
    coloured by λ with a legend, and each input box once, in white.

    Args:
        visualizer (PoseLocalVisualizer): With the dataset meta set (skeleton)
            and the joint radius / limb width to draw with.
        image (np.ndarray): RGB image in shape (H, W, 3).
        poses (InstanceData): M poses with ``keypoints`` (M, K, 2),
            ``keypoint_scores`` (M, K), ``lambdas`` (M, ) and
            ``kept_after_nms`` (M, ) bool; with ``draw_boxes``, also
            ``bboxes`` (M, 4) xyxy and ``box_indices`` (M, ).
        kpt_thr (float): Keypoints scored below are not drawn. Defaults to 0.3.
        draw_boxes (bool): Draw every input box. Defaults to True.

    Returns:
        np.ndarray: The drawn RGB image (H, W, 3).
    """
    kept = np.asarray(poses.kept_after_nms, dtype=bool)
    boxes = None
    if draw_boxes and len(poses):
        # Every λ of a box repeats it: draw each box once.
        _, first = np.unique(np.asarray(poses.box_indices), return_index=True)
        boxes = np.asarray(poses.bboxes, dtype=np.float32)[first]
    shown = InstanceData(
        keypoints=np.asarray(poses.keypoints, np.float32)[kept],
        keypoint_scores=np.asarray(poses.keypoint_scores, np.float32)[kept],
        lambdas=np.asarray(poses.lambdas, np.int64)[kept])
    return draw_multi_instance_poses(visualizer, image, shown, kpt_thr, boxes=boxes)
