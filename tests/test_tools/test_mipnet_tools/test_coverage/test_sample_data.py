"""mipnet_tools.coverage.sample_data: stock configs reading the bundled samples."""
import numpy as np
import pytest
from mmengine.config import Config
from mmpose.registry import DATASETS

from mipnet_mmpose.conversion import resolve_config_path
from mipnet_tools.coverage.sample_data import NoBundledSample, scale_input, stock_on_sample
from mipnet_tools.data_layout import BUNDLED_SAMPLES, SAMPLE_ROOT, bundled_sample

BODY8 = 'mmpose::body_2d_keypoint/rtmpose/body8/rtmpose-t_8xb256-420e_body8-256x192.py'
COCO_AIC = 'mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_aic-coco-256x192.py'
FASHION = ('mmpose::fashion_2d_keypoint/topdown_heatmap/deepfashion/'
           'td-hm_res50_8xb64-210e_deepfashion_full-256x192.py')


def test_every_bundled_sample_of_the_table_is_there():
    # Human-Art and Halpe are listed for when their samples are bundled; the others are here.
    present = {k for k in BUNDLED_SAMPLES if bundled_sample(k) is not None}
    assert present >= set(BUNDLED_SAMPLES) - {'HumanArtDataset', 'HalpeDataset'}
    assert bundled_sample('mmpose.AP10KDataset') == BUNDLED_SAMPLES['AP10KDataset']
    assert bundled_sample('JhmdbDataset') is None
    assert bundled_sample('CocoDataset', root=SAMPLE_ROOT + '/nowhere') is None


def test_combined_parts_read_their_samples_and_parts_without_one_are_listed():
    stock = Config.fromfile(resolve_config_path(BODY8)).train_dataloader.dataset.datasets
    cfg, train_use, val_use = stock_on_sample(resolve_config_path(BODY8))
    parts = cfg.train_dataloader.dataset.datasets
    # The parts with a sample, in their order (Halpe's sample comes with issue 22's data).
    assert [p.type for p in parts] == [p.type for p in stock if bundled_sample(p.type)]
    assert [p.type for p in parts][:4] == ['CocoDataset', 'AicDataset', 'CrowdPoseDataset',
                                           'MpiiDataset']
    assert train_use.samples[:4] == ['coco_mini', 'aic', 'crowdpose', 'mpii']
    assert train_use.dropped == [p.type for p in stock if not bundled_sample(p.type)]
    assert {'JhmdbDataset', 'PoseTrack18Dataset'} <= set(train_use.dropped)
    # Each part keeps its KeypointConverter to the combined 17 keypoints.
    assert all(any(t.type == 'KeypointConverter' for t in p.pipeline) for p in parts[1:])
    assert 'bbox_file' not in cfg.val_dataloader.dataset
    # The stock combined data set reads the real samples: AIC boxes with 17 keypoints.
    train = DATASETS.build(cfg.train_dataloader.dataset)
    first_aic = len(DATASETS.build(parts[0]))
    assert train[first_aic]['data_samples'].gt_instances.keypoints.shape[-2] == 17
    assert 'init_cfg' not in cfg.model.backbone and val_use.samples == ['coco_mini']


def test_repeat_dataset_part_is_pointed_inside():
    cfg, train_use, _ = stock_on_sample(resolve_config_path(COCO_AIC))
    repeat = cfg.train_dataloader.dataset.datasets[0]
    assert repeat.type == 'RepeatDataset' and repeat.dataset.type == 'CocoDataset'
    assert repeat.dataset.data_root.endswith('coco_mini/')
    assert train_use.samples == ['coco_mini', 'aic']


def test_a_data_set_without_sample_is_named():
    with pytest.raises(NoBundledSample, match='no bundled sample of DeepFashionDataset'):
        stock_on_sample(resolve_config_path(FASHION))


def test_scaled_input_stays_consistent_and_builds_targets():
    cfg, _, _ = stock_on_sample(resolve_config_path(BODY8))
    small = scale_input(cfg, 0.5)
    assert tuple(small.codec.input_size) == (96, 128)
    assert tuple(small.model.head.input_size) == (96, 128)
    assert tuple(small.model.head.in_featuremap_size) == (3, 4)
    affine = [t for t in small.train_dataloader.dataset.pipeline if t.type == 'TopdownAffine']
    assert tuple(affine[0].input_size) == (96, 128)
    assert tuple(cfg.codec.input_size) == (192, 256)  # the input is not changed
    # SimCC targets of the real sample at the smaller size.
    sample = DATASETS.build(small.train_dataloader.dataset)[0]
    labels = sample['data_samples'].gt_instance_labels
    assert labels.keypoint_x_labels.shape[-1] == int(96 * small.codec.simcc_split_ratio)
    assert np.isfinite(np.asarray(labels.keypoint_weights)).all()
    with pytest.raises(ValueError, match='empty'):
        scale_input(cfg, 0.001)
