"""Tests of :class:`MultiInstanceCocoMetric` on the real sample annotation files.

Predictions are built as the plain dicts that mmengine's ``Evaluator`` hands
to ``metric.process`` (``data_sample.to_dict()``): one data sample per person
box, ``pred_instances`` with one row per instance selector λ. Poses are
"injected" ground truth so the expected AP is known exactly.
"""
import copy
import json
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
import torch
from mmpose.datasets import CocoDataset, CrowdPoseDataset, OCHumanDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.functional import oks_nms as mmpose_oks_nms
from mmpose.evaluation.metrics import CocoMetric
from mmpose.registry import METRICS

from mipnet_mmpose.evaluation import MultiInstanceCocoMetric

REPO = Path(__file__).resolve().parents[2]
COCO_ANN = REPO / 'data/sample/coco/test_coco.json'
CROWDPOSE_ANN = REPO / 'data/sample/crowdpose/test_crowdpose.json'
OCHUMAN_ANN = REPO / 'data/sample/ochuman/test_ochuman.json'
ONEHAND_ANN = REPO / 'data/sample/onehand10k/test_onehand10k.json'

DECAY = 0.5  # the authors' score factor for λ > 0 poses

# a pose row: (keypoints [K, 2], keypoint scores [K], bbox score)
Row = Tuple[np.ndarray, np.ndarray, float]


# ---------------------------------------------------------------------- #
# helpers
# ---------------------------------------------------------------------- #
def _load(ann_file: Path) -> dict:
    with open(ann_file) as f:
        return json.load(f)


def _meta(dataset_cls: type, ann_file: Path, name: Optional[str] = None) -> dict:
    """Dataset meta as a runner gives it to the metric (``CLASSES`` as the
    coco-style datasets add it)."""
    with warnings.catch_warnings():
        # MMPose warns that it reads the meta config from its installed copy
        warnings.simplefilter('ignore')
        meta = parse_pose_metainfo(copy.deepcopy(dataset_cls.METAINFO))
    meta['CLASSES'] = _load(ann_file)['categories']
    if name is not None:
        # a fresh name keeps the metric from picking up an ann file that
        # another test registered in the global MessageHub
        meta['dataset_name'] = name
    return meta


def _person_anns(data: dict) -> List[dict]:
    """Annotations a top-down pipeline turns into boxes (labelled people)."""
    return [a for a in data['annotations'] if not a['iscrowd'] and a['num_keypoints'] > 0]


def _gt_pose(ann: dict) -> Tuple[np.ndarray, np.ndarray]:
    """GT pose as a prediction: labelled joints with score 1, unlabelled ones
    with score 0 at the labelled joints' mean (a model always predicts every
    joint; (0, 0) would make different people look alike to OKS-NMS)."""
    kpts = np.asarray(ann['keypoints'], dtype=np.float32).reshape(-1, 3)
    labelled = kpts[:, 2] > 0
    xy = kpts[:, :2].copy()
    xy[~labelled] = xy[labelled].mean(axis=0)
    return xy, labelled.astype(np.float32)


def _sample(ann: dict, img: dict, rows: Sequence[Row], with_scales: bool = True,
            lambdas: Optional[object] = None) -> dict:
    """One data sample (one person box) as ``Evaluator.process`` passes it."""
    x, y, w, h = ann['bbox']
    box = np.array([[x, y, x + w, y + h]], dtype=np.float32)
    num_rows = len(rows)
    gt_instances: Dict[str, np.ndarray] = dict(bboxes=box, bbox_scores=np.ones(1, np.float32))
    if with_scales:
        # TopdownAffine's padded box scale (1.25) as packed by PackPoseInputs
        gt_instances['bbox_scales'] = np.array([[w * 1.25, h * 1.25]], dtype=np.float32)
    return dict(
        id=ann['id'],
        img_id=ann['image_id'],
        category_id=1,
        ori_shape=(img['height'], img['width']),
        crowd_index=img.get('crowdIndex', 0.0),
        raw_ann_info=copy.deepcopy(ann),
        gt_instances=gt_instances,
        pred_instances=dict(
            keypoints=np.stack([r[0] for r in rows]),
            keypoint_scores=np.stack([r[1] for r in rows]),
            bboxes=np.repeat(box, num_rows, axis=0),
            bbox_scores=np.array([r[2] for r in rows], dtype=np.float32),
            lambdas=(np.arange(num_rows, dtype=np.int64) if lambdas is None else lambdas)))


def _gt_injected_samples(data: dict, num_lambdas: int, shift: float = 0.0) -> List[dict]:
    """λ=0: the box's own GT pose (score 1); λ>0: a copy (shifted by
    ``shift`` px per λ) with the decayed box score."""
    imgs = {img['id']: img for img in data['images']}
    samples = []
    for ann in _person_anns(data):
        xy, scores = _gt_pose(ann)
        rows = [(xy + lam * shift, scores, 1.0 if lam == 0 else DECAY)
                for lam in range(num_lambdas)]
        samples.append(_sample(ann, imgs[ann['image_id']], rows))
    return samples


def _evaluate(metric: CocoMetric, samples: List[dict], batch_size: int = 3) -> Dict[str, float]:
    for start in range(0, len(samples), batch_size):
        metric.process({}, samples[start:start + batch_size])
    return metric.evaluate(size=len(metric.results))


def _coco_metric(**kwargs) -> MultiInstanceCocoMetric:
    metric = MultiInstanceCocoMetric(ann_file=str(COCO_ANN), **kwargs)
    metric.dataset_meta = _meta(CocoDataset, COCO_ANN)
    return metric


# ---------------------------------------------------------------------- #
# construction
# ---------------------------------------------------------------------- #
def test_registered_with_authors_defaults():
    metric = METRICS.build(dict(type='MultiInstanceCocoMetric', ann_file=str(COCO_ANN)))
    assert isinstance(metric, MultiInstanceCocoMetric)
    assert isinstance(metric, CocoMetric)
    assert metric.merge_nms_mode == 'oks_nms'
    # Applied by the class (results2json), not by the stock loop: fixed when built.
    assert metric.nms_mode == 'none'
    soft = METRICS.build(dict(type='MultiInstanceCocoMetric', ann_file=str(COCO_ANN),
                              nms_mode='soft_oks_nms'))
    assert soft.merge_nms_mode == soft.nms_mode == 'soft_oks_nms'  # the stock loop's
    with pytest.raises(ValueError, match='nms_mode'):
        METRICS.build(dict(type='MultiInstanceCocoMetric', ann_file=str(COCO_ANN),
                           nms_mode='nms'))
    assert metric.nms_thr == 0.9
    assert metric.score_mode == 'bbox_keypoint'
    assert metric.keypoint_score_thr == 0.2
    assert metric.prefix == 'coco'


# ---------------------------------------------------------------------- #
# every (box, λ) pose is held until NMS
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize('num_lambdas', [2, 3])
def test_holds_n_poses_per_box_before_nms(num_lambdas: int, tmp_path: Path):
    data = _load(COCO_ANN)
    num_boxes = len(_person_anns(data))
    # distinct poses per λ (shifted by 40 px) so nothing is a duplicate
    samples = _gt_injected_samples(data, num_lambdas, shift=40.0)
    metric = _coco_metric(nms_mode='none', outfile_prefix=str(tmp_path / 'res'))
    for sample in samples:
        metric.process({}, [sample])
    # one entry per data sample, as mmengine's collect_results expects
    assert len(metric.results) == num_boxes
    metric.evaluate(size=num_boxes)

    expected = {lam: num_boxes for lam in range(num_lambdas)}
    assert metric.last_lambda_stats['produced'] == expected
    assert metric.last_lambda_stats['kept_after_nms'] == expected
    dumped = _load(tmp_path / 'res.keypoints.json')
    assert len(dumped) == num_lambdas * num_boxes
    assert {lam: sum(d['lambda'] == lam for d in dumped) for lam in range(num_lambdas)} == expected
    # each λ pose is dumped with its own coordinates and decayed score
    for d in dumped:
        assert d['score'] == pytest.approx(1.0 if d['lambda'] == 0 else DECAY)

    # OKS-NMS sees the same N x boxes poses
    metric = _coco_metric()
    _evaluate(metric, samples)
    assert sum(metric.last_lambda_stats['produced'].values()) == num_lambdas * num_boxes


@pytest.mark.parametrize('nms_mode', ['oks_nms', 'none'])
def test_results_file_is_the_stock_one_plus_lambda(nms_mode: str, tmp_path: Path):
    data = _load(COCO_ANN)
    samples = _gt_injected_samples(data, 2, shift=40.0)
    metric = _coco_metric(nms_mode=nms_mode, outfile_prefix=str(tmp_path / 'ours'))
    written = []
    ours = metric.results2json

    def spy(keypoints, outfile_prefix):  # the real method, its input kept
        written.append(copy.deepcopy(keypoints))
        return ours(keypoints, outfile_prefix)

    metric.results2json = spy
    _evaluate(metric, samples)
    (keypoints, ) = written
    if nms_mode == 'oks_nms':  # applied inside results2json: MMPose's own, for the reference
        keypoints = {img_id: [recs[k] for k in mmpose_oks_nms(
            recs, metric.nms_thr, sigmas=metric.dataset_meta['sigmas'])]
            for img_id, recs in keypoints.items()}
    CocoMetric.results2json(metric, keypoints, str(tmp_path / 'stock'))
    got = _load(tmp_path / 'ours.keypoints.json')
    want = _load(tmp_path / 'stock.keypoints.json')
    assert len(got) == len(want) == sum(len(recs) for recs in keypoints.values()) > 10
    lambdas = [rec['lambda'] for recs in keypoints.values() for rec in recs]
    assert [entry.pop('lambda') for entry in got] == lambdas and set(lambdas) == {0, 1}
    assert got == want  # same fields, values and order as MMPose's file


def test_stock_metric_keeps_one_pose_per_box(tmp_path: Path):
    """Documents why the subclass exists: the stock top-down path keeps only
    the first row of each box id."""
    data = _load(COCO_ANN)
    samples = _gt_injected_samples(data, 2, shift=40.0)
    for sample in samples:
        # the stock metric indexes its single box area per row, so it can
        # only run N = 2 output when there is no bbox_scales
        del sample['gt_instances']['bbox_scales']
    stock = CocoMetric(ann_file=str(COCO_ANN), nms_mode='none',
                       outfile_prefix=str(tmp_path / 'stock'))
    stock.dataset_meta = _meta(CocoDataset, COCO_ANN)
    _evaluate(stock, samples)
    assert len(_load(tmp_path / 'stock.keypoints.json')) == len(samples)


# ---------------------------------------------------------------------- #
# OKS-NMS over λ duplicates
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize('nms_mode, kept_lambda1', [('oks_nms', 0), ('none', None),
                                                    ('soft_oks_nms', None)])
def test_nms_removes_same_person_from_two_lambdas(nms_mode: str, kept_lambda1: Optional[int]):
    data = _load(COCO_ANN)
    num_boxes = len(_person_anns(data))
    # λ=1 predicts exactly the λ=0 pose (lone people: MIPNet's target is y0)
    samples = _gt_injected_samples(data, 2, shift=0.0)
    metric = _coco_metric(nms_mode=nms_mode)
    results = _evaluate(metric, samples)
    stats = metric.last_lambda_stats
    assert stats['produced'] == {0: num_boxes, 1: num_boxes}
    # OKS-NMS keeps one pose per person; 'none' keeps both, and soft-NMS only
    # lowers the duplicate's score (it keeps up to 20 poses per image, more
    # than the sample's images hold)
    kept1 = num_boxes if kept_lambda1 is None else kept_lambda1
    assert stats['kept_after_nms'] == {0: num_boxes, 1: kept1}
    # the decayed duplicates rank below every true pose, so AP stays 1
    assert results['coco/AP'] == pytest.approx(1.0)


# ---------------------------------------------------------------------- #
# GT injection gives AP 1.0
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize('use_ann_file', [True, False])
def test_gt_injection_coco_ap_is_one(use_ann_file: bool):
    data = _load(COCO_ANN)
    samples = _gt_injected_samples(data, 2, shift=0.0)
    if use_ann_file:
        metric = _coco_metric()
    else:
        # GT converted from raw_ann_info: each sample's GT enters once even
        # though the sample is split into one prediction per λ
        metric = MultiInstanceCocoMetric(ann_file=None)
        metric.dataset_meta = _meta(CocoDataset, COCO_ANN, name='mipnet_test_coco_no_ann')
    results = _evaluate(metric, samples)
    assert results['coco/AP'] == pytest.approx(1.0)
    assert results['coco/AR'] == pytest.approx(1.0)
    if not use_ann_file:
        assert len(metric.coco.anns) == len(samples)


@pytest.mark.parametrize('nms_mode', ['none', 'oks_nms'])
def test_gt_injection_crowdpose_ap_is_one(nms_mode: str):
    data = _load(CROWDPOSE_ANN)
    samples = _gt_injected_samples(data, 2, shift=0.0)
    metric = MultiInstanceCocoMetric(
        ann_file=str(CROWDPOSE_ANN),
        use_area=False,
        iou_type='keypoints_crowd',
        nms_mode=nms_mode,
        prefix='crowdpose')
    metric.dataset_meta = _meta(CrowdPoseDataset, CROWDPOSE_ANN)
    results = _evaluate(metric, samples)
    assert results['crowdpose/AP'] == pytest.approx(1.0)
    assert results['crowdpose/AR'] == pytest.approx(1.0)
    # the sample's crowd indices (0.33, 0.39) are all 'medium'; the other
    # levels are -1 (no GT) in xtcocotools
    assert results['crowdpose/AP(M)'] == pytest.approx(1.0)
    for level in ('AP(E)', 'AP(H)'):
        assert results[f'crowdpose/{level}'] in (pytest.approx(1.0), -1)


# ---------------------------------------------------------------------- #
# OCHuman: a neighbour's box recovers the person whose box is missing
# ---------------------------------------------------------------------- #
def _ochuman_one_box_per_pair(num_lambdas: int, with_scales: bool = True) -> List[dict]:
    """Boxes of anns 1, 2 and 4 only (3 and 5, the partners of the
    overlapping pairs in images 2 and 3, have no box). λ=1 predicts the
    partner (or, for the lone person, the box's own person again)."""
    data = _load(OCHUMAN_ANN)
    anns = {a['id']: a for a in data['annotations']}
    imgs = {img['id']: img for img in data['images']}
    partner = {1: 1, 2: 3, 4: 5}
    samples = []
    for ann_id, partner_id in partner.items():
        own = _gt_pose(anns[ann_id])
        other = _gt_pose(anns[partner_id])
        rows = [(own[0], own[1], 1.0), (other[0], other[1], DECAY)][:num_lambdas]
        samples.append(
            _sample(anns[ann_id], imgs[anns[ann_id]['image_id']], rows, with_scales=with_scales))
    return samples


def _ochuman_metric(cls: type = MultiInstanceCocoMetric) -> CocoMetric:
    metric = cls(ann_file=str(OCHUMAN_ANN), prefix='ochuman')
    metric.dataset_meta = _meta(OCHumanDataset, OCHUMAN_ANN)
    return metric


def test_ochuman_second_lambda_recovers_missing_box():
    multi = _ochuman_metric()
    results = _evaluate(multi, _ochuman_one_box_per_pair(2))
    assert results['ochuman/AP'] == pytest.approx(1.0)
    assert results['ochuman/AR'] == pytest.approx(1.0)
    # the lone person's λ=1 copy is suppressed, both partners survive
    assert multi.last_lambda_stats == {'produced': {0: 3, 1: 3}, 'kept_after_nms': {0: 3, 1: 2}}

    # one pose per box: N = 1 with our metric ...
    single = _ochuman_metric()
    results_n1 = _evaluate(single, _ochuman_one_box_per_pair(1))
    assert results_n1['ochuman/AP'] < 0.9
    # ... and the stock metric on the same N = 2 output (no bbox_scales: the
    # stock metric cannot index a single box area for two rows)
    stock = _ochuman_metric(CocoMetric)
    results_stock = _evaluate(stock, _ochuman_one_box_per_pair(2, with_scales=False))
    assert results_stock['ochuman/AP'] < 0.9
    assert results_stock['ochuman/AP'] == pytest.approx(results_n1['ochuman/AP'])


# ---------------------------------------------------------------------- #
# N = 1 is exactly the stock metric
# ---------------------------------------------------------------------- #
def test_single_lambda_matches_stock_metric():
    data = _load(COCO_ANN)
    rng = np.random.default_rng(0)
    samples = _gt_injected_samples(data, 1)
    for sample in samples:
        # noisy poses and scores so AP is not trivially 1
        pred = sample['pred_instances']
        pred['keypoints'] = pred['keypoints'] + rng.normal(0, 6, pred['keypoints'].shape)
        pred['keypoint_scores'] = rng.uniform(0.1, 1.0, pred['keypoint_scores'].shape)
        pred['bbox_scores'] = rng.uniform(0.3, 1.0, 1)
    ours = _evaluate(_coco_metric(), copy.deepcopy(samples))
    stock = CocoMetric(ann_file=str(COCO_ANN))
    stock.dataset_meta = _meta(CocoDataset, COCO_ANN)
    theirs = _evaluate(stock, copy.deepcopy(samples))
    assert 0.0 < ours['coco/AP'] < 1.0
    assert ours == pytest.approx(theirs)


# ---------------------------------------------------------------------- #
# statistics
# ---------------------------------------------------------------------- #
def test_lambda_stats_dedup_and_reset():
    data = _load(COCO_ANN)
    num_boxes = len(_person_anns(data))
    samples = _gt_injected_samples(data, 3, shift=40.0)
    # λ as a tensor (the estimator may leave it so) and in shuffled order
    for sample in samples:
        pred = sample['pred_instances']
        order = np.array([2, 0, 1])
        for key in ('keypoints', 'keypoint_scores', 'bboxes', 'bbox_scores'):
            pred[key] = pred[key][order]
        pred['lambdas'] = torch.as_tensor(order)
    metric = _coco_metric(nms_mode='none')
    # a sample seen twice (e.g. padded last batch) counts once per (box, λ)
    _evaluate(metric, samples + samples[:2])
    expected = {0: num_boxes, 1: num_boxes, 2: num_boxes}
    assert metric.last_lambda_stats == {'produced': expected, 'kept_after_nms': expected}
    assert metric.results == []

    # the next evaluation replaces the statistics
    _evaluate(metric, _gt_injected_samples(data, 2, shift=40.0)[:4])
    assert metric.last_lambda_stats == {'produced': {0: 4, 1: 4}, 'kept_after_nms': {0: 4, 1: 4}}


# ---------------------------------------------------------------------- #
# bad input
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize('key', ['bboxes', 'bbox_scores', 'keypoint_scores', 'lambdas'])
def test_mismatched_rows_raise(key: str):
    data = _load(COCO_ANN)
    good, bad = _gt_injected_samples(data, 2, shift=40.0)[:2]
    bad['pred_instances'][key] = bad['pred_instances'][key][:1]
    metric = _coco_metric()
    with pytest.raises(ValueError, match=f"2 rows of 'keypoints' but 1 rows of '{key}'"):
        metric.process({}, [good, bad])
    # nothing of the bad batch was stored
    assert metric.results == []


def test_repeated_lambdas_raise():
    data = _load(COCO_ANN)
    sample = _gt_injected_samples(data, 2, shift=40.0)[0]
    sample['pred_instances']['lambdas'] = np.zeros(2, dtype=np.int64)
    with pytest.raises(ValueError, match='repeated lambdas'):
        _coco_metric().process({}, [sample])


@pytest.mark.parametrize('nms_mode', ['oks_nms', 'none'])
def test_data_set_without_sigmas_is_a_clear_error(nms_mode: str):
    """OneHand10K defines no OKS sigmas (a per-box task): one sentence naming the data set
    and the fix, not numpy's broadcast error from inside OKS."""
    from mmpose.datasets import OneHand10KDataset
    meta = _meta(OneHand10KDataset, ONEHAND_ANN, name='mipnet_test_onehand10k')
    assert meta['sigmas'].size == 0
    metric = MultiInstanceCocoMetric(ann_file=str(ONEHAND_ANN), nms_mode=nms_mode)
    metric.dataset_meta = meta
    data = _load(ONEHAND_ANN)
    imgs = {img['id']: img for img in data['images']}
    samples = []
    for ann in data['annotations']:  # one hand per box, its GT as both λ
        xy, scores = _gt_pose(ann)
        samples.append(_sample(ann, imgs[ann['image_id']], [(xy, scores, 1.0)] * 2))
    assert samples and samples[0]['pred_instances']['keypoints'].shape[1:] == (21, 2)
    with pytest.raises(ValueError, match=r"^MultiInstanceCocoMetric: the data set "
                       r"'mipnet_test_onehand10k' defines no keypoint OKS sigmas .*per-box "
                       r'metric \(PCKAccuracy'):
        _evaluate(metric, samples)
