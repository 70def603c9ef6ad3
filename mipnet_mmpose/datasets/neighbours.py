"""The neighbours of a sample: pure-numpy helpers of the multi-instance data path.

MIPNet's targets for a person box are the box's own person followed by the
other persons of the image, nearest first, that have enough labelled
keypoints inside the box. The primitives live here, free of MMPose state:
ordering the others by distance (for one person, and for every sample of a
data set at once, as the datasets do), the table the data sets store them in
(:class:`NeighbourTable`) and counting keypoints inside a box (used by the
instance histogram tool with the GT box; :class:`BuildInstanceSlots` tests the
crop with the authors' border rule).
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

#: The neighbour fields of a data info (M neighbours, K keypoints):
#: ``neighbour_keypoints`` (M, K, 2) float32 in image space,
#: ``neighbour_keypoints_visible`` (M, K) float32 and ``neighbour_bboxes``
#: (M, 4) float32 xyxy.
NEIGHBOUR_KEYS = ('neighbour_keypoints', 'neighbour_keypoints_visible',
                  'neighbour_bboxes')
#: The key of a stored data info that says where its neighbours are in the
#: data set's :class:`NeighbourTable`; ``get_data_info`` replaces it by
#: :data:`NEIGHBOUR_KEYS`.
NEIGHBOUR_SPAN_KEY = 'neighbour_span'


def empty_neighbours(num_keypoints: int) -> Dict[str, np.ndarray]:
    """Neighbour fields of a sample without neighbours (M = 0).

    Args:
        num_keypoints (int): The keypoint number K of the dataset

    Returns:
        dict: :data:`NEIGHBOUR_KEYS`: (0, K, 2), (0, K) and (0, 4), all float32
    """
    return dict(
        neighbour_keypoints=np.zeros((0, num_keypoints, 2), dtype=np.float32),
        neighbour_keypoints_visible=np.zeros((0, num_keypoints), dtype=np.float32),
        neighbour_bboxes=np.zeros((0, 4), dtype=np.float32))


@dataclass
class NeighbourTable:
    """The neighbours of all samples of a dataset, stored once.

    Each person that is some sample's neighbour has one row; each sample
    stores only ``(start, stop)`` (under :data:`NEIGHBOUR_SPAN_KEY`), its
    neighbours being rows ``order[start:stop]``, nearest first. Per-sample
    neighbour arrays would hold every person of an image of P persons P - 1
    times and cost three pickled numpy headers per sample in mmengine's
    serialised data list; these flat arrays are shared by DataLoader workers
    as they are (fork, copy-on-write: nothing in them is written).

    Note:
        - stored person number: R
        - neighbour entries of all samples: T
        - keypoint number: K

    Attributes:
        keypoints (np.ndarray): (R, K, 2) float32, image space
        keypoints_visible (np.ndarray): (R, K) float32
        bboxes (np.ndarray): (R, 4) float32, xyxy
        order (np.ndarray): (T, ) int32, rows of the three arrays above
    """

    keypoints: np.ndarray
    keypoints_visible: np.ndarray
    bboxes: np.ndarray
    order: np.ndarray

    def take(self, start: int, stop: int) -> Dict[str, np.ndarray]:
        """The neighbour fields of the sample whose span is ``(start, stop)``.

        Returns:
            dict: :data:`NEIGHBOUR_KEYS`: (M, K, 2), (M, K) and (M, 4), float32
            copies, M = stop - start
        """
        rows = self.order[start:stop]
        return dict(neighbour_keypoints=self.keypoints[rows],
                    neighbour_keypoints_visible=self.keypoints_visible[rows],
                    neighbour_bboxes=self.bboxes[rows])


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


def neighbour_index(groups: np.ndarray, candidate: np.ndarray,
                    bboxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order the neighbours of every sample of a data set, all images at once.

    The neighbours of a sample are the candidates of its image other than
    itself, ordered as :func:`order_neighbours` orders them (squared distance
    between box centres, ties in sample order). One vectorised pass instead
    of one :func:`order_neighbours` call per sample: at COCO scale (150,000
    samples) the per-sample calls alone took seconds.

    Note:
        - sample number: S
        - neighbour number of sample s: M_s; T = sum of all M_s
        - number of samples that are someone's neighbour: R

    Args:
        groups (np.ndarray): The image of each sample as an integer in
            ``[0, G)``, in shape (S, )
        candidate (np.ndarray): Whether each sample's person may be another
            sample's neighbour, in shape (S, ), bool
        bboxes (np.ndarray): The boxes ``[x1, y1, x2, y2]`` of the samples,
            in shape (S, 4)

    Returns:
        tuple:
        - persons (np.ndarray): The samples that are someone's neighbour,
          ascending, in shape (R, ), int64
        - order (np.ndarray): Each sample's neighbours in turn, nearest
          first, as indices into ``persons``, in shape (T, ), int32
        - offsets (np.ndarray): Sample s's neighbours are
          ``order[offsets[s]:offsets[s + 1]]``, in shape (S + 1, ), int64
    """
    groups = np.asarray(groups, dtype=np.int64).reshape(-1)
    candidate = np.asarray(candidate, dtype=bool).reshape(-1)
    num_samples = groups.shape[0]
    if candidate.shape != (num_samples, ):
        raise ValueError(f'candidate must have shape ({num_samples},), got '
                         f'{candidate.shape}')
    if num_samples and groups.min() < 0:
        raise ValueError('groups must be non-negative')
    centres = box_centres(bboxes)
    if centres.shape[0] != num_samples:
        raise ValueError(f'bboxes must have shape ({num_samples}, 4), got '
                         f'{np.shape(bboxes)}')

    # The candidates grouped by image, each image's in sample order.
    cands = np.flatnonzero(candidate)
    cands = cands[np.argsort(groups[cands], kind='stable')]
    counts = np.bincount(groups[cands],
                         minlength=int(groups.max()) + 1 if num_samples else 0)
    starts = np.cumsum(counts) - counts
    # One (sample, candidate of its image) pair per candidate, itself left out.
    per_sample = counts[groups] if num_samples else np.zeros(0, np.int64)
    pair_sample = np.repeat(np.arange(num_samples), per_sample)
    within = np.arange(pair_sample.shape[0]) - np.repeat(
        np.cumsum(per_sample) - per_sample, per_sample)
    pair_other = cands[np.repeat(starts[groups], per_sample) + within] \
        if num_samples else np.zeros(0, np.int64)
    keep = pair_other != pair_sample
    pair_sample, pair_other = pair_sample[keep], pair_other[keep]
    # The same float64 arithmetic as order_neighbours, so the same order.
    sq_dist = np.sum((centres[pair_other] - centres[pair_sample])**2, axis=1)
    # lexsort is stable: by sample, then distance, then candidate order.
    pair_other = pair_other[np.lexsort((sq_dist, pair_sample))]
    offsets = np.zeros(num_samples + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_sample, minlength=num_samples), out=offsets[1:])
    persons, order = np.unique(pair_other, return_inverse=True)
    return persons.astype(np.int64), order.astype(np.int32).reshape(-1), offsets
