"""``MultiInstance<Name>`` for every COCO-style data set, on MMPose's own samples."""
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from mmpose.datasets import CocoDataset
from mmpose.registry import DATASETS

from mipnet_mmpose.datasets import multi_instance_dataset as mid
from mipnet_mmpose.datasets.multi_instance_dataset import (
    MultiInstanceCocoDataset,
    multi_instance_dataset_class,
)
from mipnet_mmpose.datasets.neighbours import NEIGHBOUR_KEYS

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / 'data' / 'sample'

# (stock type, folder, annotation file): MMPose's tests/data samples bundled in data/sample.
GENERIC = [
    ('CocoWholeBodyDataset', 'coco', 'test_coco_wholebody.json'),
    ('CocoWholeBodyHandDataset', 'coco', 'test_coco_wholebody.json'),
    ('CocoWholeBodyFaceDataset', 'coco', 'test_coco_wholebody.json'),
    ('AP10KDataset', 'ap10k', 'test_ap10k.json'),
    ('AnimalPoseDataset', 'animalpose', 'test_animalpose.json'),
    ('AicDataset', 'aic', 'test_aic.json'),
    ('MpiiDataset', 'mpii', 'test_mpii.json'),
    ('OneHand10KDataset', 'onehand10k', 'test_onehand10k.json'),
    ('WFLWDataset', 'wflw', 'test_wflw.json'),
]

# The three named classes on every bundled file they read: GT training and test files, and
# a detection file.
NAMED = {
    'coco_train': ('MultiInstanceCocoDataset', dict(
        data_root=str(SAMPLE / 'coco'), ann_file='test_coco.json', data_prefix=dict(img=''))),
    'coco_det': ('MultiInstanceCocoDataset', dict(
        data_root=str(SAMPLE / 'coco'), ann_file='test_coco.json', data_prefix=dict(img=''),
        bbox_file=str(SAMPLE / 'coco' / 'test_coco_det_AP_H_56.json'), test_mode=True)),
    'coco_mini_train': ('MultiInstanceCocoDataset', dict(
        data_root=str(SAMPLE / 'coco_mini'), ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'))),
    'coco_mini_val': ('MultiInstanceCocoDataset', dict(
        data_root=str(SAMPLE / 'coco_mini'), ann_file='annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='val2017/'), test_mode=True)),
    'crowdpose': ('MultiInstanceCrowdPoseDataset', dict(
        data_root=str(SAMPLE / 'crowdpose'), ann_file='test_crowdpose.json',
        data_prefix=dict(img=''))),
    'ochuman': ('MultiInstanceOCHumanDataset', dict(
        data_root=str(SAMPLE / 'ochuman'), ann_file='test_ochuman.json', data_prefix=dict(img=''),
        test_mode=True)),
}


def build(stock_type: str, folder: str, ann_file: str, **kwargs):
    return DATASETS.build(dict(type='MultiInstance' + stock_type, data_root=str(SAMPLE / folder),
                               ann_file=ann_file, data_prefix=dict(img=''), pipeline=[],
                               **kwargs))


def expected_neighbours(ann_file: Path, sample_ids: list) -> dict:
    """Each sample's neighbours, read from the annotation file itself.

    The neighbours of a sample are the other samples of its image with a labelled keypoint
    (v > 0), nearest first by the squared distance between box centres (the box as a sample
    holds it: [x, y, x + w, y + h] clipped to the image, float32), ties in sample order.

    Returns:
        dict: sample id -> ``neighbour_bboxes`` (M, 4), ``neighbour_keypoints`` (M, K, 2)
        and ``neighbour_keypoints_visible`` (M, K), float32
    """
    raw = json.loads(ann_file.read_text())
    sizes = {img['id']: (img['width'], img['height']) for img in raw['images']}
    anns = {ann['id']: ann for ann in raw['annotations']}
    fields = {}
    for ann_id in sample_ids:
        ann = anns[ann_id]
        (x, y, w, h), (img_w, img_h) = ann['bbox'], sizes[ann['image_id']]
        box = np.clip(np.array([x, y, x + w, y + h], np.float32),
                      0, np.array([img_w - 1, img_h - 1] * 2, np.float32))
        kpt = np.array(ann['keypoints'], np.float32).reshape(-1, 3)
        fields[ann_id] = dict(image=ann['image_id'], neighbour_bboxes=box,
                              neighbour_keypoints=kpt[:, :2],
                              neighbour_keypoints_visible=np.minimum(1, kpt[:, 2]))

    def centre(ann_id):
        return fields[ann_id]['neighbour_bboxes'].astype(np.float64).reshape(2, 2).mean(axis=0)

    expected = {}
    for own in sample_ids:
        others = [i for i in sample_ids if i != own and fields[i]['image'] == fields[own]['image']
                  and (fields[i]['neighbour_keypoints_visible'] > 0).any()]
        # sorted() is stable: equal distances keep the sample order.
        nearest = sorted(others, key=lambda i: ((centre(i) - centre(own))**2).sum())
        expected[own] = {
            key: np.stack([fields[i][key] for i in nearest]) if nearest else
            np.zeros((0, ) + fields[own][key].shape, np.float32)
            for key in NEIGHBOUR_KEYS}
    return expected


@pytest.mark.parametrize('name', sorted(NAMED))
def test_named_classes_are_generic_and_samples_hold_the_nearest_other_persons(name):
    assert MultiInstanceCocoDataset is multi_instance_dataset_class(CocoDataset)
    assert MultiInstanceCocoDataset.__mro__[1:3] == (mid.MultiInstanceDatasetMixin, CocoDataset)
    assert DATASETS.get('MultiInstanceCrowdPoseDataset') is mid.MultiInstanceCrowdPoseDataset
    cls, kwargs = NAMED[name]
    ours = getattr(mid, cls)(pipeline=[], **kwargs)
    stock = DATASETS.build(dict(type=cls[len('MultiInstance'):], pipeline=[], **kwargs))
    infos = [ours.get_data_info(i) for i in range(len(ours))]
    # The samples are the stock data set's, every stock field unchanged.
    assert len(infos) == len(stock) > 0
    for info, stock_info in zip(infos, (stock.get_data_info(i) for i in range(len(stock)))):
        assert set(info) == set(stock_info) | set(NEIGHBOUR_KEYS), name
        for key, value in stock_info.items():
            if isinstance(value, np.ndarray):
                assert info[key].dtype == value.dtype, key
                np.testing.assert_array_equal(info[key], value)
            else:
                assert info[key] == value, key
    if 'bbox_file' in kwargs:  # detections: no GT persons, so no neighbours
        assert all(info['neighbour_bboxes'].shape == (0, 4) for info in infos)
        return
    expected = expected_neighbours(Path(kwargs['data_root']) / kwargs['ann_file'],
                                   [info['id'] for info in infos])
    assert any(len(want['neighbour_bboxes']) for want in expected.values())
    for info in infos:
        for key, want in expected[info['id']].items():
            assert info[key].dtype == np.float32
            np.testing.assert_array_equal(info[key], want, err_msg=f'{name} {info["id"]} {key}')


@pytest.mark.parametrize('stock_type,folder,ann_file', GENERIC)
def test_every_coco_style_dataset_gets_its_neighbours(stock_type, folder, ann_file):
    dataset = build(stock_type, folder, ann_file)
    stock = DATASETS.build(dict(type=stock_type, data_root=str(SAMPLE / folder),
                                ann_file=ann_file, data_prefix=dict(img=''), pipeline=[]))
    assert len(dataset) == len(stock) > 0
    k = dataset.metainfo['num_keypoints']
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    by_image = {}
    for info, stock_info in zip(infos, (stock.get_data_info(i) for i in range(len(stock)))):
        # The stock fields unchanged, the neighbours added with the data set's K.
        for key, value in stock_info.items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(info[key], value)
        m = info['neighbour_keypoints'].shape[0]
        assert info['neighbour_keypoints'].shape == (m, k, 2)
        assert info['neighbour_keypoints_visible'].shape == (m, k)
        assert info['neighbour_bboxes'].shape == (m, 4)
        by_image.setdefault(info['img_id'], []).append(info)
    # A neighbour is another labelled instance of the same image.
    for group in by_image.values():
        labelled = [g for g in group if np.any(g['keypoints_visible'] > 0)]
        for info in group:
            others = [g for g in labelled if g is not info]
            assert info['neighbour_bboxes'].shape[0] == len(others)
            for box in info['neighbour_bboxes']:
                assert any(np.allclose(box, g['bbox'][0]) for g in others)


def test_some_generic_sample_has_neighbours_and_the_class_pickles():
    dataset = build('AicDataset', 'aic', 'test_aic.json')
    assert max(dataset.get_data_info(i)['neighbour_bboxes'].shape[0]
               for i in range(len(dataset))) >= 2
    assert type(pickle.loads(pickle.dumps(dataset))) is type(dataset)
    # Made on demand in a module lookup (as a fresh process unpickling one would).
    assert mid.MultiInstanceAP10KDataset is DATASETS.get('MultiInstanceAP10KDataset')


def test_animal_categories_are_kept_and_non_coco_style_is_refused():
    # AP-10K names species (no 'person'): its antelope (1) and its category 26 are both kept.
    raw = json.loads((SAMPLE / 'ap10k' / 'test_ap10k.json').read_text())
    dataset = build('AP10KDataset', 'ap10k', 'test_ap10k.json')
    assert {a['category_id'] for a in raw['annotations']} == {1, 26}
    assert sorted(int(dataset.get_data_info(i)['category_id']) for i in range(len(dataset))) \
        == [1, 26]
    with pytest.raises(TypeError, match='BaseCocoStyleDataset'):
        multi_instance_dataset_class(dict)
