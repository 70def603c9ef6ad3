"""Damaged values in real sample files: a clear error naming file, ids and field, or a logged drop.

One field of a copy of a bundled annotation, detection or image file is damaged at a time,
as the rows of issue 17 (and the annotation rows of issue 14) describe.
"""
import json
import shutil

import numpy as np
import pytest
from mmpose.datasets import CocoDataset
from mmpose.evaluation.metrics import CocoMetric

from mipnet_mmpose.datasets.input_checks import AnnotationFileError, UndecodableImageError
from mipnet_mmpose.evaluation.metrics import MultiInstanceCocoMetric
from tests.test_datasets.test_input_checks import (
    COCO_ANN,
    COCO_DETS,
    COCO_DIR,
    det_dataset,
    gt_dataset,
    infos,
    logged,  # noqa: F401 (fixture)
    one,
    read,
    write,
)

# The sample's annotation 230195 has 17 labelled keypoints.
VICTIM = 230195


def _damage_keypoint(tmp_path, index: int, value):
    ann = read(COCO_ANN)
    for a in ann['annotations']:
        if a['id'] == VICTIM:
            a['keypoints'][index] = value
    return write(tmp_path / 'test_coco.json', ann)


@pytest.mark.parametrize('index, value, field', [
    (2, float('nan'), r'keypoint 0 has visibility nan'),
    (5, 3, r'keypoint 1 has visibility 3, expected 0, 1 or 2'),
    (0, float('inf'), r'keypoint 0 has x, y = inf'),
    (4, float('nan'), r'keypoint 1 has x, y = .*, nan'),
])
def test_non_finite_or_invalid_keypoints_are_an_error(tmp_path, index, value, field):
    path = _damage_keypoint(tmp_path, index, value)
    with pytest.raises(AnnotationFileError,
                       match=rf'(?s){path.name}.*`ann_file`.*annotation id {VICTIM}: '
                       rf'`keypoints` of {field}.*NaN weights'):
        gt_dataset(path)


def test_duplicate_annotation_ids_are_an_error(tmp_path):
    ann = read(COCO_ANN)
    ann['annotations'][1]['id'] = ann['annotations'][0]['id']
    ann['annotations'][3]['id'] = ann['annotations'][2]['id']
    path = write(tmp_path / 'test_coco.json', ann)
    first, third = ann['annotations'][0]['id'], ann['annotations'][2]['id']
    with pytest.raises(AnnotationFileError,
                       match=rf'(?s)test_coco\.json.*repeats annotation ids \(field `id`\).*'
                       rf'{min(first, third)}.*2 annotation\(s\) would silently replace'):
        gt_dataset(path)
    # The metric refuses it too (it would evaluate 2 persons fewer).
    with pytest.raises(AnnotationFileError, match='repeats annotation ids'):
        MultiInstanceCocoMetric(ann_file=str(path))


def test_empty_annotation_list_is_an_error(tmp_path):
    path = write(tmp_path / 'test_coco.json', dict(read(COCO_ANN), annotations=[]))
    with pytest.raises(AnnotationFileError, match=r'(?s)test_coco\.json.*empty `annotations`'):
        gt_dataset(path)


def test_other_categories_are_skipped_with_a_count(tmp_path, logged):  # noqa: F811
    ann = read(COCO_ANN)
    ann['categories'].append(dict(id=18, name='dog', supercategory='animal'))
    kinds = {}
    for a, category in zip(ann['annotations'][:3], (18, 2, 18)):
        a['category_id'] = category
        kinds[a['id']] = category
    path = write(tmp_path / 'test_coco.json', ann)
    dataset = gt_dataset(path)
    message = one(logged, 'not persons')
    assert '3 annotation(s)' in message and '2 of category 18 (dog)' in message
    assert '1 of category 2 (not declared)' in message
    ids = {info['id'] for info in infos(dataset)}
    assert ids and not ids & set(kinds)
    # No neighbour of another category either.
    clean = gt_dataset(write(tmp_path / 'clean.json', dict(
        read(COCO_ANN), annotations=[a for a in read(COCO_ANN)['annotations']
                                     if a['id'] not in kinds])))
    assert [i['id'] for i in infos(clean)] == [i['id'] for i in infos(dataset)]
    for a, b in zip(infos(clean), infos(dataset)):
        np.testing.assert_array_equal(a['neighbour_bboxes'], b['neighbour_bboxes'])

    # The metric evaluates the persons only: its GT equals the clean file's.
    metric = MultiInstanceCocoMetric(ann_file=str(path))
    assert sorted(metric.coco.getAnnIds()) == sorted(
        CocoMetric(ann_file=str(tmp_path / 'clean.json')).coco.getAnnIds())
    assert metric.coco.getCatIds() == [1]

    for a in ann['annotations']:
        a['category_id'] = 18
    only_dogs = write(tmp_path / 'dogs.json', ann)
    with pytest.raises(AnnotationFileError, match=r'(?s)dogs\.json.*no person annotation'):
        gt_dataset(only_dogs)


@pytest.mark.parametrize('damage', ['empty', 'text', 'truncated'])
def test_broken_images_name_their_path(tmp_path, damage):
    images = tmp_path / 'images'
    shutil.copytree(COCO_DIR, images)
    victim = images / '000000040083.jpg'
    if damage == 'empty':
        victim.write_bytes(b'')
        # Empty files are found when the dataset loads.
        with pytest.raises(UndecodableImageError,
                           match=r"(?s)empty \(0 bytes\).*000000040083\.jpg.*data_prefix\['img'\]"):
            gt_dataset(COCO_ANN, data_prefix=dict(img=str(images)))
        return
    content = victim.read_bytes()
    victim.write_bytes(b'not an image\n' * 50 if damage == 'text' else content[:400])
    dataset = gt_dataset(COCO_ANN, data_prefix=dict(img=str(images)),
                         pipeline=[dict(type='LoadImage')])
    index = [i for i, info in enumerate(infos(dataset))
             if info['img_path'].endswith('000000040083.jpg')][0]
    with pytest.raises(UndecodableImageError,
                       match=rf'(?s)000000040083\.jpg` is not a decodable image.*sample {index}'
                       r".*data_prefix\['img'\]"):
        dataset[index]
    # The samples of the other images still load.
    other = [i for i, info in enumerate(infos(dataset))
             if not info['img_path'].endswith('000000040083.jpg')][0]
    assert dataset[other]['img'].ndim == 3


def test_detections_in_xyxy_or_percent_are_warned(tmp_path, logged):  # noqa: F811
    dets = read(COCO_DETS)
    as_xyxy = [dict(d, bbox=[d['bbox'][0], d['bbox'][1], d['bbox'][0] + d['bbox'][2],
                             d['bbox'][1] + d['bbox'][3]]) for d in dets]
    det_dataset(write(tmp_path / 'xyxy.json', as_xyxy))
    message = one(logged, r'looks like \[x1, y1, x2, y2\]')
    assert 'xyxy.json' in message and '`bbox_file`' in message
    percent = [dict(d, score=d['score'] * 100) for d in dets]
    det_dataset(write(tmp_path / 'percent.json', percent))
    assert 'percent.json' in one(logged, r'scores up to [\d.]+, above 1: they look like '
                                         r'percentages')
    # The real file gets neither warning.
    logged.clear()
    det_dataset(COCO_DETS)
    assert not [m for m in logged if 'look like' in m or 'looks like' in m]


def test_valid_files_load_as_before():
    """Value checks change nothing for valid files: the same samples as the stock dataset."""
    dataset = gt_dataset(COCO_ANN)
    stock = gt_dataset(COCO_ANN, cls=CocoDataset)
    assert [i['id'] for i in infos(dataset)] == [i['id'] for i in infos(stock)]
    assert len(dataset) == len(json.loads(COCO_ANN.read_text())['annotations']) - 2
