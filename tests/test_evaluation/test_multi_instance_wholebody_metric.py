"""Tests of :class:`MultiInstanceCocoWholeBodyMetric` on the real COCO-WholeBody sample.

``data/sample/coco/test_coco_wholebody.json`` holds the 133-keypoint annotations
(body, feet, face, hands) of 4 COCO images. Predictions are the dicts mmengine's
``Evaluator`` hands to ``metric.process``: one data sample per person box, one
``pred_instances`` row per λ. Poses are ground truth put in as predictions, and
every expected value is computed by MMPose's own :class:`CocoWholeBodyMetric`.
"""
import copy
import json
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from mmpose.datasets import CocoWholeBodyDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.metrics import CocoMetric, CocoWholeBodyMetric
from mmpose.registry import METRICS

from mipnet_mmpose.evaluation import MultiInstanceCocoWholeBodyMetric
from mipnet_mmpose.evaluation.metrics import MultiInstanceCocoMetricMixin

REPO = Path(__file__).resolve().parents[2]
ANN = REPO / 'data/sample/coco/test_coco_wholebody.json'
PARTS = ('keypoints', 'foot_kpts', 'face_kpts', 'lefthand_kpts', 'righthand_kpts')
DECAY = 0.5  # score factor of λ > 0 poses, as the test-time hook's default

Row = Tuple[np.ndarray, np.ndarray, float]  # keypoints (133, 2), scores (133,), box score


def _data() -> dict:
    with open(ANN) as f:
        return json.load(f)


def _meta(name: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # MMPose's note on reading its installed meta file
        meta = parse_pose_metainfo(copy.deepcopy(CocoWholeBodyDataset.METAINFO))
    meta['CLASSES'] = _data()['categories']
    meta['dataset_name'] = name  # keeps other tests' ann files in the MessageHub apart
    return meta


def _boxes(data: dict) -> List[dict]:
    """The annotations a top-down pipeline turns into person boxes."""
    return [a for a in data['annotations'] if not a['iscrowd'] and a['num_keypoints'] > 0]


def _gt_pose(ann: dict) -> Tuple[np.ndarray, np.ndarray]:
    """The 133 GT keypoints in the data set's order (body, feet, face, left and
    right hand) as a prediction: labelled ones scored 1, the others 0 at the
    labelled ones' mean (a model predicts every keypoint). Each keypoint is
    moved by the same 2-px noise for a given annotation, so the APs are below 1
    (small face and hand sigmas) and differ per part."""
    kpts = np.concatenate([np.asarray(ann[part], np.float32).reshape(-1, 3) for part in PARTS])
    labelled = kpts[:, 2] > 0
    xy = kpts[:, :2].copy()
    xy[~labelled] = xy[labelled].mean(axis=0)
    xy += np.random.default_rng(ann['id']).normal(0.0, 2.0, size=xy.shape).astype(np.float32)
    return xy, labelled.astype(np.float32)


def _box_score(ann: dict) -> float:
    """A detection score of its own per box (0.9-1.0): tied scores would make
    xtcocotools' matching order, and so the AP, depend on the results' order."""
    return 0.9 + 0.1 * np.random.default_rng(ann['id']).random()


def _sample(ann: dict, rows: Sequence[Row]) -> dict:
    x, y, w, h = ann['bbox']
    box = np.array([[x, y, x + w, y + h]], np.float32)
    return dict(
        id=ann['id'], img_id=ann['image_id'], category_id=1,
        gt_instances=dict(bboxes=box, bbox_scores=np.ones(1, np.float32),
                          bbox_scales=np.array([[w * 1.25, h * 1.25]], np.float32)),
        pred_instances=dict(
            keypoints=np.stack([r[0] for r in rows]),
            keypoint_scores=np.stack([r[1] for r in rows]),
            bboxes=np.repeat(box, len(rows), axis=0),
            bbox_scores=np.array([r[2] for r in rows], np.float32),
            lambdas=np.arange(len(rows))))


def _evaluate(metric: CocoMetric, samples: List[dict], name: str) -> Dict[str, float]:
    metric.dataset_meta = _meta(name)
    for start in range(0, len(samples), 3):
        metric.process({}, samples[start:start + 3])
    return metric.evaluate(size=len(metric.results))


def _stock_on_gt(tmp_path: Path, name: str,
                 scores: Optional[Dict[int, float]] = None) -> Dict[str, float]:
    """MMPose's metric on one GT pose per annotated box (box scores
    ``_box_score`` unless ``scores`` gives one for the annotation id)."""
    scores = scores or {}
    samples = [_sample(ann, [(*_gt_pose(ann), scores.get(ann['id'], _box_score(ann)))])
               for ann in _boxes(_data())]
    metric = CocoWholeBodyMetric(ann_file=str(ANN), outfile_prefix=str(tmp_path / 'stock'))
    return _evaluate(metric, samples, name)


def test_built_from_the_stock_metric_and_mixin():
    metric = METRICS.build(dict(type='MultiInstanceCocoWholeBodyMetric', ann_file=str(ANN)))
    assert type(metric) is MultiInstanceCocoWholeBodyMetric
    assert isinstance(metric, CocoWholeBodyMetric)
    assert isinstance(metric, MultiInstanceCocoMetricMixin)
    stock = CocoWholeBodyMetric(ann_file=str(ANN))
    for name in ('nms_thr', 'score_mode', 'keypoint_score_thr', 'prefix'):
        assert getattr(metric, name) == getattr(stock, name)
    assert metric.merge_nms_mode == stock.nms_mode
    assert metric.prefix == 'coco-wholebody'


@pytest.mark.parametrize('second', ['duplicate', 'garbage'])
def test_second_pose_that_finds_nobody_leaves_the_stock_result(second: str, tmp_path: Path):
    """λ = 0: the box's GT; λ = 1: a copy of it (suppressed by OKS-NMS with the
    133 whole-body sigmas) or a pose 300 px away (scored below every GT pose):
    the stock metric's numbers on the GT alone."""
    data = _data()
    samples = []
    for ann in _boxes(data):
        xy, scores = _gt_pose(ann)
        other = xy if second == 'duplicate' else xy + 300.0
        samples.append(_sample(ann, [(xy, scores, _box_score(ann)),
                                     (other, scores, DECAY * _box_score(ann))]))
    metric = MultiInstanceCocoWholeBodyMetric(ann_file=str(ANN),
                                              outfile_prefix=str(tmp_path / 'ours'))
    ours = _evaluate(metric, samples, f'wb-ours-{second}')
    want = _stock_on_gt(tmp_path, f'wb-stock-{second}')
    assert set(ours) == set(want) and 'coco-wholebody/AP' in ours
    assert 0 < want['coco-wholebody/AP'] < 1  # the noise costs AP: not a trivial match
    assert ours == pytest.approx(want)
    num_boxes = len(samples)
    stats = metric.last_lambda_stats
    assert stats['produced'] == {0: num_boxes, 1: num_boxes}
    assert stats['kept_after_nms'] == {0: num_boxes, 1: 0 if second == 'duplicate' else num_boxes}
    # the stock whole-body results file (its part fields) with a λ per pose
    dumped = json.loads((tmp_path / 'ours.keypoints.json').read_text())
    assert len(dumped) == sum(stats['kept_after_nms'].values())
    assert all(set(PARTS) <= set(entry) for entry in dumped)
    assert sorted({entry['lambda'] for entry in dumped}) == sorted(
        lam for lam, kept in stats['kept_after_nms'].items() if kept)
    assert all(len(entry['face_kpts']) == 68 * 3 for entry in dumped)


def test_second_pose_finds_the_person_whose_box_is_missing(tmp_path: Path):
    """Drop one person's box; its neighbour's λ = 1 pose is that person's GT.
    Merged, the result is the stock metric's with every box (that person's pose
    at the λ = 1 score); λ = 0 alone misses the person (lower recall)."""
    data = _data()
    boxes = _boxes(data)
    image = 197388  # five persons, two of whom (437295, 533949) overlap
    missing = next(a for a in boxes if a['id'] == 533949)
    host = next(a for a in boxes if a['id'] == 437295)
    assert missing['image_id'] == host['image_id'] == image
    samples = []
    for ann in boxes:
        if ann is missing:
            continue
        rows = [(*_gt_pose(ann), _box_score(ann))]
        if ann is host:
            rows.append((*_gt_pose(missing), DECAY * _box_score(host)))
        samples.append(_sample(ann, rows))

    merged = MultiInstanceCocoWholeBodyMetric(ann_file=str(ANN),
                                              outfile_prefix=str(tmp_path / 'merged'))
    merged_result = _evaluate(merged, samples, 'wb-merged')
    assert merged.last_lambda_stats['kept_after_nms'] == {0: len(samples), 1: 1}
    lambda_zero = [dict(s, pred_instances={k: v[:1] for k, v in s['pred_instances'].items()})
                   for s in samples]
    zero_result = _evaluate(CocoWholeBodyMetric(ann_file=str(ANN),
                                                outfile_prefix=str(tmp_path / 'zero')),
                            lambda_zero, 'wb-zero')
    full = _stock_on_gt(tmp_path, 'wb-full', {missing['id']: DECAY * _box_score(host)})
    assert merged_result == pytest.approx(full)
    assert zero_result['coco-wholebody/AR'] < merged_result['coco-wholebody/AR']
    assert zero_result['coco-wholebody/AP'] < merged_result['coco-wholebody/AP']


def test_stock_metric_fails_on_n_poses(tmp_path: Path):
    """Why the mixin: MMPose's metric indexes one box area per pose."""
    data = _data()
    samples = []
    for ann in _boxes(data):
        xy, scores = _gt_pose(ann)
        samples.append(_sample(ann, [(xy, scores, 1.0), (xy + 300.0, scores, DECAY)]))
    stock = CocoWholeBodyMetric(ann_file=str(ANN), outfile_prefix=str(tmp_path / 's'))
    with pytest.raises(IndexError):
        _evaluate(stock, samples, 'wb-stock-n')


def test_made_on_demand_and_only_for_coco_style_metrics():
    import pickle

    from mmpose.evaluation.metrics import PCKAccuracy

    from mipnet_mmpose.evaluation.metrics import (
        MultiInstanceCocoMetric,
        multi_instance_coco_metric_class,
    )
    from mipnet_mmpose.evaluation.metrics import multi_instance_coco_metric as module
    # one class per stock metric, the same from the registry, the module and the maker
    assert multi_instance_coco_metric_class(CocoWholeBodyMetric) is MultiInstanceCocoWholeBodyMetric
    assert METRICS.get('MultiInstanceCocoMetric') is MultiInstanceCocoMetric
    assert issubclass(MultiInstanceCocoMetric, CocoMetric)
    assert not issubclass(MultiInstanceCocoMetric, CocoWholeBodyMetric)
    # a metric pickles by its class name, also where the class is made on lookup
    metric = MultiInstanceCocoWholeBodyMetric(ann_file=str(ANN))
    assert type(pickle.loads(pickle.dumps(metric))) is MultiInstanceCocoWholeBodyMetric
    assert issubclass(module.MultiInstancePoseTrack18Metric, MultiInstanceCocoMetricMixin)
    with pytest.raises(TypeError, match='not a CocoMetric'):
        multi_instance_coco_metric_class(PCKAccuracy)
