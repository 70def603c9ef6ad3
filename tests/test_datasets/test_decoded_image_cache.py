"""Each test image decoded once for all its boxes, with the same pipeline output."""
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.runner import Runner
from mmpose.datasets.transforms import LoadImage

from mipnet_mmpose.datasets import MultiInstanceCocoDataset
from mipnet_mmpose.datasets.decoded_image_cache import DecodedImageCache, image_cache_for
from mipnet_mmpose.datasets.input_checks import UndecodableImageError

SAMPLE = Path(__file__).resolve().parents[2] / 'data' / 'sample'
COCO = dict(data_root=str(SAMPLE / 'coco'), ann_file='test_coco.json',
            data_prefix=dict(img=''))
DET_FILE = str(SAMPLE / 'coco' / 'test_coco_det_AP_H_56.json')
TEST_PIPELINE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(96, 128)),
    dict(type='PackPoseInputs'),
]
IMAGE = str(SAMPLE / 'coco' / '000000196141.jpg')
OTHER_IMAGE = str(SAMPLE / 'coco' / '000000040083.jpg')


def det_dataset(**kwargs) -> MultiInstanceCocoDataset:
    return MultiInstanceCocoDataset(**COCO, bbox_file=DET_FILE, test_mode=True,
                                    pipeline=TEST_PIPELINE, **kwargs)


def test_detection_test_set_decodes_each_image_once_with_identical_samples():
    cached, uncached = det_dataset(), det_dataset(reuse_decoded_images=False)
    assert len(cached) == len(uncached) > 20  # many boxes per image
    for idx in range(len(cached)):
        got, want = cached[idx], uncached[idx]
        assert got['inputs'].dtype == want['inputs'].dtype
        assert np.array_equal(got['inputs'].numpy(), want['inputs'].numpy())
        for key in ('img_path', 'img_shape', 'ori_shape', 'input_center', 'input_scale', 'id'):
            assert np.array_equal(got['data_samples'].metainfo[key],
                                  want['data_samples'].metainfo[key]), key
    images = [cached.get_data_info(i)['img_path'] for i in range(len(cached))]
    # the detections come grouped by image: one decode per image
    assert cached.image_cache.decodes == len(set(images)) == 4
    assert uncached.image_cache is None


def test_only_test_mode_top_down_sets_reuse_images():
    train = MultiInstanceCocoDataset(**COCO, pipeline=TEST_PIPELINE)
    assert train.image_cache is None  # shuffled training samples would hardly hit
    bottomup = MultiInstanceCocoDataset(**COCO, data_mode='bottomup', test_mode=True,
                                        pipeline=TEST_PIPELINE)
    assert bottomup.image_cache is None
    custom = MultiInstanceCocoDataset(**COCO, bbox_file=DET_FILE, test_mode=True,
                                      pipeline=TEST_PIPELINE[1:])
    assert custom.image_cache is None  # no loading transform to decode with


def test_runner_test_dataloader_batches_equal_without_reuse():
    def batches(reuse: bool) -> list:
        loader = Runner.build_dataloader(dict(
            batch_size=8, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
            dataset=dict(type='MultiInstanceCocoDataset', **COCO, bbox_file=DET_FILE,
                         test_mode=True, pipeline=TEST_PIPELINE,
                         reuse_decoded_images=reuse)))
        return [b['inputs'] for b in loader]

    reused, decoded = batches(True), batches(False)
    assert len(reused) == len(decoded) > 2
    for got, want in zip(reused, decoded):
        assert all(np.array_equal(g.numpy(), w.numpy()) for g, w in zip(got, want))


def test_each_sample_gets_its_own_copy():
    cache = DecodedImageCache(LoadImage())
    first = cache.fill(dict(img_path=IMAGE))['img']
    first[:] = 0  # a transform writing into its image
    second = cache.fill(dict(img_path=IMAGE))['img']
    assert cache.decodes == 1
    assert second is not first
    assert np.array_equal(second, cv2.imread(IMAGE))


def test_least_recently_used_image_dropped():
    cache = DecodedImageCache(LoadImage(), size=1)
    for path in (IMAGE, OTHER_IMAGE, IMAGE):
        cache.fill(dict(img_path=path))
    assert cache.decodes == 3
    cache = DecodedImageCache(LoadImage(), size=2)
    for path in (IMAGE, OTHER_IMAGE, IMAGE, OTHER_IMAGE):
        cache.fill(dict(img_path=path))
    assert cache.decodes == 2
    with pytest.raises(ValueError, match='size'):
        DecodedImageCache(LoadImage(), size=0)


def test_loader_settings_apply_and_given_images_pass_through(tmp_path):
    gray = DecodedImageCache(LoadImage(color_type='grayscale', to_float32=True))
    img = gray.fill(dict(img_path=IMAGE))['img']
    assert img.ndim == 2 and img.dtype == np.float32
    given = np.zeros((4, 4, 3), np.uint8)
    assert gray.fill(dict(img_path=IMAGE, img=given))['img'] is given
    assert 'img' not in gray.fill(dict(img_path=None))
    # a loader that skips missing files leaves the sample to the pipeline
    skipping = DecodedImageCache(LoadImage(ignore_empty=True))
    assert 'img' not in skipping.fill(dict(img_path=str(tmp_path / 'missing.jpg')))
    assert skipping.decodes == 0


def test_broken_image_still_named_with_reuse(tmp_path):
    (tmp_path / 'images').mkdir()
    for name in ('000000000785.jpg', '000000040083.jpg', '000000196141.jpg',
                 '000000197388.jpg'):
        (tmp_path / 'images' / name).write_bytes((SAMPLE / 'coco' / name).read_bytes())
    (tmp_path / 'images' / '000000196141.jpg').write_bytes(b'not a jpeg')
    dataset = MultiInstanceCocoDataset(
        data_root=str(tmp_path), ann_file=str(SAMPLE / 'coco' / 'test_coco.json'),
        data_prefix=dict(img='images/'), bbox_file=DET_FILE, test_mode=True,
        pipeline=TEST_PIPELINE)
    idx = next(i for i in range(len(dataset))
               if dataset.get_data_info(i)['img_path'].endswith('196141.jpg'))
    with pytest.raises(UndecodableImageError, match='196141'):
        dataset[idx]


def test_image_cache_for_needs_a_loading_first_transform():
    from mmengine.dataset import Compose
    assert isinstance(image_cache_for(Compose(TEST_PIPELINE)), DecodedImageCache)
    assert image_cache_for(Compose(TEST_PIPELINE[1:])) is None
    assert image_cache_for(None) is None
