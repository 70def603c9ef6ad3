"""BuildInstanceSlots on real samples, after the stock flip and affine transforms."""
from pathlib import Path

import numpy as np
import pytest
from mmpose.datasets import OCHumanDataset
from mmpose.datasets.transforms import (
    GetBBoxCenterScale,
    LoadImage,
    RandomBBoxTransform,
    RandomFlip,
    TopdownAffine,
)
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix

from mipnet_mmpose.datasets import (
    MultiInstanceCocoDataset,
    MultiInstanceOCHumanDataset,
)
from mipnet_mmpose.datasets.transforms import BuildInstanceSlots

SAMPLE = Path(__file__).resolve().parents[2] / 'data' / 'sample'
INPUT_W, INPUT_H = 48, 64


def dataset_kwargs(folder: str, ann_file: str, img: str = '') -> dict:
    return dict(data_root=str(SAMPLE / folder), ann_file=ann_file, data_prefix=dict(img=img))


@pytest.fixture(scope='module')
def ochuman():
    return MultiInstanceOCHumanDataset(**dataset_kwargs('ochuman', 'test_ochuman.json'))


@pytest.fixture(scope='module')
def coco():
    return MultiInstanceCocoDataset(**dataset_kwargs('coco', 'test_coco.json'))


@pytest.fixture(scope='module')
def coco_mini_train():
    return MultiInstanceCocoDataset(**dataset_kwargs(
        'coco_mini', 'annotations/person_keypoints_train2017.json', 'train2017/'))


def index_of(dataset, ann_id: int) -> int:
    return [dataset.get_data_info(i)['id'] for i in range(len(dataset))].index(ann_id)


def prepare(dataset, ann_id: int, flip: bool = False, rotation: float = None,
            use_udp: bool = False, crop_of: dict = None, zoom: float = None) -> dict:
    """Run the stock transforms up to TopdownAffine on one sample, deterministically.

    ``zoom``: scale the box by this factor with stock RandomBBoxTransform (exact: its random
    scale is ``mu + sigma * v`` and ``scale_factor=(zoom, zoom)`` gives sigma = 0).
    ``crop_of``: the results of another sample of the image, whose crop (centre, scale) is used
    instead of this sample's own, so stock TopdownAffine puts this person into that crop.
    """
    results = dataset.get_data_info(index_of(dataset, ann_id))
    results = GetBBoxCenterScale()(LoadImage()(results))
    results = RandomFlip(prob=1.0 if flip else 0.0)(results)
    if zoom is not None:
        results = RandomBBoxTransform(shift_prob=0., rotate_prob=0., scale_prob=1.,
                                      scale_factor=(zoom, zoom))(results)
    if crop_of is not None:
        results['bbox_center'] = crop_of['input_center'][None].copy()
        results['bbox_scale'] = crop_of['input_scale'][None].copy()
    if rotation is not None:
        # What RandomBBoxTransform sets, with a fixed angle.
        results['bbox_rotation'] = np.array([rotation], dtype=np.float32)
    return TopdownAffine(input_size=(INPUT_W, INPUT_H), use_udp=use_udp)(results)


def in_crop(keypoints: np.ndarray) -> np.ndarray:
    """The authors' crop test (get_transformed_joints): the border is inside."""
    x, y = keypoints[..., 0], keypoints[..., 1]
    return (x >= 0) & (x <= INPUT_W) & (y >= 0) & (y <= INPUT_H)


def direct_warp(dataset, ann_id: int, own: dict, rotation: float, flip: bool,
                use_udp: bool = False) -> tuple:
    """A person's GT keypoints put into ``own``'s crop by hand: flip as x -> w - 1 - x with the
    left/right joints swapped, then MMPose's warp matrix applied as x' = A x + b."""
    info = dataset.get_data_info(index_of(dataset, ann_id))
    keypoints = info['keypoints'][0].astype(np.float64)
    visible = info['keypoints_visible'][0]
    if flip:
        img_w = own['img_shape'][1]
        keypoints = keypoints[info['flip_indices']]
        keypoints[:, 0] = img_w - 1 - keypoints[:, 0]
        visible = visible[info['flip_indices']]
    warp = get_udp_warp_matrix if use_udp else get_warp_matrix
    mat = warp(own['input_center'], own['input_scale'], rotation, output_size=(INPUT_W, INPUT_H))
    return keypoints @ mat[:, :2].T + mat[:, 2], visible


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize('flip', [False, True])
@pytest.mark.parametrize('rotation', [0., 30.])
def test_ochuman_partner_lands_on_its_joints(ochuman, flip, rotation):
    slots = BuildInstanceSlots(num_instances=2)
    for own_id, partner_id in [(2, 3), (3, 2), (4, 5), (5, 4)]:
        results = slots(prepare(ochuman, own_id, flip=flip, rotation=rotation))
        assert results['flip'] == flip
        assert results['instance_sources'].tolist() == [-1, 0]
        assert results['instance_sources'].dtype == np.int64
        keypoints = results['instance_keypoints']
        visible = results['instance_keypoints_visible']
        assert keypoints.shape == (2, 17, 2) and keypoints.dtype == np.float32
        assert visible.shape == (2, 17) and visible.dtype == np.float32
        # Slot 0 is the sample itself, exactly as stock TopdownAffine left it.
        np.testing.assert_array_equal(keypoints[0], results['transformed_keypoints'][0])
        np.testing.assert_array_equal(visible[0], results['keypoints_visible'][0])
        # The stock single-person fields stay single-person.
        assert results['transformed_keypoints'].shape == (1, 17, 2)

        # Expected 1: the partner's own sample through the stock transforms into this crop.
        partner = prepare(ochuman, partner_id, flip=flip, rotation=rotation, crop_of=results)
        expected = partner['transformed_keypoints'][0]
        expected_visible = partner['keypoints_visible'][0] * in_crop(expected)
        np.testing.assert_array_equal(visible[1], expected_visible)
        labelled = expected_visible > 0
        assert labelled.sum() >= 10
        np.testing.assert_allclose(keypoints[1][labelled], expected[labelled], atol=1e-3)

        # Expected 2: the partner's GT flipped and warped by hand with MMPose's warp matrix.
        by_hand, by_hand_visible = direct_warp(ochuman, partner_id, results, rotation, flip)
        np.testing.assert_allclose(keypoints[1][labelled], by_hand[labelled], atol=1e-3)
        np.testing.assert_array_equal(by_hand_visible * in_crop(by_hand), expected_visible)


def test_neighbour_joints_outside_the_crop_lose_their_label(ochuman):
    # 0.4 times the box of sample 2: its partner (3) keeps 8 of its 13 labelled joints inside.
    results = BuildInstanceSlots(min_keypoints=0)(prepare(ochuman, 2, zoom=0.4))
    np.testing.assert_allclose(results['input_scale'],
                               prepare(ochuman, 2)['input_scale'] * 0.4, rtol=1e-6)
    by_hand, visible = direct_warp(ochuman, 3, results, 0., flip=False)
    inside, outside = (visible > 0) & in_crop(by_hand), (visible > 0) & ~in_crop(by_hand)
    assert inside.sum() == 8 and outside.sum() == 5
    np.testing.assert_array_equal(results['instance_keypoints_visible'][1], inside)
    # The keypoint test counts only the joints inside the crop.
    assert BuildInstanceSlots(min_keypoints=8)(
        prepare(ochuman, 2, zoom=0.4))['instance_sources'].tolist() == [-1, 0]
    assert BuildInstanceSlots(min_keypoints=9)(
        prepare(ochuman, 2, zoom=0.4))['instance_sources'].tolist() == [-1, -1]


def test_own_joints_outside_the_crop_get_no_target_as_the_authors(ochuman):
    """drop_outside_crop (default): the own person's joints outside the crop get weight 0,
    as the authors' targets; False keeps MMPose's stock clipped-Gaussian targets."""
    from mipnet_mmpose.codecs import MultiInstanceCodec
    prepared = prepare(ochuman, 2, zoom=0.4)
    own = prepared['transformed_keypoints'][0]
    labelled = prepared['keypoints_visible'][0] > 0
    outside = labelled & ~in_crop(own)
    assert outside.sum() >= 3 and (labelled & in_crop(own)).sum() >= 5

    codec = MultiInstanceCodec(
        encoder=dict(type='MSRAHeatmap', input_size=(INPUT_W, INPUT_H),
                     heatmap_size=(INPUT_W // 4, INPUT_H // 4), sigma=2))
    authors = BuildInstanceSlots()(prepare(ochuman, 2, zoom=0.4))
    np.testing.assert_array_equal(authors['instance_keypoints_visible'][0],
                                  labelled & in_crop(own))
    weights = codec.encode(authors['keypoints'], authors['keypoints_visible'],
                           authors['instance_keypoints'],
                           authors['instance_keypoints_visible'])['keypoint_weights']
    assert np.all(weights[0][outside] == 0) and np.all(weights[0][labelled & in_crop(own)] == 1)

    stock = BuildInstanceSlots(drop_outside_crop=False)(prepare(ochuman, 2, zoom=0.4))
    np.testing.assert_array_equal(stock['instance_keypoints_visible'][0],
                                  prepared['keypoints_visible'][0])
    weights = codec.encode(stock['keypoints'], stock['keypoints_visible'],
                           stock['instance_keypoints'],
                           stock['instance_keypoints_visible'])['keypoint_weights']
    # Stock MSRA targets: weight 1 while part of the Gaussian is on the heatmap.
    assert weights[0][outside].sum() >= 1
    # The neighbour too keeps its outside joints without the option.
    assert stock['instance_keypoints_visible'][1].sum() > \
        authors['instance_keypoints_visible'][1].sum()


def test_udp_affine_is_replayed_and_a_mismatch_is_caught(ochuman):
    results = BuildInstanceSlots(use_udp=True)(prepare(ochuman, 4, flip=True, rotation=30.,
                                                       use_udp=True))
    assert results['instance_sources'].tolist() == [-1, 0]
    by_hand, visible = direct_warp(ochuman, 5, results, 30., flip=True, use_udp=True)
    labelled = results['instance_keypoints_visible'][1] > 0
    np.testing.assert_array_equal(labelled, (visible > 0) & in_crop(by_hand))
    np.testing.assert_allclose(results['instance_keypoints'][1][labelled], by_hand[labelled],
                               atol=1e-3)
    with pytest.raises(ValueError, match='use_udp'):
        BuildInstanceSlots(use_udp=False)(prepare(ochuman, 4, use_udp=True))


@pytest.mark.parametrize('num_instances', [1, 2, 3, 4])
def test_lone_person_fills_every_slot_with_itself(ochuman, num_instances):
    results = BuildInstanceSlots(num_instances=num_instances)(prepare(ochuman, 1, flip=True))
    assert results['neighbour_keypoints'].shape == (0, 17, 2)
    assert results['instance_sources'].tolist() == [-1] * num_instances
    for i in range(num_instances):
        np.testing.assert_array_equal(results['instance_keypoints'][i],
                                      results['transformed_keypoints'][0])
        np.testing.assert_array_equal(results['instance_keypoints_visible'][i],
                                      results['keypoints_visible'][0])


def test_nearest_passing_neighbours_fill_three_and_four_slots(coco):
    # COCO 533949 (000000197388.jpg) has four neighbours; warped into its crop by hand they have
    # 15, 6, 4 and 0 labelled keypoints inside, nearest first.
    own = prepare(coco, 533949)
    counts = []
    for j in range(4):
        mat = get_warp_matrix(own['input_center'], own['input_scale'], 0.,
                              output_size=(INPUT_W, INPUT_H))
        warped = own['neighbour_keypoints'][j] @ mat[:, :2].T + mat[:, 2]
        counts.append(int(np.sum(in_crop(warped) & (own['neighbour_keypoints_visible'][j] > 0))))
    assert counts == [15, 6, 4, 0]

    cases = {  # (num_instances, min_keypoints): sources of the slots
        (3, 3): [-1, 0, 1],
        (4, 3): [-1, 0, 1, 2],
        (5, 3): [-1, 0, 1, 2, -1],  # neighbour 3 fails: the last slot repeats the own person
        (4, 5): [-1, 0, 1, -1],  # neighbour 2 (4 keypoints) now fails
        (4, 7): [-1, 0, -1, -1],
        (4, 16): [-1, -1, -1, -1],
        (4, 0): [-1, 0, 1, 2],  # no keypoint test: the nearest three
    }
    for (num_instances, min_keypoints), expected in cases.items():
        results = BuildInstanceSlots(num_instances, min_keypoints)(prepare(coco, 533949))
        sources = results['instance_sources']
        assert sources.tolist() == expected, (num_instances, min_keypoints)
        for slot, source in enumerate(sources):
            if source < 0:
                np.testing.assert_array_equal(results['instance_keypoints'][slot],
                                              results['transformed_keypoints'][0])
            else:
                mat = get_warp_matrix(own['input_center'], own['input_scale'], 0.,
                                      output_size=(INPUT_W, INPUT_H))
                warped = own['neighbour_keypoints'][source] @ mat[:, :2].T + mat[:, 2]
                np.testing.assert_allclose(results['instance_keypoints'][slot], warped,
                                           atol=1e-3)


def test_min_keypoints_threshold_on_ochuman_partner(ochuman):
    # Sample 2's partner (3) has 13 labelled keypoints, all inside 2's crop.
    inside = int(BuildInstanceSlots(min_keypoints=0)(prepare(ochuman, 2))[
        'instance_keypoints_visible'][1].sum())
    assert inside == 13
    assert BuildInstanceSlots(min_keypoints=13)(
        prepare(ochuman, 2))['instance_sources'].tolist() == [-1, 0]
    assert BuildInstanceSlots(min_keypoints=14)(
        prepare(ochuman, 2))['instance_sources'].tolist() == [-1, -1]


def test_paper_and_authors_selection_differ_when_the_nearest_fails(coco_mini_train):
    # COCO train 1240174 (000000538113.jpg): its nearest neighbour has 0 labelled keypoints in the
    # crop, the second one 4, the others 0. The paper filters then takes the nearest; the
    # authors take the nearest then replace the failing ones by the own person.
    def sources(**kwargs):
        return BuildInstanceSlots(**kwargs)(prepare(coco_mini_train, 1240174))[
            'instance_sources'].tolist()

    assert sources(num_instances=2, selection='paper') == [-1, 1]
    assert sources(num_instances=2, selection='authors') == [-1, -1]
    assert sources(num_instances=3, selection='paper') == [-1, 1, -1]
    assert sources(num_instances=3, selection='authors') == [-1, -1, 1]
    # The authors' "more than 3" test is min_keypoints=4: the second neighbour passes it, not 5.
    assert sources(num_instances=3, selection='authors', min_keypoints=4) == [-1, -1, 1]
    assert sources(num_instances=3, selection='authors', min_keypoints=5) == [-1, -1, -1]
    # Without the keypoint test both take the nearest.
    assert sources(num_instances=3, selection='paper', min_keypoints=0) == [-1, 0, 1]
    assert sources(num_instances=3, selection='authors', min_keypoints=0) == [-1, 0, 1]


def test_arguments_are_validated_and_registered():
    for kwargs, match in [(dict(num_instances=0), 'num_instances'),
                          (dict(num_instances=2.0), 'num_instances'),
                          (dict(min_keypoints=-1), 'min_keypoints'),
                          (dict(selection='nearest'), 'selection'),
                          (dict(use_udp='yes'), 'use_udp')]:
        with pytest.raises(ValueError, match=match):
            BuildInstanceSlots(**kwargs)
    built = TRANSFORMS.build(dict(type='BuildInstanceSlots', num_instances=3,
                                  selection='authors'))
    assert isinstance(built, BuildInstanceSlots)
    assert repr(built) == ("BuildInstanceSlots(num_instances=3, min_keypoints=3, "
                           "selection='authors', use_udp=False, drop_outside_crop=True)")


def test_clear_errors_for_a_wrong_pipeline(ochuman):
    stock = OCHumanDataset(**dataset_kwargs('ochuman', 'test_ochuman.json'))
    results = TopdownAffine(input_size=(INPUT_W, INPUT_H))(
        GetBBoxCenterScale()(LoadImage()(stock.get_data_info(1))))
    with pytest.raises(KeyError, match='multi-instance dataset'):
        BuildInstanceSlots()(results)
    before_affine = GetBBoxCenterScale()(LoadImage()(ochuman.get_data_info(1)))
    with pytest.raises(KeyError, match='after TopdownAffine'):
        BuildInstanceSlots()(before_affine)
