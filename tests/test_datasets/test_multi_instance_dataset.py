"""Multi-instance datasets: neighbours of each top-down sample, on real samples."""
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from mmpose.datasets import CocoDataset
from mmpose.registry import DATASETS

from mipnet_mmpose.datasets import (
    MultiInstanceCocoDataset,
    MultiInstanceCrowdPoseDataset,
    MultiInstanceOCHumanDataset,
    count_keypoints_in_box,
    order_neighbours,
)
from mipnet_mmpose.datasets.multi_instance_dataset import NEIGHBOUR_KEYS

SAMPLE = Path(__file__).resolve().parents[2] / 'data' / 'sample'

COCO = dict(data_root=str(SAMPLE / 'coco'), ann_file='test_coco.json',
            data_prefix=dict(img=''))
CROWDPOSE = dict(data_root=str(SAMPLE / 'crowdpose'), ann_file='test_crowdpose.json',
                 data_prefix=dict(img=''))
DET_FILE = str(SAMPLE / 'coco' / 'test_coco_det_AP_H_56.json')
OCHUMAN = dict(data_root=str(SAMPLE / 'ochuman'), ann_file='test_ochuman.json',
               data_prefix=dict(img=''))


def by_id(dataset) -> dict:
    return {info['id']: info for info in (dataset.get_data_info(i) for i in range(len(dataset)))}


# ---------------------------------------------------------------------------------------------
# neighbours.py helpers


def test_count_keypoints_in_box_is_strict_and_needs_labels():
    keypoints = np.array([[[5, 5], [0, 5], [10, 5], [5, 10], [9.9, 0.1]],
                          [[5, 5], [5, 5], [50, 5], [5, 5], [5, 5]]], dtype=np.float32)
    visible = np.array([[1, 1, 1, 1, 2], [0, 1, 1, 1, 0]], dtype=np.float32)
    counts = count_keypoints_in_box(keypoints, visible, np.array([0, 0, 10, 10]))
    # Person 0: (5,5) and (9.9,0.1) inside; (0,5), (10,5), (5,10) lie on the border.
    # Person 1: two labelled keypoints at (5,5); (50,5) is outside; unlabelled ones never count.
    assert counts.tolist() == [2, 2]
    assert counts.dtype == np.int64
    empty = count_keypoints_in_box(np.zeros((0, 5, 2)), np.zeros((0, 5)), np.zeros(4))
    assert empty.shape == (0, )
    with pytest.raises(ValueError, match='keypoints_visible'):
        count_keypoints_in_box(keypoints, visible[:, :3], np.zeros(4))
    with pytest.raises(ValueError, match='box'):
        count_keypoints_in_box(keypoints, visible, np.zeros(5))


def test_order_neighbours_by_squared_centre_distance_stable_on_ties():
    # Centres: (0,0), (10,0), (-3,0), (3,0), (0,4).
    boxes = np.array([[-1, -1, 1, 1], [9, -1, 11, 1], [-4, -2, -2, 2], [2, -5, 4, 5],
                      [-1, 3, 1, 5]], dtype=np.float32)
    # Squared distances from person 0: 100, 9, 9, 16 -> persons 2 and 3 tie and keep file order.
    assert order_neighbours(boxes, 0).tolist() == [2, 3, 4, 1]
    assert order_neighbours(boxes[:1], 0).tolist() == []
    with pytest.raises(IndexError):
        order_neighbours(boxes, 5)


# ---------------------------------------------------------------------------------------------
# Datasets


def test_registered_in_mmpose_registry():
    assert DATASETS.get('MultiInstanceCocoDataset') is MultiInstanceCocoDataset
    assert DATASETS.get('MultiInstanceCrowdPoseDataset') is MultiInstanceCrowdPoseDataset
    assert DATASETS.get('MultiInstanceOCHumanDataset') is MultiInstanceOCHumanDataset


def test_ochuman_pairs_are_each_others_neighbours():
    infos = by_id(MultiInstanceOCHumanDataset(**OCHUMAN))
    assert sorted(infos) == [1, 2, 3, 4, 5]
    # Person 1 is alone in 003799.jpg: M = 0 with the right shapes and dtypes.
    lone = infos[1]
    assert lone['neighbour_keypoints'].shape == (0, 17, 2)
    assert lone['neighbour_keypoints_visible'].shape == (0, 17)
    assert lone['neighbour_bboxes'].shape == (0, 4)
    assert all(lone[k].dtype == np.float32 for k in NEIGHBOUR_KEYS)
    # 2 <-> 3 in 000817.jpg and 4 <-> 5 in 003896.jpg: each sample holds exactly its partner,
    # copied from the partner's own sample.
    for own, partner in [(2, 3), (3, 2), (4, 5), (5, 4)]:
        info, other = infos[own], infos[partner]
        assert info['neighbour_keypoints'].shape == (1, 17, 2)
        np.testing.assert_array_equal(info['neighbour_keypoints'][0], other['keypoints'][0])
        np.testing.assert_array_equal(info['neighbour_keypoints_visible'][0],
                                      other['keypoints_visible'][0])
        np.testing.assert_array_equal(info['neighbour_bboxes'][0], other['bbox'][0])


def test_coco_neighbours_sorted_nearest_first_and_invalid_persons_excluded():
    infos = by_id(MultiInstanceCocoDataset(**COCO))
    boxes = {i: info['bbox'][0].astype(np.float64) for i, info in infos.items()}
    # 000000197388.jpg holds five valid persons; 000000196141.jpg four valid ones plus 508900
    # (no keypoints); 000000040083.jpg two plus 1202706 (no keypoints).
    images = {197388: [437295, 467657, 531914, 533949, 543117],
              196141: [460541, 488308, 1717641, 1724673], 40083: [198196, 230195],
              785: [442619]}
    for ids in images.values():
        for own in ids:
            centre = boxes[own].reshape(2, 2).mean(0)
            others = [i for i in ids if i != own]
            # Expected order by plain Python, independent of order_neighbours.
            dist = {i: float(((boxes[i].reshape(2, 2).mean(0) - centre)**2).sum()) for i in others}
            expected = sorted(others, key=lambda i: dist[i])
            got = infos[own]['neighbour_bboxes']
            assert got.shape == (len(others), 4)
            if not others:
                continue
            np.testing.assert_array_equal(got, np.stack([boxes[i] for i in expected]))
            for j, i in enumerate(expected):
                np.testing.assert_array_equal(infos[own]['neighbour_keypoints'][j],
                                              infos[i]['keypoints'][0])
    # The persons without keypoints are no samples and no neighbours.
    assert 508900 not in infos and 1202706 not in infos


def test_crowdpose_14_keypoints_and_unlabelled_person_excluded():
    infos = by_id(MultiInstanceCrowdPoseDataset(**CROWDPOSE))
    # 106848.jpg: 123803 and 147481 valid, 131039 has no keypoints; 103319.jpg: two valid.
    assert sorted(infos) == [123803, 127068, 129014, 147481]
    for own, partner in [(123803, 147481), (147481, 123803), (127068, 129014),
                         (129014, 127068)]:
        assert infos[own]['neighbour_keypoints'].shape == (1, 14, 2)
        assert infos[own]['neighbour_keypoints_visible'].shape == (1, 14)
        np.testing.assert_array_equal(infos[own]['neighbour_keypoints'][0],
                                      infos[partner]['keypoints'][0])


def authors_nearest(ann_file: Path) -> dict:
    """The nearest other person of every person by the authors' rule, in plain Python
    (lib/dataset/crowdpose_lambda.py lines 184-230 of rawalkhirodkar/MIPNet): the
    candidates are the non-crowd persons with a non-zero keypoint entry whose box,
    cleaned as theirs (x2 = min(W - 1, x1 + w - 1)), is not empty, whatever their
    num_keypoints; the distance is between the cleaned boxes' centres; the first person
    at the smallest distance wins. None for a person alone."""
    data = json.loads(ann_file.read_text())
    sizes = {image['id']: (image['width'], image['height']) for image in data['images']}
    centres = defaultdict(list)
    for ann in data['annotations']:
        if ann['iscrowd'] or max(ann['keypoints']) == 0:
            continue
        width, height = sizes[ann['image_id']]
        x, y, w, h = ann['bbox']
        x1, y1 = max(0, x), max(0, y)
        x2, y2 = min(width - 1, x1 + max(0, w - 1)), min(height - 1, y1 + max(0, h - 1))
        if x2 >= x1 and y2 >= y1:
            centres[ann['image_id']].append((ann['id'], (x1 + x2) / 2, (y1 + y2) / 2))
    nearest = {}
    for persons in centres.values():
        for own, cx, cy in persons:
            best, best_dist = None, 1e10
            for other, ox, oy in persons:
                dist = (cx - ox)**2 + (cy - oy)**2
                if other != own and dist < best_dist:
                    best, best_dist = other, dist
            nearest[own] = best
    return nearest


def crowdpose_with_a_head_and_neck_person(root: Path) -> Path:
    """The CrowdPose sample with person 131039 (nothing labelled, a small box by the head of
    123803) given only a head and a neck, as 888 persons of the official CrowdPose val file:
    its num_keypoints stays 0, as CrowdPose counts only the 12 body keypoints."""
    data = json.loads((SAMPLE / 'crowdpose' / 'test_crowdpose.json').read_text())
    person = next(a for a in data['annotations'] if a['id'] == 131039)
    assert max(person['keypoints']) == 0 and person['num_keypoints'] == 0
    person['keypoints'][12 * 3:14 * 3] = [126, 104, 1, 126, 122, 1]  # head, neck
    for image in data['images']:
        (root / image['file_name']).symlink_to(SAMPLE / 'crowdpose' / image['file_name'])
    ann_file = root / 'head_and_neck.json'
    ann_file.write_text(json.dumps(data))
    return ann_file


@pytest.mark.parametrize('variant', ['sample', 'head_and_neck'])
def test_crowdpose_neighbours_are_the_authors_candidates(tmp_path, variant):
    """Samples keep MMPose's filter (num_keypoints > 0); neighbours are every non-crowd
    person with a labelled keypoint, as the authors': their nearest is ours."""
    ann_file = SAMPLE / 'crowdpose' / 'test_crowdpose.json' if variant == 'sample' \
        else crowdpose_with_a_head_and_neck_person(tmp_path)
    # The authors' slot rule after the crop, without augmentation.
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                dict(type='TopdownAffine', input_size=(192, 256)),
                dict(type='BuildInstanceSlots', num_instances=2, selection='authors',
                     min_keypoints=4)]
    dataset = MultiInstanceCrowdPoseDataset(data_root=str(ann_file.parent),
                                            ann_file=ann_file.name, data_prefix=dict(img=''),
                                            pipeline=pipeline)
    infos = by_id(dataset)
    assert sorted(infos) == [123803, 127068, 129014, 147481]
    raw = json.loads(ann_file.read_text())['annotations']
    # The sample's boxes lie inside their images: MMPose's xyxy box is the raw one.
    xyxy = {a['id']: np.array(a['bbox'][:2] + [a['bbox'][0] + a['bbox'][2],
                                               a['bbox'][1] + a['bbox'][3]]) for a in raw}

    def persons_of(boxes):
        return [next(i for i, b in xyxy.items() if np.allclose(box, b, atol=1e-3))
                for box in boxes]

    bboxes = next(key for key in NEIGHBOUR_KEYS if key.endswith('bboxes'))
    nearest = authors_nearest(ann_file)
    for own, info in infos.items():
        got = persons_of(info[bboxes])
        assert (got[0] if got else None) == nearest[own], own

    # 123803's λ = 1 slot: with the head-and-neck person its nearest, the authors' rule
    # gives the slot to 123803 itself (2 labelled keypoints in the crop, fewer than 4).
    neighbours, slot = ([131039, 147481], -1) if variant == 'head_and_neck' \
        else ([147481], 0)
    assert persons_of(infos[123803][bboxes]) == neighbours
    index = next(i for i in range(len(dataset)) if dataset.get_data_info(i)['id'] == 123803)
    assert dataset[index]['instance_sources'].tolist() == [-1, slot]


def test_other_fields_equal_the_stock_dataset():
    ours = MultiInstanceCocoDataset(**COCO)
    stock = CocoDataset(**COCO)
    assert len(ours) == len(stock) == 12
    for i in range(len(stock)):
        a, b = ours.get_data_info(i), stock.get_data_info(i)
        assert set(a) - set(b) == set(NEIGHBOUR_KEYS)
        for key in b:
            if isinstance(b[key], np.ndarray):
                np.testing.assert_array_equal(a[key], b[key])
            else:
                assert a[key] == b[key], key


def test_detection_and_bottomup_modes_get_no_neighbours():
    det = MultiInstanceCocoDataset(**COCO, bbox_file=DET_FILE, test_mode=True)
    stock_det = CocoDataset(**COCO, bbox_file=DET_FILE, test_mode=True)
    assert len(det) == len(stock_det) == 118
    for i in (0, 57, 117):
        info, stock = det.get_data_info(i), stock_det.get_data_info(i)
        np.testing.assert_array_equal(info['bbox'], stock['bbox'])
        assert info['neighbour_keypoints'].shape == (0, 17, 2)
        assert info['neighbour_keypoints_visible'].shape == (0, 17)
        assert info['neighbour_bboxes'].shape == (0, 4)

    bottomup = MultiInstanceCrowdPoseDataset(**CROWDPOSE, data_mode='bottomup')
    stock_bu = DATASETS.build(dict(type='CrowdPoseDataset', **CROWDPOSE, data_mode='bottomup'))
    assert len(bottomup) == len(stock_bu) == 2
    for i in range(2):
        info, stock = bottomup.get_data_info(i), stock_bu.get_data_info(i)
        assert info['neighbour_keypoints'].shape == (0, 14, 2)
        np.testing.assert_array_equal(info['keypoints'], stock['keypoints'])


# ---------------------------------------------------------------------------------------------
# The full training pipeline through a real data loader

INPUT_W, INPUT_H, HEAT_W, HEAT_H, N = 48, 64, 12, 16, 2
META_KEYS = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape', 'img_shape',
             'input_size', 'input_center', 'input_scale', 'flip', 'flip_direction', 'flip_indices',
             'raw_ann_info', 'dataset_name')


def train_pipeline() -> list:
    codec = dict(type='MultiInstanceCodec',
                 encoder=dict(type='MSRAHeatmap', input_size=(INPUT_W, INPUT_H),
                              heatmap_size=(HEAT_W, HEAT_H), sigma=2))
    return [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale'),
        dict(type='RandomFlip', direction='horizontal'),
        dict(type='RandomHalfBody'),
        dict(type='RandomBBoxTransform'),
        dict(type='TopdownAffine', input_size=(INPUT_W, INPUT_H)),
        dict(type='BuildInstanceSlots', num_instances=N),
        dict(type='GenerateTarget', encoder=codec),
        # instance_sources packed as meta information, for the check below.
        dict(type='PackPoseInputs', meta_keys=META_KEYS + ('instance_sources', )),
    ]


@pytest.mark.parametrize('dataset_type, paths, num_samples, k', [
    ('MultiInstanceCocoDataset', COCO, 12, 17),
    ('MultiInstanceCrowdPoseDataset', CROWDPOSE, 4, 14),
    ('MultiInstanceOCHumanDataset', OCHUMAN, 5, 17),
])
def test_training_batches_through_runner_dataloader(dataset_type, paths, num_samples, k):
    np.random.seed(0)
    loader = Runner.build_dataloader(dict(
        batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type=dataset_type, **paths, pipeline=train_pipeline())))
    seen = with_neighbour = 0
    for batch in loader:
        assert len(batch['inputs']) == len(batch['data_samples'])
        for inputs, sample in zip(batch['inputs'], batch['data_samples']):
            assert inputs.shape == (3, INPUT_H, INPUT_W) and inputs.dtype == torch.uint8
            heatmaps = sample.gt_fields.heatmaps
            weights = sample.gt_instance_labels.keypoint_weights
            assert heatmaps.shape == (N * k, HEAT_H, HEAT_W)
            assert weights.shape == (N, k)
            assert set(weights.unique().tolist()) <= {0., 1.}
            assert 0 <= heatmaps.min() and heatmaps.max() <= 1
            # MSRAHeatmap leaves an unweighted target empty. The converse holds for neighbour
            # slots (their joints outside the crop lose their label) but not for the own person:
            # stock MSRAHeatmap keeps weight 1 for a joint just off the heatmap's left/top edge.
            has_gaussian = heatmaps.reshape(N, k, -1).amax(-1) > 0
            assert not (has_gaussian & (weights == 0)).any()
            sources = sample.metainfo['instance_sources']
            assert sources.shape == (N, ) and sources[0] == -1
            for slot in np.flatnonzero(sources >= 0):
                assert torch.equal(has_gaussian[slot], weights[slot] > 0)
            with_neighbour += int(sources[1] >= 0)
            # The stock single-person fields stay single-person.
            assert sample.gt_instances.keypoints.shape == (1, k, 2)
            seen += 1
    assert seen == num_samples
    # Without augmentation 5 COCO, 4 CrowdPose and 4 OCHuman samples have a neighbour with >= 3
    # keypoints in their crop; random flips, half bodies, shifts and rotations may lose a few.
    assert with_neighbour >= 3


def test_detection_mode_test_pipeline_through_runner_dataloader():
    loader = Runner.build_dataloader(dict(
        batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='pseudo_collate'),
        dataset=dict(type='MultiInstanceCocoDataset', **COCO, test_mode=True,
                     bbox_file=DET_FILE,
                     pipeline=[dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
                               dict(type='TopdownAffine', input_size=(INPUT_W, INPUT_H)),
                               dict(type='PackPoseInputs')])))
    batch = next(iter(loader))
    assert len(batch['inputs']) == 8
    assert batch['inputs'][0].shape == (3, INPUT_H, INPUT_W)
    assert batch['data_samples'][0].gt_instances.bboxes.shape == (1, 4)
    assert 0 < batch['data_samples'][0].gt_instances.bbox_scores[0] <= 1


# ---------------------------------------------------------------------------------------------
# The default keypoint layout


def test_default_keypoint_layout_is_mmposes_installed_file_without_a_warning(tmp_path,
                                                                           monkeypatch):
    """Outside MMPose's source tree the stock class's layout file (a path relative to it)
    is not there: MMPose reads its installed copy and warns on every run; the
    multi-instance class reads that copy directly, with the same layout and no warning."""
    import warnings

    from mmpose.apis.inference import dataset_meta_from_config
    from mmpose.datasets import OCHumanDataset
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match='configs/_base_/datasets/ochuman.py" does not exist'):
        stock = OCHumanDataset._load_metainfo()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        ours = MultiInstanceOCHumanDataset._load_metainfo()
        dataset = MultiInstanceOCHumanDataset(**OCHUMAN, test_mode=True)
        # MMPose's inferencers read the class's METAINFO themselves.
        from mmengine.config import Config
        inferred = dataset_meta_from_config(Config(dict(train_dataloader=dict(
            dataset=dict(type='MultiInstanceOCHumanDataset')))))
    assert ours.keys() == stock.keys() == inferred.keys()
    for key, value in stock.items():
        np.testing.assert_equal(ours[key], value, err_msg=key)
    assert dataset.metainfo['dataset_name'] == 'ochuman' and len(dataset) > 0
