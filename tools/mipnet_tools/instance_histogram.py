"""How many other persons does a person's GT box hold (MIPNet's Fig. 4)?

For every non-crowd GT person with at least one labelled keypoint, count the
other non-crowd GT persons of the image with at least ``min_keypoints``
labelled keypoints strictly inside the person's GT box, and histogram the
counts into 0 / 1 / 2 / 3+. This is the statistic the paper uses to choose
N (most boxes hold 0 or 1 extra person, so N = 2).
"""
import json
import os.path as osp
from collections import defaultdict
from typing import Dict, List

import numpy as np

from mipnet_mmpose.datasets.neighbours import count_keypoints_in_box
from mipnet_mmpose.utils import check_int_at_least

NUM_BINS = 4  # 0, 1, 2, 3+
BIN_LABELS = ('0', '1', '2', '3+')


def load_keypoint_annotations(ann_file: str) -> Dict[int, List[dict]]:
    """Load the keypoint annotations of a COCO-style file, by image.

    Annotations without ``keypoints`` (other categories) are skipped.

    Args:
        ann_file (str): Path of the COCO-style annotation file

    Returns:
        dict: image id -> list of annotation dicts, in file order
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    try:
        with open(ann_file, encoding='utf-8') as f:
            content = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f'{ann_file} is not a JSON file: {e}') from e
    if not isinstance(content, dict) or not isinstance(
            content.get('annotations'), list):
        raise ValueError(f'{ann_file} is not a COCO-style annotation file: '
                         'it has no "annotations" list')

    by_image = defaultdict(list)
    num_keypoints = None
    for i, ann in enumerate(content['annotations']):
        if not isinstance(ann, dict) or 'keypoints' not in ann:
            continue
        if 'image_id' not in ann or 'bbox' not in ann or len(
                ann['bbox']) != 4 or len(ann['keypoints']) % 3:
            raise ValueError(
                f'{ann_file}: annotation #{i} (id {ann.get("id")}) needs '
                '"image_id", a 4-value "bbox" and "keypoints" as x, y, v '
                'triplets')
        k = len(ann['keypoints']) // 3
        if num_keypoints is not None and k != num_keypoints:
            raise ValueError(f'{ann_file}: annotation #{i} has {k} keypoints, '
                             f'earlier ones {num_keypoints}')
        num_keypoints = k
        by_image[ann['image_id']].append(ann)
    if num_keypoints is None:
        raise ValueError(f'{ann_file} holds no keypoint annotations')
    return dict(by_image)


def count_others_in_boxes(annotations: List[dict],
                          min_keypoints: int = 3) -> np.ndarray:
    """Count, per person of one image, the others inside its GT box.

    Args:
        annotations (List[dict]): COCO keypoint annotations of one image
        min_keypoints (int): The least number of labelled keypoints inside
            the box for another person to count

    Returns:
        np.ndarray: For each non-crowd annotation with at least one labelled
        keypoint (in input order), the number of other non-crowd persons
        with at least ``min_keypoints`` labelled keypoints strictly inside
        its box, in shape (P, ), int64
    """
    persons = [a for a in annotations if not a.get('iscrowd', 0)]
    if not persons:
        return np.zeros(0, dtype=np.int64)
    raw = np.array([a['keypoints'] for a in persons],
                   dtype=np.float64).reshape(len(persons), -1, 3)
    keypoints, visible = raw[..., :2], raw[..., 2]
    counts = []
    for i, ann in enumerate(persons):
        if not np.any(visible[i] > 0):
            continue
        x, y, w, h = ann['bbox']
        inside = count_keypoints_in_box(keypoints, visible,
                                        np.array([x, y, x + w, y + h]))
        inside[i] = -1  # the person itself never counts
        counts.append(np.count_nonzero(inside >= min_keypoints))
    return np.array(counts, dtype=np.int64)


def instance_histogram(ann_file: str, min_keypoints: int = 3) -> dict:
    """Histogram of the other persons inside each person's GT box.

    Args:
        ann_file (str): Path of the COCO-style annotation file
        min_keypoints (int): The least number of labelled keypoints inside
            a box for another person to count. Defaults to 3 (the paper)

    Returns:
        dict:
        - hist (List[int]): Person counts for 0 / 1 / 2 / 3+ others
        - fractions (List[float]): ``hist`` divided by ``num_persons``
          (all 0 when there are no persons)
        - num_persons (int): The persons counted
        - min_keypoints (int): As given
        - ann_file (str): As given
    """
    check_int_at_least('min_keypoints', min_keypoints, 0)
    by_image = load_keypoint_annotations(ann_file)
    counts = np.concatenate(
        [np.zeros(0, dtype=np.int64)] +
        [count_others_in_boxes(anns, min_keypoints)
         for anns in by_image.values()])
    hist = np.bincount(np.minimum(counts, NUM_BINS - 1), minlength=NUM_BINS)
    num_persons = int(counts.shape[0])
    fractions = hist / num_persons if num_persons else np.zeros(NUM_BINS)
    return dict(
        hist=[int(c) for c in hist],
        fractions=[float(f) for f in fractions],
        num_persons=num_persons,
        min_keypoints=int(min_keypoints),
        ann_file=ann_file)


def format_histogram(result: dict) -> str:
    """Render an :func:`instance_histogram` result as a text table."""
    lines = [
        f'{result["ann_file"]}: {result["num_persons"]} persons, others '
        f'with >= {result["min_keypoints"]} labelled keypoints in the box',
        f'{"others":>8} {"persons":>9} {"fraction":>9}'
    ]
    for label, count, frac in zip(BIN_LABELS, result['hist'],
                                  result['fractions']):
        lines.append(f'{label:>8} {count:>9d} {frac:>9.3f}')
    return '\n'.join(lines)


def plot_histogram(result: dict, out_file: str) -> None:
    """Draw the histogram as a bar chart (as the paper's Fig. 4)."""
    import matplotlib
    matplotlib.use('Agg')  # files only: no display on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    percent = [100 * f for f in result['fractions']]
    bars = ax.bar(BIN_LABELS, percent, color='tab:blue')
    ax.bar_label(bars, labels=[f'{p:.1f}%' for p in percent], fontsize=8)
    ax.set_xlabel(f'other persons in the box (>= {result["min_keypoints"]} '
                  'keypoints)')
    ax.set_ylabel('% of persons')
    ax.set_ylim(0, 110)
    ax.set_title(osp.basename(result['ann_file']), fontsize=9)
    fig.tight_layout()
    fig.savefig(out_file, dpi=100)
    plt.close(fig)
