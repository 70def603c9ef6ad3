"""inference_mipnet / draw_mipnet_result on the sample model (random weights) and a real image."""
import copy
import json
from contextlib import contextmanager

import mmcv
import numpy as np
import pytest
import torch
from mmpose.apis import inference_topdown, init_model
from mmpose.evaluation.functional.nms import oks_iou

from mipnet_mmpose.apis import (
    config_merge_settings,
    draw_mipnet_result,
    inference_mipnet,
    set_test_time,
)
from mipnet_mmpose.evaluation import MultiInstanceCocoMetric
from mipnet_mmpose.evaluation.functional import merge_instance_poses
from tests.conftest import SAMPLE, SAMPLE_CONFIG

IMAGE = str(SAMPLE / 'ochuman' / '003896.jpg')  # 602 x 900, OCHuman image id 3
OCHUMAN_ANN = str(SAMPLE / 'ochuman' / 'test_ochuman.json')
GT_XYWH = [[0, 39, 601, 861], [84, 45, 516, 783]]  # its annotations 4 and 5
N = 2  # the sample config's num_instances


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(str(SAMPLE_CONFIG), checkpoint=None, device='cpu')


def _arrays(records):
    return (np.array([r['keypoints'] for r in records]),
            np.array([r['keypoint_scores'] for r in records]))


@contextmanager
def evaluator_settings(model, **settings):
    """The model's config with its test_evaluator changed, for the duration."""
    original = model.cfg
    model.cfg = copy.deepcopy(original)
    model.cfg.test_evaluator.update(settings)
    try:
        yield
    finally:
        model.cfg = original


def metric_kept(model, boxes_xyxy, tmp_path) -> list:
    """(box index, λ) of the poses the config's MultiInstanceCocoMetric keeps when it
    evaluates the model's data samples of these boxes (box scores 1)."""
    cfg = dict(model.cfg.test_evaluator, ann_file=OCHUMAN_ANN, format_only=True,
               outfile_prefix=str(tmp_path / 'metric'))
    cfg.pop('type')
    metric = MultiInstanceCocoMetric(**cfg)
    metric.dataset_meta = dict(model.dataset_meta, dataset_name='inference_test')
    samples = inference_topdown(model, IMAGE, np.asarray(boxes_xyxy, np.float32))
    for box_index, sample in enumerate(samples):
        sample.set_metainfo(dict(id=box_index, img_id=3))
    metric.process([], [sample.to_dict() for sample in samples])
    metric.evaluate(len(samples))
    kept = []
    for entry in json.loads((tmp_path / 'metric.keypoints.json').read_text()):
        xy = np.array(entry['keypoints']).reshape(-1, 3)[:, :2]
        (box_index, ) = [i for i, sample in enumerate(samples)
                         if np.allclose(sample.pred_instances.keypoints[entry['lambda']], xy)]
        kept.append((box_index, entry['lambda']))
    return sorted(kept)


def test_records_of_two_gt_boxes(model):
    records = inference_mipnet(model, IMAGE, GT_XYWH, bbox_scores=[0.9, 0.8],
                               bbox_format='xywh')
    assert json.loads(json.dumps(records)) == records  # JSON-serialisable as is
    assert [(r['box_index'], r['lambda']) for r in records] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [r['bbox'] for r in records[::N]] == [[0, 39, 601, 900], [84, 45, 600, 828]]
    assert [r['bbox_score'] for r in records] == [0.9, 0.9, 0.8, 0.8]
    for r in records:
        assert np.shape(r['keypoints']) == (17, 2) and np.shape(r['keypoint_scores']) == (17, )
        assert isinstance(r['kept_after_nms'], bool) and isinstance(r['score'], float)
    assert any(r['kept_after_nms'] for r in records)

    # Scores and flags are the stock rescoring + OKS-NMS over all poses of the image, with the
    # λ>0 poses decayed by the model's lambda_score_decay (0.5) and, as the metric takes them,
    # the products of the padded, 3:4 box scales as areas (not the boxes' own areas).
    keypoints, keypoint_scores = _arrays(records)
    decayed = np.array([0.9, 0.45, 0.8, 0.4])
    # Both boxes are narrower than the input's 3:4, so widened to 3/4 of their height; then
    # padded by 1.25 (GetBBoxCenterScale, TopdownAffine).
    areas = np.repeat([(h * 1.25) ** 2 * 3 / 4 for h in (861, 783)], N)
    scores, kept = merge_instance_poses(keypoints, keypoint_scores, decayed, areas,
                                        sigmas=model.dataset_meta['sigmas'])
    assert [r['score'] for r in records] == pytest.approx(scores)
    assert [r['kept_after_nms'] for r in records] == kept.tolist()


def test_oks_areas_are_the_box_scales_not_the_box_areas(model):
    """A threshold between the OKS of two poses under the two area choices tells them apart."""
    boxes = np.array([[0, 39, 601, 900], [84, 45, 600, 828]], np.float64)  # the GT boxes
    xyxy_areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    scale_areas = np.array([(h * 1.25) ** 2 * 3 / 4 for h in (861, 783)])  # as above
    previous = model.test_num_instances
    set_test_time(model, num_instances=1)  # one pose per box
    try:
        poses = inference_mipnet(model, IMAGE, boxes, nms_mode='none')
        first, second = [np.concatenate([r['keypoints'], np.array(r['keypoint_scores'])[:, None]],
                                        axis=1).ravel() for r in poses]
        oks = [float(oks_iou(first, second[None], a[0], a[1:])[0])
               for a in (xyxy_areas, scale_areas)]
        assert oks[0] < oks[1]
        records = inference_mipnet(model, IMAGE, boxes, nms_thr=float(np.mean(oks)))
    finally:
        set_test_time(model, num_instances=previous)
    # With the scale areas the two poses overlap by more than the threshold: one is dropped.
    assert [r['kept_after_nms'] for r in records].count(True) == 1


BOXES = [[0, 39, 601, 900], [84, 45, 600, 828], [90, 50, 590, 820], [300, 300, 500, 600]]


@pytest.mark.parametrize('settings', [dict(), dict(nms_thr=0.5), dict(nms_mode='none'),
                                      dict(nms_mode='soft_oks_nms', score_mode='bbox')])
def test_kept_set_is_the_metrics(model, settings, tmp_path):
    """The poses kept are those MultiInstanceCocoMetric keeps, with its config's settings."""
    with evaluator_settings(model, **settings):
        records = inference_mipnet(model, IMAGE, BOXES)
        expected = metric_kept(model, BOXES, tmp_path)
    kept = sorted((r['box_index'], r['lambda']) for r in records if r['kept_after_nms'])
    assert kept == expected
    if settings.get('nms_mode') in ('none', 'soft_oks_nms'):
        assert len(kept) == len(BOXES) * N  # every pose (soft NMS: fewer than 20)
    else:
        assert len(kept) < len(BOXES) * N  # the near-duplicate boxes lose poses


def test_settings_come_from_the_config_and_arguments_override(model):
    assert config_merge_settings(model) == dict(nms_mode='oks_nms', nms_thr=0.9,
                                                score_mode='bbox_keypoint', keypoint_score_thr=0.2)
    with evaluator_settings(model, nms_mode='none'):
        assert all(r['kept_after_nms'] for r in inference_mipnet(model, IMAGE, BOXES))
        records = inference_mipnet(model, IMAGE, BOXES, nms_mode='oks_nms', nms_thr=0.5)
        assert not all(r['kept_after_nms'] for r in records)
    assert all(r['kept_after_nms'] for r in inference_mipnet(model, IMAGE, BOXES,
                                                             nms_mode='none'))
    with evaluator_settings(model, score_mode='bbox'):  # the pose score is the box score
        assert [r['score'] for r in inference_mipnet(model, IMAGE, BOXES[:1])] == [1.0, 0.5]
    with pytest.raises(ValueError, match="nms_mode must be one of"):
        inference_mipnet(model, IMAGE, BOXES, nms_mode='nms')


def test_no_coco_metric_in_the_config_warns_and_uses_cocometric_defaults(model):
    original = model.cfg
    model.cfg = copy.deepcopy(original)
    model.cfg.test_evaluator = dict(type='PCKAccuracy')
    try:
        with pytest.warns(UserWarning, match='no CocoMetric-derived metric'):
            settings = config_merge_settings(model)
    finally:
        model.cfg = original
    assert settings == config_merge_settings(model)  # the sample config gives only defaults


def test_score_is_decayed_box_score_times_mean_keypoint_score(model):
    # With no keypoint threshold every keypoint counts in the mean.
    records = inference_mipnet(model, IMAGE, [[100, 100, 400, 700]], bbox_scores=[0.6],
                               keypoint_score_thr=-np.inf)
    for r in records:
        decay = 0.5 if r['lambda'] > 0 else 1.0
        assert r['score'] == pytest.approx(0.6 * decay * np.mean(r['keypoint_scores']))


def test_duplicate_box_poses_are_suppressed(model):
    box = [84, 45, 600, 828]
    records = inference_mipnet(model, IMAGE, [box, box])
    first, second = records[:N], records[N:]
    assert [r['keypoints'] for r in first] == [r['keypoints'] for r in second]
    for a, b in zip(first, second):
        # The same pose twice overlaps itself with OKS 1 > 0.9: one copy goes.
        assert not (a['kept_after_nms'] and b['kept_after_nms'])
    assert 1 <= sum(r['kept_after_nms'] for r in records) <= N


def test_poses_of_far_apart_boxes_are_all_kept(model):
    # Poses of boxes at opposite corners cannot overlap: each box keeps at least one pose.
    records = inference_mipnet(model, IMAGE, [[0, 0, 150, 200], [450, 700, 600, 900]])
    for box_index in (0, 1):
        assert any(r['kept_after_nms'] for r in records if r['box_index'] == box_index)


def test_whole_image_default_and_array_input(model):
    records = inference_mipnet(model, IMAGE)
    assert [(r['box_index'], r['lambda']) for r in records] == [(0, lam) for lam in range(N)]
    assert all(r['bbox'] == [0, 0, 602, 900] and r['bbox_score'] == 1.0 for r in records)
    # A BGR array (as mmcv.imread gives) is the same input as the file.
    from_array = inference_mipnet(model, mmcv.imread(IMAGE))
    assert np.allclose(_arrays(from_array)[0], _arrays(records)[0])


def test_bad_inputs(model):
    assert inference_mipnet(model, IMAGE, np.zeros((0, 4))) == []  # no boxes, no poses
    with pytest.raises(ValueError, match='2 boxes but 1 box scores'):
        inference_mipnet(model, IMAGE, GT_XYWH, bbox_scores=[1.0])
    with pytest.raises(ValueError, match='bbox_format'):
        inference_mipnet(model, IMAGE, GT_XYWH, bbox_format='cxcywh')
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        inference_mipnet(model, str(SAMPLE / 'missing.jpg'))


def test_draw_shows_kept_poses_only(model):
    image = mmcv.imread(IMAGE)

    def record(x: float, kept: bool) -> dict:
        # A confident pose: every keypoint on a vertical line at x.
        return {'box_index': 0, 'lambda': 0, 'bbox': [0, 0, 602, 900], 'bbox_score': 1.0,
                'keypoints': [[x, 100 + 40 * k] for k in range(17)],
                'keypoint_scores': [1.0] * 17, 'score': 1.0, 'kept_after_nms': kept}

    drawn = draw_mipnet_result(model, IMAGE, [record(150, True), record(450, False)],
                               draw_boxes=False)
    assert drawn.shape == image.shape and drawn.dtype == np.uint8
    changed = np.any(drawn != mmcv.bgr2rgb(image), axis=2)
    assert changed[100:780, 140:160].any()  # the kept pose is drawn
    assert not changed[100:780, 440:460].any()  # the suppressed one is not


def test_inference_under_bfloat16_autocast(sample_training):
    """CPU autocast (bfloat16) runs the whole path; the poses stay close to float32's."""
    from mipnet_mmpose.apis import init_mipnet
    from tests.conftest import SAMPLE_TEST_EPOCHS
    work_dir, _ = sample_training
    trained = init_mipnet(str(SAMPLE_CONFIG), str(work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth'),
                          device='cpu')
    full = inference_mipnet(trained, IMAGE, GT_XYWH, bbox_format='xywh')
    with torch.autocast('cpu', dtype=torch.bfloat16):
        half = inference_mipnet(trained, IMAGE, GT_XYWH, bbox_format='xywh')
    assert [(r['box_index'], r['lambda']) for r in half] == \
        [(r['box_index'], r['lambda']) for r in full]
    a, b = _arrays(full)[0], _arrays(half)[0]
    assert np.isfinite(b).all()
    # Heatmap cells are about 25 px here: most keypoints land in the same or a next cell.
    distance = np.linalg.norm(a - b, axis=-1)
    assert np.median(distance) < 30, np.median(distance)
