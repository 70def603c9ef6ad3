"""Randomly damaged annotation and detection records: the data sets load them or raise our error.

Hypothesis damages a copy of the real COCO sample files (a field set to a value of another
type or a non-finite number, a key deleted, a record repeated) and builds the real data set
classes on them. Each case must either load (the damage was harmless or dropped with a logged
count) or raise one of our explained errors (DatasetInputError / DatasetFileNotFoundError),
never a bare KeyError, TypeError or ValueError from deep inside the stock loaders.
"""
import copy
import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


def _build(tmp_path, ann, dets=None):
    ann_path = tmp_path / 'ann.json'
    ann_path.write_text(json.dumps(ann))
    kwargs = dict(ann_file=str(ann_path), data_prefix=dict(img=str(COCO_DIR)))
    if dets is not None:
        det_path = tmp_path / 'dets.json'
        det_path.write_text(json.dumps(dets))
        kwargs.update(bbox_file=str(det_path), test_mode=True)
    try:
        dataset = MultiInstanceCocoDataset(**kwargs)
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
