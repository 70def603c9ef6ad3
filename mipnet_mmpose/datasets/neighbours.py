"""Pure-numpy helpers shared by the multi-instance data path.

MIPNet's targets for a person box are the box's own person followed by the
other persons of the image, nearest first, that have enough labelled
keypoints inside the box. The two primitives live here, free of MMPose
state: ordering the others by distance (used by the datasets) and counting
keypoints inside a box (used by the instance histogram tool with the GT box;
:class:`BuildInstanceSlots` tests the crop with the authors' border rule).
"""
import numpy as np


def count_keypoints_in_box(keypoints: np.ndarray,
                           keypoints_visible: np.ndarray,
                           box: np.ndarray) -> np.ndarray:
    """Count each person's labelled keypoints strictly inside a box.

    Note:
        - person number: M
        - keypoint number: K

    Args:
        keypoints (np.ndarray): Keypoint coordinates in shape (M, K, 2)
            (extra trailing coordinates are ignored)
        keypoints_visible (np.ndarray): Keypoint visibility in shape (M, K);
            a keypoint is labelled when its visibility is > 0
        box (np.ndarray): The box ``[x1, y1, x2, y2]`` in shape (4, )

    Returns:
        np.ndarray: The number of labelled keypoints strictly inside the box,
        in shape (M, ), dtype int64
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    keypoints_visible = np.asarray(keypoints_visible)
    box = np.asarray(box, dtype=np.float64).reshape(-1)
    if keypoints.ndim != 3 or keypoints.shape[-1] < 2:
        raise ValueError('keypoints must have shape (M, K, 2), got '
                         f'{keypoints.shape}')
    if keypoints_visible.shape != keypoints.shape[:2]:
        raise ValueError(f'keypoints_visible must have shape '
                         f'{keypoints.shape[:2]}, got {keypoints_visible.shape}')
    if box.shape != (4, ):
        raise ValueError(f'box must have shape (4,), got {box.shape}')

    x, y = keypoints[..., 0], keypoints[..., 1]
    x1, y1, x2, y2 = box
    inside = (x > x1) & (x < x2) & (y > y1) & (y < y2)
    return np.count_nonzero(inside & (keypoints_visible > 0),
                            axis=1).astype(np.int64)


def box_centres(bboxes: np.ndarray) -> np.ndarray:
    """Centres of boxes.

    Args:
        bboxes (np.ndarray): Boxes ``[x1, y1, x2, y2]`` in shape (M, 4)

    Returns:
        np.ndarray: Box centres ``[cx, cy]`` in shape (M, 2), float64
    """
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    return (bboxes[:, :2] + bboxes[:, 2:]) * 0.5


def order_neighbours(bboxes: np.ndarray, index: int) -> np.ndarray:
    """Order the other persons of an image by distance to one person.

    The distance is the squared distance between box centres (as in MIPNet);
    ties keep the input order (stable sort), so the result is deterministic.

    Args:
        bboxes (np.ndarray): The boxes ``[x1, y1, x2, y2]`` of the valid
            persons of one image, in shape (P, 4)
        index (int): The person whose neighbours are ordered, in ``[0, P)``

    Returns:
        np.ndarray: Indices into ``bboxes`` of the P-1 other persons, nearest
        first, in shape (P-1, ), dtype int64
    """
    centres = box_centres(bboxes)
    num_persons = centres.shape[0]
    if not 0 <= index < num_persons:
        raise IndexError(f'index {index} out of range for {num_persons} '
                         'persons')
    others = np.array([i for i in range(num_persons) if i != index],
                      dtype=np.int64)
    sq_dist = np.sum((centres[others] - centres[index])**2, axis=1)
    return others[np.argsort(sq_dist, kind='stable')]
