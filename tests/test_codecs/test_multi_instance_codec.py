"""MultiInstanceCodec: per-slot targets from stock codecs, on real OCHuman samples."""
import copy
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from mmpose.codecs import MSRAHeatmap, UDPHeatmap
from mmpose.datasets.transforms import (
    GenerateTarget,
    GetBBoxCenterScale,
    LoadImage,
    PackPoseInputs,
    RandomFlip,
    TopdownAffine,
)
from mmpose.registry import KEYPOINT_CODECS

from mipnet_mmpose.codecs import MultiInstanceCodec
from mipnet_mmpose.datasets import MultiInstanceOCHumanDataset
from mipnet_mmpose.datasets.transforms import BuildInstanceSlots

SAMPLE = Path(__file__).resolve().parents[2] / 'data' / 'sample'
INPUT_SIZE, HEATMAP_SIZE, SIGMA = (48, 64), (12, 16), 2
MSRA = dict(type='MSRAHeatmap', input_size=INPUT_SIZE, heatmap_size=HEATMAP_SIZE, sigma=SIGMA)
UDP = dict(type='UDPHeatmap', input_size=INPUT_SIZE, heatmap_size=HEATMAP_SIZE, sigma=SIGMA)
K = 17


@pytest.fixture(scope='module')
def ochuman():
    return MultiInstanceOCHumanDataset(data_root=str(SAMPLE / 'ochuman'),
                                       ann_file='test_ochuman.json', data_prefix=dict(img=''))


def slots(dataset, ann_id: int, num_instances: int = 2, use_udp: bool = False,
          flip: bool = True) -> dict:
    """One OCHuman sample through the stock transforms and BuildInstanceSlots."""
    index = [dataset.get_data_info(i)['id'] for i in range(len(dataset))].index(ann_id)
    results = GetBBoxCenterScale()(LoadImage()(dataset.get_data_info(index)))
    results = RandomFlip(prob=1.0 if flip else 0.0)(results)
    results = TopdownAffine(input_size=INPUT_SIZE, use_udp=use_udp)(results)
    return BuildInstanceSlots(num_instances=num_instances, use_udp=use_udp)(results)


def encode(codec, results: dict) -> dict:
    return codec.encode(results['transformed_keypoints'], results['keypoints_visible'],
                        results['instance_keypoints'], results['instance_keypoints_visible'])


def test_instance_zero_is_the_stock_target_and_instance_one_peaks_on_the_partner(ochuman):
    codec = MultiInstanceCodec(encoder=MSRA)
    stock = MSRAHeatmap(**{k: v for k, v in MSRA.items() if k != 'type'})
    for own_id in (2, 3, 4, 5):
        results = slots(ochuman, own_id)
        assert results['instance_sources'].tolist() == [-1, 0]
        encoded = encode(codec, results)
        heatmaps, weights = encoded['heatmaps'], encoded['keypoint_weights']
        assert heatmaps.shape == (2 * K, 16, 12) and weights.shape == (2, K)

        # Instance 0: exactly stock MSRAHeatmap on the sample alone.
        alone = stock.encode(results['transformed_keypoints'], results['keypoints_visible'])
        np.testing.assert_array_equal(heatmaps[:K], alone['heatmaps'])
        np.testing.assert_array_equal(weights[0], alone['keypoint_weights'][0])

        # Instance 1: each weighted heatmap peaks within half a heatmap pixel of the partner's
        # joint (a heatmap pixel is 4 input pixels); unlabelled joints weigh 0 and stay empty.
        partner = results['instance_keypoints'][1]
        partner_visible = results['instance_keypoints_visible'][1]
        np.testing.assert_array_equal(weights[1], partner_visible)
        assert weights[1].sum() >= 10
        for j in range(K):
            heatmap = heatmaps[K + j]
            if weights[1, j] == 0:
                assert heatmap.max() == 0
                continue
            y, x = np.unravel_index(np.argmax(heatmap), heatmap.shape)
            assert heatmap[y, x] == 1.0
            assert np.all(np.abs(np.array([x, y]) * 4 - partner[j]) <= 2.0 + 1e-4), j
        # The partner's unlabelled joints (OCHuman 2: 1 of 17, 3: 4, 4: 5, 5: 2) weigh 0.
        info = ochuman.get_data_info(
            [ochuman.get_data_info(i)['id'] for i in range(len(ochuman))].index(own_id))
        unlabelled = info['neighbour_keypoints_visible'][0][info['flip_indices']] == 0
        assert unlabelled.sum() == {2: 4, 3: 1, 4: 2, 5: 5}[own_id]
        assert np.all(weights[1][unlabelled] == 0)


def test_wraps_udp_heatmap(ochuman):
    codec = MultiInstanceCodec(encoder=UDP)
    stock = UDPHeatmap(**{k: v for k, v in UDP.items() if k != 'type'})
    results = slots(ochuman, 4, use_udp=True)
    encoded = encode(codec, results)
    assert encoded['heatmaps'].shape == (2 * K, 16, 12)
    for i in range(2):
        alone = stock.encode(results['instance_keypoints'][i:i + 1],
                             results['instance_keypoints_visible'][i:i + 1])
        np.testing.assert_array_equal(encoded['heatmaps'][i * K:(i + 1) * K], alone['heatmaps'])
        np.testing.assert_array_equal(encoded['keypoint_weights'][i],
                                      alone['keypoint_weights'][0])
    # UDP's scale is (input - 1) / (heatmap - 1): decoding instance 1 finds the partner again.
    decoded, _ = codec.decode(encoded['heatmaps'][K:])
    labelled = encoded['keypoint_weights'][1] > 0
    np.testing.assert_allclose(decoded[0][labelled], results['instance_keypoints'][1][labelled],
                               atol=0.5 * 47 / 11 + 1e-3)


@pytest.mark.parametrize('num_instances', [3, 4])
def test_more_slots_stack_instance_major(ochuman, num_instances):
    codec = KEYPOINT_CODECS.build(dict(type='MultiInstanceCodec', encoder=MSRA))
    results = slots(ochuman, 2, num_instances=num_instances)
    encoded = encode(codec, results)
    assert encoded['heatmaps'].shape == (num_instances * K, 16, 12)
    assert encoded['keypoint_weights'].shape == (num_instances, K)
    # OCHuman 2 has one neighbour: the slots after it repeat the own person's target.
    for i in range(2, num_instances):
        np.testing.assert_array_equal(encoded['heatmaps'][i * K:(i + 1) * K],
                                      encoded['heatmaps'][:K])
    assert not np.array_equal(encoded['heatmaps'][K:2 * K], encoded['heatmaps'][:K])


def test_bad_slots_and_arguments_give_clear_errors(ochuman):
    results = slots(ochuman, 2)
    codec = MultiInstanceCodec(encoder=MSRA)
    with pytest.raises(ValueError, match='instance_keypoints_visible'):
        codec.encode(results['transformed_keypoints'], results['keypoints_visible'],
                     results['instance_keypoints'], results['instance_keypoints_visible'][:, :5])
    # N has one owner in the pipeline (BuildInstanceSlots): the codec takes no copy.
    with pytest.raises(TypeError, match='num_instances'):
        MultiInstanceCodec(encoder=MSRA, num_instances=2)
    with pytest.raises(ValueError, match='auxiliary'):
        MultiInstanceCodec(encoder=dict(type='MultiInstanceCodec', encoder=MSRA))

    # Without slots (a model with N = 1): the stock single-person target.
    encoded = codec.encode(results['transformed_keypoints'], results['keypoints_visible'])
    alone = MSRAHeatmap(INPUT_SIZE, HEATMAP_SIZE, SIGMA).encode(
        results['transformed_keypoints'], results['keypoints_visible'])
    np.testing.assert_array_equal(encoded['heatmaps'], alone['heatmaps'])
    np.testing.assert_array_equal(encoded['keypoint_weights'], alone['keypoint_weights'])


@pytest.mark.parametrize('encoder', [
    dict(type='SimCCLabel', input_size=(48, 64), sigma=(4.9, 5.66), simcc_split_ratio=2.0,
         normalize=False, use_dark=False),
    dict(type='RegressionLabel', input_size=(48, 64)),
])
def test_coordinate_codecs_stack_one_label_row_per_instance(ochuman, encoder):
    """SimCC and regression labels: row i of every label is the stock label of slot i."""
    results = slots(ochuman, 2)
    encoded = MultiInstanceCodec(encoder=encoder).encode(
        results['transformed_keypoints'], results['keypoints_visible'],
        results['instance_keypoints'], results['instance_keypoints_visible'])
    stock = KEYPOINT_CODECS.build(encoder)
    for i in range(2):
        alone = stock.encode(results['instance_keypoints'][i:i + 1],
                             results['instance_keypoints_visible'][i:i + 1])
        assert set(alone) == set(encoded)
        for key, value in alone.items():
            assert encoded[key].shape == (2, ) + value.shape[1:]
            np.testing.assert_array_equal(encoded[key][i], value[0])


def test_exposes_the_wrapped_codec_and_decodes_one_instance(ochuman):
    codec = MultiInstanceCodec(encoder=MSRA)
    assert codec.input_size == INPUT_SIZE and codec.heatmap_size == HEATMAP_SIZE
    assert codec.sigma == SIGMA
    np.testing.assert_array_equal(codec.scale_factor, [4., 4.])
    assert isinstance(codec.encoder, MSRAHeatmap)
    assert codec.support_batch_decoding is False
    with pytest.raises(AttributeError):
        codec.no_such_attribute
    assert codec.auxiliary_encode_keys == {'instance_keypoints', 'instance_keypoints_visible'}
    # Data-loader workers copy the pipeline: the attribute delegation must survive that.
    for copied in (copy.deepcopy(codec), pickle.loads(pickle.dumps(codec))):
        assert copied.heatmap_size == HEATMAP_SIZE

    results = slots(ochuman, 5, flip=False)
    encoded = encode(codec, results)
    decoded, scores = codec.decode(encoded['heatmaps'][K:])
    assert decoded.shape == (1, K, 2) and scores.shape == (1, K)
    labelled = encoded['keypoint_weights'][1] > 0
    np.testing.assert_allclose(decoded[0][labelled], results['instance_keypoints'][1][labelled],
                               atol=2.0 + 1e-3)


def test_through_stock_generate_target_and_pack_pose_inputs(ochuman):
    results = slots(ochuman, 3)
    codec = dict(type='MultiInstanceCodec', encoder=MSRA)
    results = GenerateTarget(encoder=codec)(results)
    expected = encode(MultiInstanceCodec(encoder=MSRA), results)
    np.testing.assert_array_equal(results['heatmaps'], expected['heatmaps'])
    packed = PackPoseInputs()(results)
    sample = packed['data_samples']
    assert packed['inputs'].shape == (3, 64, 48)
    assert isinstance(sample.gt_fields.heatmaps, torch.Tensor)
    assert sample.gt_fields.heatmaps.shape == (2 * K, 16, 12)
    assert sample.gt_instance_labels.keypoint_weights.shape == (2, K)
    torch.testing.assert_close(sample.gt_instance_labels.keypoint_weights,
                               torch.from_numpy(expected['keypoint_weights']))
    assert sample.gt_instances.keypoints.shape == (1, K, 2)
    assert sample.gt_instances.bboxes.shape == (1, 4)
