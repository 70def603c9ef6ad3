"""One detection file rule: the demo's reader and the test data sets accept and refuse alike."""
import json

import numpy as np
import pytest

from mipnet_mmpose.apis import DetectionFile, DetectionFileError
from mipnet_mmpose.datasets import MultiInstanceCocoDataset
from mipnet_mmpose.datasets.input_checks import DetectionFileError as DatasetDetectionFileError
from tests.test_datasets.test_input_checks import COCO_ANN, COCO_DETS, COCO_DIR


def both(path):
    """Read ``path`` as the demo does and as ``mim test`` does; their errors' messages."""
    errors = []
    for read in (lambda: DetectionFile(str(path)),
                 lambda: MultiInstanceCocoDataset(ann_file=str(COCO_ANN), bbox_file=str(path),
                                                  data_prefix=dict(img=str(COCO_DIR)),
                                                  test_mode=True)):
        try:
            read()
        except DetectionFileError as error:
            errors.append(str(error))
    return errors


@pytest.mark.parametrize('damage, problem', [
    (lambda d: d.pop('score'), "lacks `score`"),  # the stock test loader needs it
    (lambda d: d.update(bbox=d['bbox'] + [0.5]), 'has `bbox` ['),  # a fifth number
    (lambda d: d.update(bbox=d['bbox'][:3]), 'expected 4 numbers [x, y, w, h]'),
    (lambda d: d.update(score='0.9'), "has `score` '0.9', expected a number"),
    (lambda d: d.update(image_id=[1]), 'has `image_id` [1], expected an int or a string'),
    (lambda d: d.pop('image_id'), 'lacks `image_id`'),
])
def test_a_malformed_record_is_refused_by_both_naming_file_and_record(tmp_path, damage, problem):
    dets = json.loads(COCO_DETS.read_text())
    damage(dets[7])
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps(dets))
    errors = both(path)
    assert len(errors) == 2, errors
    for error in errors:
        assert f'`{path}`' in error and '1 of 118 records are not detections' in error
        assert 'record 7 ' in error and problem in error


def test_a_valid_file_is_read_by_both_with_the_same_boxes():
    assert both(COCO_DETS) == []
    assert DetectionFileError is DatasetDetectionFileError  # one class, one owner
    dataset = MultiInstanceCocoDataset(ann_file=str(COCO_ANN), bbox_file=str(COCO_DETS),
                                       data_prefix=dict(img=str(COCO_DIR)), test_mode=True)
    file = DetectionFile(str(COCO_DETS))
    for image_id in {dataset.get_data_info(i)['img_id'] for i in range(len(dataset))}:
        boxes, scores = file.boxes(image_id)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))
                 if dataset.get_data_info(i)['img_id'] == image_id]
        np.testing.assert_allclose(boxes, np.concatenate([i['bbox'] for i in infos]), rtol=1e-6)
        np.testing.assert_allclose(scores, np.concatenate([i['bbox_score'] for i in infos]),
                                   rtol=1e-6)


def test_an_empty_file_is_refused_by_both(tmp_path):
    path = tmp_path / 'dets.json'
    path.write_text('[]')
    errors = both(path)
    assert len(errors) == 2 and all('holds no detections (an empty list)' in e for e in errors)
