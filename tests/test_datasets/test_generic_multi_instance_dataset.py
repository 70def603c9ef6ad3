"""``MultiInstance<Name>`` for every COCO-style data set, on MMPose's own samples."""
import hashlib
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

REPO = Path(__file__).resolve().parents[2]
SAMPLE = Path('data') / 'sample'

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

# The data infos of the hand-written classes before they became MultiInstance<Name>
# (tests/data/multi_instance_data_infos_pre_generic.json: a digest per sample).
PRE_GENERIC = {
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


def digest(info: dict) -> str:
    """Every field of a data info: name, dtype, shape and bytes of arrays, repr of others."""
    h = hashlib.sha256()
    for key in sorted(info):
        value = info[key]
        h.update(key.encode())
        if isinstance(value, np.ndarray):
            h.update(str(value.dtype).encode())
            h.update(str(value.shape).encode())
            h.update(np.ascontiguousarray(value).tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()[:16]


def build(stock_type: str, folder: str, ann_file: str, **kwargs):
    return DATASETS.build(dict(type='MultiInstance' + stock_type, data_root=str(SAMPLE / folder),
                               ann_file=ann_file, data_prefix=dict(img=''), pipeline=[],
                               **kwargs))


@pytest.fixture(autouse=True)
def _at_repo(monkeypatch):
    # The stored digests hold the relative image paths.
    monkeypatch.chdir(REPO)


def test_hand_written_classes_are_generic_and_load_identically():
    assert MultiInstanceCocoDataset is multi_instance_dataset_class(CocoDataset)
    assert MultiInstanceCocoDataset.__mro__[1:3] == (mid.MultiInstanceDatasetMixin, CocoDataset)
    assert DATASETS.get('MultiInstanceCrowdPoseDataset') is mid.MultiInstanceCrowdPoseDataset
    stored = json.loads(
        (REPO / 'tests/data/multi_instance_data_infos_pre_generic.json').read_text())
    assert sorted(stored) == sorted(PRE_GENERIC)
    for name, (cls, kwargs) in PRE_GENERIC.items():
        dataset = getattr(mid, cls)(pipeline=[], **kwargs)
        assert [digest(dataset.get_data_info(i)) for i in range(len(dataset))] == stored[name], name


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
        m = info['neighbor_keypoints'].shape[0]
        assert info['neighbor_keypoints'].shape == (m, k, 2)
        assert info['neighbor_keypoints_visible'].shape == (m, k)
        assert info['neighbor_bboxes'].shape == (m, 4)
        by_image.setdefault(info['img_id'], []).append(info)
    # A neighbour is another labelled instance of the same image.
    for group in by_image.values():
        labelled = [g for g in group if np.any(g['keypoints_visible'] > 0)]
        for info in group:
            others = [g for g in labelled if g is not info]
            assert info['neighbor_bboxes'].shape[0] == len(others)
            for box in info['neighbor_bboxes']:
                assert any(np.allclose(box, g['bbox'][0]) for g in others)


def test_some_generic_sample_has_neighbours_and_the_class_pickles():
    dataset = build('AicDataset', 'aic', 'test_aic.json')
    assert max(dataset.get_data_info(i)['neighbor_bboxes'].shape[0]
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
