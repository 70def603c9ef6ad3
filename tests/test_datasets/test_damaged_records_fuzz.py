"""Randomly damaged and randomly valid annotation and detection records.

Hypothesis damages a copy of the real COCO sample files (a field set to a value of another
type or a non-finite number, a key deleted, a record repeated) and builds the real data set
classes on them. Each case must either load (the damage was harmless or dropped with a logged
count) or raise one of our explained errors (DatasetInputError / DatasetFileNotFoundError),
never a bare KeyError, TypeError or ValueError from deep inside the stock loaders.

It also changes records to other valid values (finite coordinates, flags 0, 1 or 2, boxes of
any size, scores, detections on other images): those must load exactly as the stock data set
loads them, no record refused or dropped by the checks.
"""
import copy
import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmpose.datasets import CocoDataset

from mipnet_mmpose.datasets import MultiInstanceCocoDataset
from mipnet_mmpose.datasets.input_checks import DatasetFileNotFoundError, DatasetInputError
from tests.test_datasets.test_input_checks import COCO_ANN, COCO_DETS, COCO_DIR

OUR_ERRORS = (DatasetInputError, DatasetFileNotFoundError)
ANNOTATIONS = json.loads(COCO_ANN.read_text())
DETECTIONS = json.loads(COCO_DETS.read_text())

BAD_VALUES = st.sampled_from([
    None, 'text', -1, 0, 3, 1e12, math.nan, math.inf, -math.inf, [], [1, 2], {}, {'a': 1},
    True, [math.nan] * 4, [0, 0, -5, -5], [1, 2, 3, 4, 5], 'person',
])
ANN_FIELDS = st.sampled_from(['id', 'image_id', 'category_id', 'bbox', 'keypoints',
                              'num_keypoints', 'area', 'iscrowd'])
IMAGE_FIELDS = st.sampled_from(['id', 'file_name', 'width', 'height'])
DET_FIELDS = st.sampled_from(['image_id', 'category_id', 'bbox', 'score'])


def _damage(records, index, field, value, delete):
    record = records[index % len(records)]
    if delete:
        record.pop(field, None)
    elif field == 'keypoints' and isinstance(value, (int, float)) and record.get(field):
        record[field] = list(record[field])
        record[field][(index * 7) % len(record[field])] = value
    else:
        record[field] = value


def _kwargs(tmp_path, ann, dets=None) -> dict:
    ann_path = tmp_path / 'ann.json'
    ann_path.write_text(json.dumps(ann))
    kwargs = dict(ann_file=str(ann_path), data_prefix=dict(img=str(COCO_DIR)))
    if dets is not None:
        det_path = tmp_path / 'dets.json'
        det_path.write_text(json.dumps(dets))
        kwargs.update(bbox_file=str(det_path), test_mode=True)
    return kwargs


def _build(tmp_path, ann, dets=None):
    try:
        dataset = MultiInstanceCocoDataset(**_kwargs(tmp_path, ann, dets))
    except OUR_ERRORS:
        return
    # Whatever loads must be usable: finite boxes and keypoints in every sample.
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert all(math.isfinite(v) for v in info['bbox'].ravel())


FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(index=st.integers(0, 50), field=ANN_FIELDS, value=BAD_VALUES, delete=st.booleans(),
       repeat=st.booleans())
def test_damaged_annotation_records(tmp_path, index, field, value, delete, repeat):
    ann = copy.deepcopy(ANNOTATIONS)
    _damage(ann['annotations'], index, field, value, delete)
    if repeat:
        ann['annotations'].append(copy.deepcopy(ann['annotations'][index % 3]))
    _build(tmp_path, ann)


@FUZZ
@given(index=st.integers(0, 50), field=IMAGE_FIELDS, value=BAD_VALUES, delete=st.booleans())
def test_damaged_image_records(tmp_path, index, field, value, delete):
    ann = copy.deepcopy(ANNOTATIONS)
    _damage(ann['images'], index, field, value, delete)
    _build(tmp_path, ann)


@FUZZ
@given(index=st.integers(0, 200), field=DET_FIELDS, value=BAD_VALUES, delete=st.booleans())
def test_damaged_detection_records(tmp_path, index, field, value, delete):
    dets = copy.deepcopy(DETECTIONS)
    _damage(dets, index, field, value, delete)
    _build(tmp_path, copy.deepcopy(ANNOTATIONS), dets)


def _loads_as_stock(tmp_path, ann, dets=None):
    """Our data set loads every record of valid files, each sample as the stock one."""
    kwargs = _kwargs(tmp_path, ann, dets)
    ours, stock = MultiInstanceCocoDataset(**kwargs), CocoDataset(**kwargs)
    assert len(ours) == len(stock) == (len(dets) if dets is not None else len(stock))
    for i in range(len(stock)):
        info = ours.get_data_info(i)
        for key, value in stock.get_data_info(i).items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(info[key], value, err_msg=key)
            else:
                assert info[key] == value, key


COORDINATES = st.one_of(st.integers(-50, 700), st.floats(-50, 700, allow_nan=False))
SIZES = st.one_of(st.integers(-5, 400), st.floats(-5, 400, allow_nan=False))


@FUZZ
@given(index=st.integers(0, 50), keypoint=st.integers(0, 16), x=COORDINATES, y=COORDINATES,
       v=st.sampled_from([0, 1, 2, 0.0, 1.0, 2.0]), box=st.tuples(COORDINATES, COORDINATES,
                                                                     SIZES, SIZES))
def test_valid_annotation_records_load_unchanged(tmp_path, index, keypoint, x, y, v, box):
    ann = copy.deepcopy(ANNOTATIONS)
    record = ann['annotations'][index % len(ann['annotations'])]
    if 'keypoints' in record:
        record['keypoints'][3 * keypoint:3 * keypoint + 3] = [x, y, v]
    record['bbox'] = list(box)
    _loads_as_stock(tmp_path, ann)


@FUZZ
@given(picks=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 3), COORDINATES,
                                COORDINATES, st.floats(1, 400), st.floats(1, 400),
                                st.floats(0, 1)), min_size=1, max_size=30))
def test_valid_detection_records_load_unchanged(tmp_path, picks):
    image_ids = [image['id'] for image in ANNOTATIONS['images']]
    dets = [dict(copy.deepcopy(DETECTIONS[index % len(DETECTIONS)]), image_id=image_ids[image],
                 bbox=[x, y, w, h], score=score) for index, image, x, y, w, h, score in picks]
    _loads_as_stock(tmp_path, copy.deepcopy(ANNOTATIONS), dets)
