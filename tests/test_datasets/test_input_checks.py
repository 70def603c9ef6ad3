"""Bad dataset inputs fail early with an explained error, or are dropped with a logged count.

Every case breaks a copy of a real sample file in ``tmp_path`` the way real files break: cut
short, a key deleted, a keypoint array cut, a box of zero size, an image missing, a detection
on another image / of another category / with a NaN score.
"""
import json
import logging
import re
import shutil
from pathlib import Path
from typing import List

import numpy as np
import pytest
from mmengine.logging import MMLogger
from mmpose.datasets import CocoDataset

from mipnet_mmpose.datasets import (
    MultiInstanceCocoDataset,
    MultiInstanceCrowdPoseDataset,
    MultiInstanceOCHumanDataset,
)
from mipnet_mmpose.datasets.input_checks import (
    AnnotationFileError,
    DatasetFileNotFoundError,
    DatasetInputError,
    DetectionFileError,
    MissingImagesError,
    check_images_exist,
    find_bad_annotations,
    is_local_path,
)

SAMPLE = Path(__file__).resolve().parents[2] / 'data' / 'sample'
COCO_DIR = SAMPLE / 'coco'
COCO_ANN = COCO_DIR / 'test_coco.json'
COCO_DETS = COCO_DIR / 'test_coco_det_AP_H_56.json'


def read(path: Path):
    return json.loads(path.read_text())


def write(path: Path, obj) -> Path:
    # json.dumps writes NaN / Infinity literals, as detectors' float dumps do.
    path.write_text(json.dumps(obj))
    return path


def gt_dataset(ann_file: Path, cls=MultiInstanceCocoDataset, **kwargs):
    """A GT top-down dataset on ``ann_file`` with the real sample images."""
    kwargs.setdefault('data_prefix', dict(img=str(COCO_DIR)))
    return cls(data_root=str(ann_file.parent), ann_file=ann_file.name, **kwargs)


def det_dataset(bbox_file: Path, cls=MultiInstanceCocoDataset, ann_file: Path = COCO_ANN):
    return cls(ann_file=str(ann_file), data_prefix=dict(img=str(COCO_DIR)),
               bbox_file=str(bbox_file), test_mode=True)


def infos(dataset) -> List[dict]:
    return [dataset.get_data_info(i) for i in range(len(dataset))]


@pytest.fixture
def logged():
    """Messages logged to the current MMLogger (it does not propagate to caplog)."""
    messages = []

    class Collect(logging.Handler):

        def emit(self, record):
            messages.append(record.getMessage())

    logger = MMLogger.get_current_instance()
    handler = Collect(level=logging.DEBUG)
    logger.addHandler(handler)
    yield messages
    logger.removeHandler(handler)


def one(messages: List[str], pattern: str) -> str:
    found = [m for m in messages if re.search(pattern, m)]
    assert len(found) == 1, (pattern, messages)
    return found[0]


# ---------------------------------------------------------------------------------------------
# Annotation files


def test_missing_ann_file_names_path_and_fields(tmp_path):
    with pytest.raises(DatasetFileNotFoundError,
                       match=r'(?s)nope\.json.*`ann_file`.*data_root') as info:
        MultiInstanceCocoDataset(data_root=str(tmp_path), ann_file='nope.json')
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path) in str(info.value)


@pytest.mark.parametrize('cls, source', [
    (MultiInstanceCocoDataset, COCO_ANN),
    (MultiInstanceCrowdPoseDataset, SAMPLE / 'crowdpose' / 'test_crowdpose.json'),
])
def test_truncated_ann_file_names_file_position_and_cause(tmp_path, cls, source):
    text = source.read_text()
    broken = tmp_path / source.name
    broken.write_text(text[:len(text) // 2])
    with pytest.raises(AnnotationFileError,
                       match=r'(?s)' + re.escape(str(broken)) + r'.*`ann_file`.*\(line \d+ '
                       r'column \d+, char (\d+) of \1\); the text ends before the JSON does, '
                       r'so the file is truncated') as info:
        gt_dataset(broken, cls=cls)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize('key', ['annotations', 'images'])
def test_ann_file_without_key(tmp_path, key):
    ann = read(COCO_ANN)
    del ann[key]
    broken = write(tmp_path / 'test_coco.json', ann)
    with pytest.raises(AnnotationFileError,
                       match=re.escape(str(broken)) + rf'.*`ann_file`.* no `{key}` key'):
        gt_dataset(broken)


def test_detection_file_passed_as_ann_file(tmp_path):
    with pytest.raises(AnnotationFileError, match=r'holds a list.*pass it as `bbox_file`'):
        gt_dataset(write(tmp_path / 'dets.json', read(COCO_DETS)))


@pytest.mark.parametrize('cut', [1, 3])
def test_keypoints_of_wrong_length(tmp_path, cut):
    # Cutting 1 value breaks the stock reshape; cutting 3 passed it silently with K = 16.
    ann = read(COCO_ANN)
    target = next(a for a in ann['annotations'] if a['id'] == 442619)
    target['keypoints'] = target['keypoints'][:-cut]
    broken = write(tmp_path / 'test_coco.json', ann)
    with pytest.raises(AnnotationFileError,
                       match=rf'(?s)^1 annotation\(s\) in `{re.escape(str(broken))}` '
                       rf'\(config field `ann_file`\).*annotation id 442619: `keypoints` has '
                       rf'length {51 - cut}, expected 51 \(17 keypoints'):
        gt_dataset(broken)


def test_annotation_rule_finds_every_bad_annotation_and_says_why():
    """The one (vectorised) rule: each damaged annotation of a real file, with its message."""
    annotations = read(SAMPLE / 'coco_mini' / 'annotations' / 'person_keypoints_train2017.json'
                       )['annotations']
    damaged = {  # index: (field, position, value, message), as real files break
        3: ('keypoints', 5, float('nan'), 'keypoint 1 has visibility nan'),
        7: ('keypoints', 2, 3, 'keypoint 0 has visibility 3, expected 0, 1 or 2'),
        11: ('keypoints', 8, True, 'keypoint 2 has visibility True'),
        13: ('keypoints', 0, '12', "keypoint 0 has x, y = '12', "),
        17: ('keypoints', 1, None, 'keypoint 0 has x, y = '),
        19: ('bbox', 2, float('inf'), '`bbox` is ['),
        23: ('bbox', 0, False, '`bbox` is [False, '),
        29: ('keypoints', 11, 1.5, 'keypoint 3 has visibility 1.5'),
        31: ('keypoints', 0, 10**400, 'keypoint 0 has x, y = 1000'),  # beyond float64
    }
    for index, (key, pos, value, _) in damaged.items():
        annotations[index][key][pos] = value
    annotations[37]['keypoints'] = annotations[37]['keypoints'][:-3]
    annotations[39]['keypoints'] = 'none'
    annotations[41]['bbox'] = tuple(annotations[41]['bbox'])  # fine: a tuple is accepted
    annotations[43]['keypoints'][2] = 2.0  # fine: a float flag of value 2
    del annotations[47]['bbox']  # skipped by the stock parser: not checked
    problems = find_bad_annotations(annotations, 17)
    assert list(problems) == sorted(set(damaged) | {37, 39})
    for index, (*_, message) in damaged.items():
        assert problems[index].startswith(f"annotation id {annotations[index]['id']}: ")
        assert message in problems[index], problems[index]
    assert 'has length 48, expected 51 (17 keypoints x (x, y, v))' in problems[37]
    assert '`keypoints` is a str, expected a list' in problems[39]
    # Undamaged annotations pass; the keypoint number decides the length.
    assert find_bad_annotations(annotations[50:], 17) == {}
    assert list(find_bad_annotations(annotations[50:60], 14)) == list(range(10))


def test_person_box_not_four_finite_numbers(tmp_path):
    # A NaN box passed the stock validity test and made a sample with a NaN crop.
    ann = read(COCO_ANN)
    ann['annotations'][1]['bbox'][2] = float('nan')
    ann['annotations'][2]['bbox'] = ann['annotations'][2]['bbox'][:3]
    with pytest.raises(AnnotationFileError,
                       match=r'^2 annotation\(s\) .*annotation id 198196: `bbox` is \[.*nan.*\], '
                       r'expected four finite numbers \[x, y, w, h\], annotation id 230195'):
        gt_dataset(write(tmp_path / 'test_coco.json', ann))


def test_annotation_file_of_another_keypoint_layout():
    # COCO (17 keypoints) read as CrowdPose (14): every parsable person is listed in one error.
    with pytest.raises(AnnotationFileError,
                       match=r'^14 annotation\(s\) .* do not fit MultiInstanceCrowdPoseDataset '
                       r'\(14 keypoints\): annotation id 442619: `keypoints` has length 51, '
                       r'expected 42'):
        gt_dataset(COCO_ANN, cls=MultiInstanceCrowdPoseDataset)


def test_persons_with_box_of_no_area_are_skipped_and_logged(tmp_path, logged):
    ann = read(COCO_ANN)
    boxes = {a['id']: a['bbox'] for a in ann['annotations']}
    boxes[442619][2] = 0  # zero width, alone in its image
    boxes[198196][3] = -5  # negative height, next to 230195
    broken = write(tmp_path / 'test_coco.json', ann)
    dataset = gt_dataset(broken)
    message = one(logged, 'non-positive width')
    assert 'skipped 2 person(s)' in message and str(broken) in message
    assert 'annotation ids 442619, 198196' in message
    # 508900 and 1202706 (no keypoints) are dropped as before, not counted as box problems.
    by_id = {info['id']: info for info in infos(dataset)}
    assert sorted(by_id) == sorted(
        [230195, 460541, 488308, 1717641, 1724673, 437295, 467657, 531914, 533949, 543117])
    # The skipped person is no neighbour either; the stock dataset agrees on the samples.
    assert by_id[230195]['neighbour_bboxes'].shape == (0, 4)
    stock = gt_dataset(broken, cls=CocoDataset)
    assert [i['id'] for i in infos(stock)] == [i['id'] for i in infos(dataset)]


def test_missing_image_of_a_kept_sample(tmp_path):
    images = tmp_path / 'images'
    images.mkdir()
    for path in COCO_DIR.glob('*.jpg'):
        if path.name != '000000040083.jpg':
            shutil.copy(path, images)
    with pytest.raises(MissingImagesError,
                       match=r"(?s)^1 of the 4 images .*test_coco\.json.* 000000040083\.jpg "
                       r"\(first missing path: .*data_prefix\['img'\].*data_root") as info:
        MultiInstanceCocoDataset(data_root=str(COCO_DIR), ann_file='test_coco.json',
                                 data_prefix=dict(img=str(images)))
    assert isinstance(info.value, FileNotFoundError)
    assert str(images) in str(info.value)


def test_images_of_filtered_persons_may_be_absent():
    root = SAMPLE / 'coco_mini'
    ann = read(root / 'annotations' / 'person_keypoints_train2017.json')
    on_disk = {p.name for p in (root / 'train2017').glob('*.jpg')}
    absent = {img['id'] for img in ann['images'] if img['file_name'] not in on_disk}
    assert len(absent) == 52  # listed, not on disk, no person with keypoints
    dataset = MultiInstanceCocoDataset(data_root=str(root),
                                       ann_file='annotations/person_keypoints_train2017.json',
                                       data_prefix=dict(img='train2017/'))
    assert len(dataset) == 86
    assert not {info['img_id'] for info in infos(dataset)} & absent


def test_remote_image_paths_are_not_checked(tmp_path):
    assert not is_local_path('s3://bucket/a.jpg') and is_local_path(str(tmp_path))
    assert is_local_path('file:///a.jpg') and is_local_path('C:\\data\\a.jpg')
    check_images_exist(['s3://bucket/a.jpg', 'petrel://b/c.jpg'], 'ann.json', None, 's3://bucket')
    with pytest.raises(MissingImagesError, match=r'^1 of the 2 images'):
        check_images_exist(['s3://bucket/a.jpg', str(tmp_path / 'a.jpg')], 'ann.json', None, '')


# ---------------------------------------------------------------------------------------------
# Detection files


def dets_with(tmp_path, edit) -> tuple:
    """Write the sample detections with ``edit(dets)`` applied; return (file, dets)."""
    dets = read(COCO_DETS)
    edit(dets)
    return write(tmp_path / 'dets.json', dets), dets


def assert_samples_equal_stock_on(dataset, kept: list, tmp_path):
    """The samples equal the stock dataset's on a file holding exactly ``kept``."""
    stock = CocoDataset(ann_file=str(COCO_ANN), data_prefix=dict(img=str(COCO_DIR)),
                        bbox_file=str(write(tmp_path / 'expected.json', kept)), test_mode=True)
    ours, theirs = infos(dataset), infos(stock)
    assert len(ours) == len(theirs) == len(kept)
    for a, b in zip(ours, theirs):
        assert a['img_id'] == b['img_id'] and a['id'] == b['id']
        np.testing.assert_array_equal(a['bbox'], b['bbox'])
        np.testing.assert_array_equal(a['bbox_score'], b['bbox_score'])


def test_valid_detection_file_keeps_every_box(logged):
    dataset = det_dataset(COCO_DETS)
    assert len(dataset) == 118
    assert one(logged, 'boxes from').endswith(
        'kept 118 of 118 boxes from `' + str(COCO_DETS) + '`; dropped 0 non-person category, '
        '0 unknown image id, 0 non-finite score, 0 non-finite box, '
        '0 non-positive width or height.')


def test_missing_bbox_file(tmp_path):
    with pytest.raises(DatasetFileNotFoundError,
                       match=r'(?s)missing\.json.*`bbox_file`.*not joined with `data_root`'):
        det_dataset(tmp_path / 'missing.json')


def test_truncated_bbox_file(tmp_path):
    text = COCO_DETS.read_text()
    broken = tmp_path / 'dets.json'
    # Cut inside a string: the parser fails at the string's start, not at the end of the text.
    broken.write_text(text[:text.rindex('"score"') + 4])
    with pytest.raises(DetectionFileError,
                       match=re.escape(str(broken)) + r'.*`bbox_file`.*Unterminated string .*'
                       r'\(line \d+ column \d+, char \d+ of \d+\); the text ends before the '
                       r'JSON does, so the file is truncated'):
        det_dataset(broken)


def test_empty_bbox_file(tmp_path):
    with pytest.raises(DetectionFileError,
                       match=r'dets\.json` \(config field `bbox_file`\) holds no detections'):
        det_dataset(write(tmp_path / 'dets.json', []))


def test_bbox_file_of_lists(tmp_path):
    rows = [[d['image_id'], *d['bbox'], d['score']] for d in read(COCO_DETS)]
    with pytest.raises(DetectionFileError,
                       match=r'dets\.json` \(config field `bbox_file`\): 118 of 118 records are '
                       r'not detections \{"image_id", "bbox": \[x, y, w, h\], "score"\}.*: '
                       r'record 0 is a list'):
        det_dataset(write(tmp_path / 'dets.json', rows))


def test_bbox_file_entry_without_score(tmp_path):
    path, _ = dets_with(tmp_path, lambda dets: dets[5].pop('score'))
    with pytest.raises(DetectionFileError, match=r'1 of 118 records are not .*: record 5 .* lacks '
                       r'`score`'):
        det_dataset(path)


def test_annotation_file_passed_as_bbox_file(tmp_path):
    with pytest.raises(DetectionFileError, match=r'holds a dict\. .*pass it as `ann_file`'):
        det_dataset(COCO_ANN)


def test_detections_on_unknown_images_are_dropped(tmp_path, logged):
    def edit(dets):
        for i in (0, 40, 41):
            dets[i]['image_id'] = 999999

    path, dets = dets_with(tmp_path, edit)
    dataset = det_dataset(path)
    message = one(logged, 'boxes from')
    assert 'kept 115 of 118 boxes' in message and '3 unknown image id' in message
    assert_samples_equal_stock_on(dataset, [d for d in dets if d['image_id'] != 999999],
                                  tmp_path)


def test_detections_on_no_image_of_the_ann_file(tmp_path):
    def edit(dets):
        for det in dets:
            det['image_id'] = str(det['image_id'])  # written as strings by some tools

    path, _ = dets_with(tmp_path, edit)
    with pytest.raises(DetectionFileError,
                       match=r"(?s)None of the 118 person boxes in `.*dets\.json` \(config field "
                       r"`bbox_file`\).* annotation file `.*test_coco\.json` \(config field "
                       r"`ann_file`\): detection image ids '196141', .*; annotation image ids "
                       r"196141, .*differ only by type"):
        det_dataset(path)


def test_non_person_detections_are_filtered(tmp_path, logged):
    def edit(dets):
        dets[3]['category_id'] = 2
        dets[70]['category_id'] = 2
        del dets[10]['category_id']  # absent means person

    path, dets = dets_with(tmp_path, edit)
    dataset = det_dataset(path)
    message = one(logged, 'boxes from')
    assert 'kept 116 of 118 boxes' in message and '2 non-person category' in message
    kept = [dict(d, category_id=1) for d in dets if d.get('category_id', 1) == 1]
    assert_samples_equal_stock_on(dataset, kept, tmp_path)


def test_non_finite_scores_are_dropped(tmp_path, logged):
    def edit(dets):
        dets[7]['score'] = float('nan')
        dets[8]['score'] = float('inf')

    path, dets = dets_with(tmp_path, edit)
    assert 'NaN' in path.read_text() and 'Infinity' in path.read_text()
    dataset = det_dataset(path)
    assert 'kept 116 of 118 boxes' in one(logged, '2 non-finite score')
    assert_samples_equal_stock_on(dataset, dets[:7] + dets[9:], tmp_path)
    assert np.isfinite([info['bbox_score'] for info in infos(dataset)]).all()


def test_boxes_of_no_size_are_dropped_boxes_slightly_outside_kept(tmp_path, logged):
    def edit(dets):
        dets[0]['bbox'][2] = 0
        dets[1]['bbox'][3] = -3
        dets[2]['bbox'][1] = float('nan')
        dets[3]['bbox'][0] = -0.1  # detectors do this; clipped later

    path, dets = dets_with(tmp_path, edit)
    dataset = det_dataset(path)
    message = one(logged, 'boxes from')
    assert 'kept 115 of 118 boxes' in message
    assert '1 non-finite box, 2 non-positive width or height' in message
    assert_samples_equal_stock_on(dataset, dets[3:], tmp_path)
    assert dataset.get_data_info(0)['bbox'][0, 0] == np.float32(-0.1)


def test_no_usable_detection_left(tmp_path):
    def edit(dets):
        for det in dets:
            det['score'] = float('nan')

    path, _ = dets_with(tmp_path, edit)
    with pytest.raises(DetectionFileError, match=r'no usable person box left: 118 boxes, '
                       r'dropped 0 non-person category, 0 unknown image id, 118 non-finite'):
        det_dataset(path)


@pytest.mark.parametrize('cls, folder, ann, dets', [
    (MultiInstanceCrowdPoseDataset, 'crowdpose', 'test_crowdpose.json',
     'test_crowdpose_det_AP_40.json'),
    (MultiInstanceOCHumanDataset, 'ochuman', 'test_ochuman.json', None),
])
def test_all_three_datasets_check_their_inputs(tmp_path, cls, folder, ann, dets):
    source = SAMPLE / folder / ann
    images = tmp_path / 'images'
    images.mkdir()
    with pytest.raises(MissingImagesError, match=r'of the \d+ images'):
        cls(ann_file=str(source), data_prefix=dict(img=str(images)))
    if dets:
        broken = write(tmp_path / 'dets.json', [])
        with pytest.raises(DetectionFileError, match='holds no detections'):
            cls(ann_file=str(source), data_prefix=dict(img=str(SAMPLE / folder)),
                bbox_file=str(broken), test_mode=True)
    assert issubclass(DetectionFileError, DatasetInputError)
    assert issubclass(DatasetInputError, ValueError)
