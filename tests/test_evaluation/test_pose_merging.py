"""merge_instance_poses / merge_settings_from_metric against MMPose's CocoMetric.

Poses are built from the real OCHuman sample annotations; the OKS areas come
from the sample config's real val pipeline (``gt_instances.bbox_scales``) and
the kept sets are compared with what :class:`MultiInstanceCocoMetric` dumps.
"""
import copy
import inspect
import json
import warnings
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmpose.datasets import OCHumanDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.evaluation.functional import oks_nms, soft_oks_nms
from mmpose.evaluation.functional.nms import oks_iou
from mmpose.evaluation.metrics import CocoMetric

from mipnet_mmpose.evaluation import MultiInstanceCocoMetric
from mipnet_mmpose.evaluation.functional import (
    coco_metric_defaults,
    merge_instance_poses,
    merge_settings_from_metric,
    pose_areas,
    rescore_poses,
)
from tests.conftest import SAMPLE, SAMPLE_CONFIG

OCHUMAN_ANN = SAMPLE / 'ochuman' / 'test_ochuman.json'
IMAGE_ID = 3  # 003896.jpg: annotations 4 and 5, two heavily overlapping persons
DECAY = 0.5  # score factor of the λ = 1 poses


def _meta() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # MMPose reads the meta from its installed copy
        meta = parse_pose_metainfo(copy.deepcopy(OCHumanDataset.METAINFO))
    meta['CLASSES'] = json.loads(OCHUMAN_ANN.read_text())['categories']
    meta['dataset_name'] = 'pose_merging_test'
    return meta


META = _meta()
SIGMAS = META['sigmas']


@pytest.fixture(scope='module')
def boxes() -> List[dict]:
    """The two persons of image 3: GT keypoints, xyxy box, and the box scale the
    sample config's val pipeline gives (what the metric sees)."""
    pipeline = Compose(Config.fromfile(str(SAMPLE_CONFIG)).val_pipeline)
    anns = [a for a in json.loads(OCHUMAN_ANN.read_text())['annotations']
            if a['image_id'] == IMAGE_ID]
    out = []
    for ann in anns:
        x, y, w, h = ann['bbox']
        xyxy = np.array([[x, y, x + w, y + h]], dtype=np.float32)
        packed = pipeline(dict(img_path=str(SAMPLE / 'ochuman' / '003896.jpg'), bbox=xyxy,
                               bbox_score=np.ones(1, np.float32), id=ann['id'],
                               img_id=IMAGE_ID))
        kpts = np.array(ann['keypoints'], dtype=np.float32).reshape(-1, 3)
        out.append(dict(id=ann['id'], keypoints=kpts[:, :2],
                        visible=kpts[:, 2] > 0, xyxy=xyxy,
                        bbox_scales=np.asarray(packed['data_samples'].gt_instances.bbox_scales)))
    return out


def _oks(pose_a: np.ndarray, pose_b: np.ndarray, area: float) -> float:
    with_scores = [np.concatenate([p, np.ones((len(p), 1))], axis=1).ravel()
                   for p in (pose_a, pose_b)]
    return float(oks_iou(with_scores[0], with_scores[1][None], area, np.array([area]),
                         SIGMAS)[0])


@pytest.fixture(scope='module')
def poses(boxes) -> Dict[str, np.ndarray]:
    """Two poses per box (λ = 0: the GT pose; λ = 1: it shifted right by d px),
    d chosen so the pair overlaps by more than OKS 0.9 with the metric's area
    (the padded, aspect-fixed box scale) but by less with the xyxy box area."""
    first = boxes[0]
    scale_area = float(np.prod(first['bbox_scales']))
    xyxy = first['xyxy'][0]
    xyxy_area = float((xyxy[2] - xyxy[0]) * (xyxy[3] - xyxy[1]))
    assert scale_area > 1.5 * xyxy_area  # 1.25² padding, then the 3:4 aspect ratio
    shifts = np.arange(1.0, 100.0, 0.5)
    d = next(s for s in shifts
             if _oks(first['keypoints'], first['keypoints'] + [s, 0], xyxy_area) < 0.9)
    assert _oks(first['keypoints'], first['keypoints'] + [d, 0], scale_area) > 0.9

    keypoints, scores, bbox_scores, lambdas, ids, areas, xyxy_areas = [], [], [], [], [], [], []
    for box in boxes:
        kpt_scores = np.where(box['visible'], 0.9, 0.1).astype(np.float32)
        keypoints += [box['keypoints'], box['keypoints'] + np.float32([d, 0])]
        scores += [kpt_scores, kpt_scores]
        bbox_scores += [1.0, DECAY]
        lambdas += [0, 1]
        ids += [box['id']] * 2
        areas.append(pose_areas(keypoints[-2:], box['bbox_scales']))
        x1, y1, x2, y2 = box['xyxy'][0]
        xyxy_areas += [(x2 - x1) * (y2 - y1)] * 2
    return dict(keypoints=np.stack(keypoints), keypoint_scores=np.stack(scores),
                bbox_scores=np.array(bbox_scores, np.float32), lambdas=np.array(lambdas),
                ids=np.array(ids), areas=np.concatenate(areas),
                xyxy_areas=np.array(xyxy_areas, np.float64))


def _metric_kept(poses: Dict[str, np.ndarray], boxes: List[dict], tmp_path: Path,
                 **settings) -> Tuple[List[Tuple[int, int]], Dict]:
    """(box id, λ) of the poses MultiInstanceCocoMetric keeps, and its λ stats."""
    metric = MultiInstanceCocoMetric(ann_file=str(OCHUMAN_ANN), format_only=True,
                                     outfile_prefix=str(tmp_path / 'merged'), **settings)
    metric.dataset_meta = META
    samples = []
    for i, box in enumerate(boxes):
        rows = slice(2 * i, 2 * i + 2)
        samples.append(dict(
            id=box['id'], img_id=IMAGE_ID,
            pred_instances=dict(keypoints=poses['keypoints'][rows],
                                keypoint_scores=poses['keypoint_scores'][rows],
                                bboxes=np.repeat(box['xyxy'], 2, axis=0),
                                bbox_scores=poses['bbox_scores'][rows],
                                lambdas=poses['lambdas'][rows]),
            gt_instances=dict(bbox_scales=box['bbox_scales'])))
    metric.process([], samples)
    metric.evaluate(len(samples))
    dumped = json.loads((tmp_path / 'merged.keypoints.json').read_text())
    kept = []
    for entry in dumped:  # find each dumped pose among ours by its coordinates
        xy = np.array(entry['keypoints']).reshape(-1, 3)[:, :2]
        (row, ) = np.flatnonzero(np.all(np.isclose(poses['keypoints'], xy), axis=(1, 2)))
        assert poses['lambdas'][row] == entry['lambda']
        kept.append((int(poses['ids'][row]), int(poses['lambdas'][row])))
    return sorted(kept), metric.last_lambda_stats


def _ours(poses: Dict[str, np.ndarray], kept: np.ndarray) -> List[Tuple[int, int]]:
    return sorted(zip(poses['ids'][kept].tolist(), poses['lambdas'][kept].tolist()))


def test_pose_areas_are_the_box_scale_products(boxes):
    box = boxes[0]
    keypoints = np.stack([box['keypoints']] * 3)
    expected = np.prod(box['bbox_scales'])
    assert pose_areas(keypoints, box['bbox_scales']).tolist() == [expected] * 3
    # One scale row per pose is taken as is; no scales: the keypoint extent, as the metric.
    assert pose_areas(keypoints[:2], np.array([[2., 3.], [4., 5.]])).tolist() == [6., 20.]
    assert pose_areas(np.array([[[1., 2.], [4., 8.]]])).tolist() == [18.]
    with pytest.raises(ValueError, match='2 rows of bbox_scales for 3 poses'):
        pose_areas(keypoints, np.ones((2, 2)))


def test_oks_nms_keeps_what_the_metric_keeps_and_the_area_matters(poses, boxes, tmp_path):
    args = (poses['keypoints'], poses['keypoint_scores'], poses['bbox_scores'])
    scores, kept = merge_instance_poses(*args, poses['areas'], sigmas=SIGMAS)
    metric_kept, stats = _metric_kept(poses, boxes, tmp_path)
    assert _ours(poses, kept) == metric_kept
    assert stats['kept_after_nms'] == {0: 2, 1: 0}  # each shifted copy is suppressed

    # The same as MMPose's oks_nms on records with the box-scale areas.
    records = [dict(keypoints=np.concatenate([k, s[:, None]], axis=1), score=sc, area=a)
               for k, s, sc, a in zip(poses['keypoints'], poses['keypoint_scores'], scores,
                                      poses['areas'])]
    assert sorted(oks_nms(records, 0.9, sigmas=SIGMAS).tolist()) == np.flatnonzero(
        kept).tolist()

    # The xyxy box areas (the old choice, smaller) keep the shifted copies too.
    _, kept_xyxy = merge_instance_poses(*args, poses['xyxy_areas'], sigmas=SIGMAS)
    assert kept_xyxy.all()


@pytest.mark.parametrize('settings', [
    dict(nms_mode='none'),
    dict(nms_mode='soft_oks_nms'),
    dict(nms_thr=0.3),
    dict(score_mode='bbox', nms_thr=0.5),
])
def test_other_settings_keep_what_the_metric_keeps(settings, poses, boxes, tmp_path):
    _, kept = merge_instance_poses(poses['keypoints'], poses['keypoint_scores'],
                                   poses['bbox_scores'], poses['areas'], sigmas=SIGMAS,
                                   **settings)
    metric_kept, stats = _metric_kept(poses, boxes, tmp_path, **settings)
    assert _ours(poses, kept) == metric_kept
    if settings.get('nms_mode') in ('none', 'soft_oks_nms'):
        # No NMS keeps every pose; soft NMS only lowers scores (at most 20 kept).
        assert kept.all() and stats['kept_after_nms'] == {0: 2, 1: 2}


def test_soft_oks_nms_is_mmposes():
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 50, (30, 17, 2))
    keypoint_scores = rng.uniform(0.3, 1, (30, 17))
    areas = np.full(30, 2500.)
    scores, kept = merge_instance_poses(keypoints, keypoint_scores, np.ones(30), areas,
                                        nms_mode='soft_oks_nms', nms_thr=0.5)
    records = [dict(keypoints=np.concatenate([k, s[:, None]], axis=1), score=sc, area=a)
               for k, s, sc, a in zip(keypoints, keypoint_scores, scores, areas)]
    assert kept.sum() == 20  # MMPose's max_dets
    assert np.flatnonzero(kept).tolist() == sorted(soft_oks_nms(records, 0.5).tolist())


def test_score_modes():
    keypoint_scores = np.array([[0.1, 0.5, 0.9], [0.1, 0.2, 0.15]])
    bbox_scores = np.array([0.8, 0.5])
    assert rescore_poses(keypoint_scores, bbox_scores).tolist() == pytest.approx(
        [0.8 * 0.7, 0.0])  # only keypoints above 0.2 count; none: 0
    assert rescore_poses(keypoint_scores, bbox_scores, score_mode='bbox').tolist() == [0.8, 0.5]
    assert rescore_poses(keypoint_scores, bbox_scores, score_mode='keypoint').tolist() == \
        pytest.approx([0.5, 0.15])
    assert rescore_poses(keypoint_scores, bbox_scores, score_mode='bbox_rle').tolist() == \
        pytest.approx([0.8 + 0.5 + 0.9, 0.5 + 0.15 + 0.2])
    with pytest.raises(ValueError, match="score_mode must be one of .* got 'max'"):
        merge_instance_poses(np.zeros((2, 3, 2)), keypoint_scores, bbox_scores, np.ones(2),
                             score_mode='max')
    with pytest.raises(ValueError, match="nms_mode must be one of .* got 'nms'"):
        merge_instance_poses(np.zeros((2, 3, 2)), keypoint_scores, bbox_scores, np.ones(2),
                             nms_mode='nms')


def test_defaults_are_coco_metrics():
    params = inspect.signature(CocoMetric.__init__).parameters
    expected = {name: params[name].default
                for name in ('nms_mode', 'nms_thr', 'score_mode', 'keypoint_score_thr')}
    assert coco_metric_defaults() == expected
    # A type alone, as the sample config gives it: CocoMetric's defaults.
    assert merge_settings_from_metric(dict(type='MultiInstanceCocoMetric',
                                           ann_file='a.json')) == expected
    assert merge_settings_from_metric(dict(type='mmpose.CocoMetric')) == expected


def test_settings_from_configs():
    crowdpose = dict(type='MultiInstanceCocoMetric', ann_file='a.json', use_area=False,
                     iou_type='keypoints_crowd', nms_mode='none')
    settings = merge_settings_from_metric(crowdpose)
    assert settings == dict(nms_mode='none', nms_thr=0.9, score_mode='bbox_keypoint',
                            keypoint_score_thr=0.2)
    # A list of metrics, or an Evaluator config: the CocoMetric-derived one counts.
    assert merge_settings_from_metric([dict(type='PCKAccuracy'), crowdpose]) == settings
    assert merge_settings_from_metric(dict(type='Evaluator',
                                           metrics=[crowdpose, dict(type='AUC')])) == settings
    assert merge_settings_from_metric(Config(dict(test_evaluator=dict(
        type=MultiInstanceCocoMetric, nms_thr=0.5))).test_evaluator)['nms_thr'] == 0.5

    with pytest.raises(ValueError, match='no CocoMetric-derived metric'):
        merge_settings_from_metric([dict(type='PCKAccuracy')])
    with pytest.raises(ValueError, match='no CocoMetric-derived metric'):
        merge_settings_from_metric(None)
    with pytest.raises(ValueError, match='merge poses differently'):
        merge_settings_from_metric([crowdpose, dict(type='CocoMetric')])
    with pytest.raises(ValueError, match="nms_mode must be one of .* got 'oks'"):
        merge_settings_from_metric(dict(type='CocoMetric', nms_mode='oks'))


def test_settings_from_built_metric_and_evaluator():
    metric = MultiInstanceCocoMetric(ann_file=str(OCHUMAN_ANN), nms_thr=0.7, score_mode='bbox',
                                     keypoint_score_thr=0.3)
    expected = dict(nms_mode='oks_nms', nms_thr=0.7, score_mode='bbox', keypoint_score_thr=0.3)
    assert merge_settings_from_metric(metric) == expected
    assert merge_settings_from_metric(Evaluator([metric])) == expected
    # The attributes of the built metric count, also when changed after building.
    metric.merge_nms_mode = 'none'
    assert merge_settings_from_metric(metric)['nms_mode'] == 'none'


def test_data_sets_without_sigmas_keep_every_pose_and_wrong_sigmas_are_refused():
    """OneHand10K and WFLW define no OKS sigmas (their metrics are per box): nothing to
    merge by, so every pose is kept, with a warning; sigmas of another K are refused."""
    hand = parse_pose_metainfo(dict(from_file='configs/_base_/datasets/onehand10k.py'))
    assert len(hand['sigmas']) == 0 and hand['num_keypoints'] == 21
    rng = np.random.default_rng(0)
    keypoints = rng.uniform(0, 50, size=(4, 21, 2))
    keypoints[1] = keypoints[0]  # a duplicate, which OKS-NMS would drop
    scores = np.ones((4, 21))
    with pytest.warns(UserWarning, match='no OKS sigmas'):
        _, kept = merge_instance_poses(keypoints, scores, np.ones(4), np.full(4, 2500.0),
                                       sigmas=np.asarray(hand['sigmas']))
    assert kept.tolist() == [True] * 4
    with pytest.raises(ValueError, match='21 keypoints per pose but 17 OKS sigmas'):
        merge_instance_poses(keypoints, scores, np.ones(4), np.full(4, 2500.0))
