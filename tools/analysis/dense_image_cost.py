"""Cost of merging and evaluating the poses of one dense image, stock OKS-NMS vs ours.

    python tools/analysis/dense_image_cost.py [--boxes 100 1000 10000] [--stock-max 2000]
        [--json out.json]

One real image (the OCHuman sample image 3, two heavily overlapping persons) gets B
detector-like boxes, each with N = 2 poses (λ = 0 its person, λ = 1 the other, jittered
by 10 % of the box size, as a weak model predicts: few poses overlap by an OKS above
0.9, so the NMS removes few, its slowest case): 2·B poses on one image. For each B it
times, on the same records:

- MMPose's ``oks_nms`` (a Python loop per pose pair: quadratic; run up to --stock-max
  boxes only),
- ``mipnet_mmpose.evaluation.functional.oks_nms`` (the same greedy algorithm with the inner
  loop vectorised; it keeps exactly the same poses, which is checked here too),
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


def dense_samples(num_boxes: int, jitter: float = 0.1, seed: int = 0) -> tuple:
    """GT of the image and ``num_boxes`` data samples of 2 poses each, as the metric takes them."""
    rng = np.random.default_rng(seed)
    coco = json.loads(ANN_FILE.read_text())
    persons = [a for a in coco['annotations'] if a['image_id'] == IMAGE_ID]
    gt = dict(categories=coco['categories'],
              images=[im for im in coco['images'] if im['id'] == IMAGE_ID],
              annotations=persons)
    samples = []
    for b in range(num_boxes):
        own, other = persons[b % 2], persons[(b + 1) % 2]
        x, y, w, h = np.array(own['bbox'], float) * (1 + 0.1 * rng.standard_normal(4))
        w, h = abs(w) + 5, abs(h) + 5
        keypoints, scores = [], []
        for src in (own, other):
            kpt = np.array(src['keypoints'], float).reshape(-1, 3)
            keypoints.append(kpt[:, :2] + rng.normal(0, jitter * np.sqrt(w * h), (len(kpt), 2)))
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


def measure(num_boxes: int, stock_max: int) -> dict:
    from mmengine.logging import MMLogger
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.evaluation.functional import oks_nms as mmpose_oks_nms

    from mipnet_mmpose.evaluation.functional import oks_nms
    from mipnet_mmpose.evaluation.metrics import MultiInstanceCocoMetric

    gt, samples = dense_samples(num_boxes)
    records = nms_records(samples)
    row = dict(boxes=num_boxes, poses=len(records))
    start = time.perf_counter()
    ours = oks_nms(records, 0.9)
    row['ours_nms_s'] = time.perf_counter() - start
    row['kept'] = int(len(ours))
    if num_boxes <= stock_max:
        start = time.perf_counter()
        theirs = mmpose_oks_nms(records, 0.9)
        row['stock_nms_s'] = time.perf_counter() - start
        row['same_kept'] = list(theirs) == list(ours)
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
    parser.add_argument('--stock-max', type=int, default=2000,
                        help='largest box count MMPose\'s quadratic oks_nms is run on')
    parser.add_argument('--json', help='write the rows to this JSON file')
    args = parser.parse_args(argv)
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')
    import mipnet_mmpose  # noqa: F401

    rows = []
    print(f'{"boxes":>7} {"poses":>7} {"kept":>6} {"stock NMS s":>12} {"our NMS s":>10} '
          f'{"same kept":>9} {"metric s":>9}')
    for num_boxes in args.boxes:
        row = measure(num_boxes, args.stock_max)
        rows.append(row)
        stock = f'{row["stock_nms_s"]:.2f}' if 'stock_nms_s' in row else 'not run'
        same = str(row.get('same_kept', '-'))
        print(f'{row["boxes"]:>7} {row["poses"]:>7} {row["kept"]:>6} {stock:>12} '
              f'{row["ours_nms_s"]:>10.2f} {same:>9} {row["metric_s"]:>9.2f}', flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
