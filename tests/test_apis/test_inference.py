"""inference_mipnet / draw_mipnet_result on the sample model (random weights) and a real image."""
import json

import mmcv
import numpy as np
import pytest
import torch
from mmpose.apis import init_model

from mipnet_mmpose.apis import draw_mipnet_result, inference_mipnet
from mipnet_mmpose.evaluation.functional import merge_instance_poses
from tests.conftest import SAMPLE, SAMPLE_CONFIG

IMAGE = str(SAMPLE / 'ochuman' / '003896.jpg')  # 602 x 900, OCHuman image id 3
GT_XYWH = [[0, 39, 601, 861], [84, 45, 516, 783]]  # its annotations 4 and 5
N = 2  # the sample config's num_instances


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(str(SAMPLE_CONFIG), checkpoint=None, device='cpu')


def _arrays(records):
    return (np.array([r['keypoints'] for r in records]),
            np.array([r['keypoint_scores'] for r in records]))


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
    # λ>0 poses decayed by the model's lambda_score_decay (0.5) and the box areas as scales.
    keypoints, keypoint_scores = _arrays(records)
    decayed = np.array([0.9, 0.45, 0.8, 0.4])
    areas = np.repeat([601 * 861, 516 * 783], N)
    scores, kept = merge_instance_poses(keypoints, keypoint_scores, decayed, areas,
                                        sigmas=model.dataset_meta['sigmas'])
    assert [r['score'] for r in records] == pytest.approx(scores)
    assert [r['kept_after_nms'] for r in records] == kept.tolist()


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
