"""Cost of merging and evaluating the poses of one dense image, stock OKS-NMS vs ours.

    python tools/analysis/dense_image_cost.py [--boxes 100 1000 10000] [--layout pair crowd]
        [--stock-max 2000] [--unpruned-max 10000] [--json out.json]

One image gets B detector-like boxes, each with N = 2 poses (λ = 0 its person, λ = 1 the
other, jittered by 10 % of the box size, as a weak model predicts: few poses overlap by
an OKS above 0.9, so the NMS removes few, its slowest case): 2·B poses on one image.
The persons are those of the OCHuman sample image 3 (two heavily overlapping persons):

- ``pair``: all B boxes on those two persons (the worst case: every pose lies within
  OKS reach of a large share of the others, so no exact bound can skip many pairs);
- ``crowd``: the image tiled into a mosaic of copies of the pair (a crowd), 5 boxes
  per person, each copy with new annotation ids.

For each B it times, on the same records:

- MMPose's ``oks_nms`` (a Python loop per pose pair: quadratic; run up to --stock-max
  boxes only),
- the previous vectorised version (every remaining pose compared, without pruning; up
  to --unpruned-max boxes),
- ``mipnet_mmpose.evaluation.functional.oks_nms`` (exact pruning), with the number of
  OKS values each computed; all must keep the same poses, which is checked here,
- the whole ``MultiInstanceCocoMetric`` evaluation (rescoring, NMS, JSON dump and
  xtcocotools COCO evaluation) of the 2·B poses.
"""
import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[2]
ANN_FILE = REPO / 'data' / 'sample' / 'ochuman' / 'test_ochuman.json'
IMAGE_ID = 3


BOXES_PER_PERSON = 5  # the crowd layout's detector boxes per person


def _shifted(ann: dict, dx: float, dy: float, new_id: int) -> dict:
    """A copy of a person annotation moved by (dx, dy) (unlabelled keypoints stay 0)."""
    kpt = np.array(ann['keypoints'], float).reshape(-1, 3)
    kpt[kpt[:, 2] > 0, :2] += (dx, dy)
    x, y, w, h = ann['bbox']
    return dict(ann, id=new_id, bbox=[x + dx, y + dy, w, h], keypoints=kpt.ravel().tolist())


def dense_samples(num_boxes: int, jitter: float = 0.1, seed: int = 0,
                  layout: str = 'pair') -> tuple:
    """GT of the image and ``num_boxes`` data samples of 2 poses each, as the metric takes them.

    Args:
        num_boxes (int): B, the boxes on the image
        jitter (float): Keypoint noise, a fraction of the box's size
        seed (int): Random seed
        layout (str): ``'pair'`` (every box on the two persons) or ``'crowd'`` (a
            mosaic of copies of the pair, ``BOXES_PER_PERSON`` boxes per person)

    Returns:
        tuple: the GT (COCO json dict) and B data-sample dicts
    """
    rng = np.random.default_rng(seed)
    coco = json.loads(ANN_FILE.read_text())
    image = next(im for im in coco['images'] if im['id'] == IMAGE_ID)
    pair = [a for a in coco['annotations'] if a['image_id'] == IMAGE_ID]
    if layout == 'pair':
        tiles, per_tile = 1, num_boxes
    else:
        per_tile = 2 * BOXES_PER_PERSON
        tiles = -(-num_boxes // per_tile)
    cols = int(np.ceil(np.sqrt(tiles)))
    offsets = [(image['width'] * (t % cols), image['height'] * (t // cols)) for t in range(tiles)]
    persons = [[_shifted(a, dx, dy, 1_000_000 + 2 * t + j) for j, a in enumerate(pair)]
               for t, (dx, dy) in enumerate(offsets)]  # per tile, the pair moved there
    gt = dict(categories=coco['categories'],
              images=[dict(image, width=image['width'] * cols,
                           height=image['height'] * -(-tiles // cols))],
              annotations=[a for tile in persons for a in tile])
    samples = []
    for b in range(num_boxes):
        tile = persons[b // per_tile]
        own, other = tile[b % 2], tile[(b + 1) % 2]
        # the box jittered where the pair is in the sample image, then moved to its tile
        x, y, w, h = np.array(pair[b % 2]['bbox'], float) * (1 + 0.1 * rng.standard_normal(4))
        x, y = x + offsets[b // per_tile][0], y + offsets[b // per_tile][1]
        w, h = abs(w) + 5, abs(h) + 5
        keypoints, scores = [], []
        for src in (own, other):
            kpt = np.array(src['keypoints'], float).reshape(-1, 3)
            # unlabelled joints: at the person's box centre, as a model guesses them
            sx, sy, sw, sh = src['bbox']
            xy = np.where(kpt[:, 2:] > 0, kpt[:, :2], (sx + sw / 2, sy + sh / 2))
            keypoints.append(xy + rng.normal(0, jitter * np.sqrt(w * h), (len(kpt), 2)))
            scores.append(rng.uniform(0.2, 1.0, len(kpt)))
        samples.append(dict(
            id=100_000 + b, img_id=IMAGE_ID, category_id=1,
            pred_instances=dict(keypoints=np.stack(keypoints).astype(np.float32),
                                keypoint_scores=np.stack(scores).astype(np.float32),
                                bboxes=np.array([[x, y, x + w, y + h]] * 2),
                                bbox_scores=np.array([1.0, 0.5]) * rng.uniform(0.3, 1.0),
                                lambdas=np.arange(2)),
            gt_instances=dict(bbox_scales=np.array([[w * 1.25, h * 1.25]], np.float32),
                              bbox_scores=np.ones(1))))
    return gt, samples


def nms_records(samples: List[dict]) -> List[dict]:
    """The rescored pose records of the image, as CocoMetric hands them to its NMS."""
    records = []
    for s in samples:
        p = s['pred_instances']
        area = np.prod(s['gt_instances']['bbox_scales'], axis=1)[0]
        for kpt, sc, bs in zip(p['keypoints'], p['keypoint_scores'], p['bbox_scores']):
            above = sc > 0.2
            records.append(dict(keypoints=np.concatenate([kpt, sc[:, None]], axis=1),
                                score=bs * (sc[above].mean() if above.any() else 0.0),
                                area=area))
    return records


def measure(num_boxes: int, stock_max: int, unpruned_max: int, layout: str = 'pair') -> dict:
    """Time the OKS-NMS variants and the metric on one dense image of ``num_boxes`` boxes."""
    from mmengine.logging import MMLogger
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.evaluation.functional import oks_nms as mmpose_oks_nms

    from mipnet_mmpose.evaluation.functional.fast_oks_nms import greedy_oks_nms
    from mipnet_mmpose.evaluation.metrics import MultiInstanceCocoMetric

    gt, samples = dense_samples(num_boxes, layout=layout)
    records = nms_records(samples)
    row = dict(layout=layout, boxes=num_boxes, poses=len(records))
    start = time.perf_counter()
    ours, row['ours_pairs'] = greedy_oks_nms(records, 0.9)
    row['ours_nms_s'] = time.perf_counter() - start
    row['kept'] = int(len(ours))
    same = []
    if num_boxes <= unpruned_max:
        start = time.perf_counter()
        unpruned, row['unpruned_pairs'] = greedy_oks_nms(records, 0.9, prune=False)
        row['unpruned_nms_s'] = time.perf_counter() - start
        same.append(list(unpruned) == list(ours))
    if num_boxes <= stock_max:
        start = time.perf_counter()
        theirs = mmpose_oks_nms(records, 0.9)
        row['stock_nms_s'] = time.perf_counter() - start
        same.append(list(theirs) == list(ours))
    if same:
        row['same_kept'] = all(same)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        ann_file = os.path.join(tmp, 'gt.json')
        Path(ann_file).write_text(json.dumps(gt))
        metric = MultiInstanceCocoMetric(ann_file=ann_file, outfile_prefix=f'{tmp}/dense')
        metric.dataset_meta = parse_pose_metainfo(
            dict(from_file='configs/_base_/datasets/coco.py'))  # mmpose's COCO meta
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            start = time.perf_counter()
            metric.process([], samples)
            result = metric.compute_metrics(metric.results)
            row['metric_s'] = time.perf_counter() - start
        finally:
            logger.setLevel(level)
        row['AP'] = result['AP']
    return row


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--boxes', nargs='+', type=int, default=[100, 1000, 10000])
    parser.add_argument('--layout', nargs='+', choices=['pair', 'crowd'],
                        default=['pair', 'crowd'])
    parser.add_argument('--stock-max', type=int, default=2000,
                        help='largest box count MMPose\'s quadratic oks_nms is run on')
    parser.add_argument('--unpruned-max', type=int, default=10000,
                        help='largest box count the previous (unpruned) version is run on')
    parser.add_argument('--json', help='write the rows to this JSON file')
    args = parser.parse_args(argv)
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')
    import mipnet_mmpose  # noqa: F401

    def secs(row: dict, key: str) -> str:
        return f'{row[key]:.2f}' if key in row else 'not run'

    rows = []
    print(f'{"layout":>6} {"boxes":>6} {"poses":>6} {"kept":>6} {"stock NMS s":>11} '
          f'{"unpruned s":>10} {"(OKS pairs)":>12} {"ours s":>7} {"(OKS pairs)":>12} '
          f'{"same kept":>9} {"metric s":>8}')
    for layout in args.layout:
        for num_boxes in args.boxes:
            row = measure(num_boxes, args.stock_max, args.unpruned_max, layout)
            rows.append(row)
            print(f'{layout:>6} {row["boxes"]:>6} {row["poses"]:>6} {row["kept"]:>6} '
                  f'{secs(row, "stock_nms_s"):>11} {secs(row, "unpruned_nms_s"):>10} '
                  f'{row.get("unpruned_pairs", "-"):>12} {row["ours_nms_s"]:>7.2f} '
                  f'{row["ours_pairs"]:>12} {str(row.get("same_kept", "-")):>9} '
                  f'{row["metric_s"]:>8.2f}', flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
