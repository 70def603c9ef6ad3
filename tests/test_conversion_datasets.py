"""convert_config on every task's data set: MultiInstance<Name>, the right metric, real samples."""
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmpose.registry import DATASETS

from mipnet_mmpose import convert_config
from mipnet_mmpose.conversion import multi_instance_dataset_type, resolve_config_path

SAMPLE = Path(__file__).resolve().parents[1] / 'data' / 'sample'
TD = 'mmpose::{}/topdown_heatmap/{}/{}.py'

# (stock config, bundled sample folder and annotation file, converted evaluator types)
CASES = [
    (TD.format('wholebody_2d_keypoint', 'coco-wholebody',
               'td-hm_hrnet-w32_8xb64-210e_coco-wholebody-256x192'),
     'coco', 'test_coco_wholebody.json', ['MultiInstanceCocoWholeBodyMetric']),
    (TD.format('animal_2d_keypoint', 'ap10k', 'td-hm_hrnet-w32_8xb64-210e_ap10k-256x256'),
     'ap10k', 'test_ap10k.json', ['MultiInstanceCocoMetric']),
    (TD.format('body_2d_keypoint', 'aic', 'td-hm_hrnet-w32_8xb64-210e_aic-256x192'),
     'aic', 'test_aic.json', ['MultiInstanceCocoMetric']),
    # Human-Art's file names hold its folders (HumanArt/images/<scene>/<style>/...),
    # kept as they are below data/sample/humanart.
    (TD.format('body_2d_keypoint', 'humanart', 'td-hm_hrnet-w32_8xb64-210e_humanart-256x192'),
     'humanart', 'test_humanart.json', ['MultiInstanceCocoMetric']),
    (TD.format('body_2d_keypoint', 'mpii', 'td-hm_hrnet-w32_8xb64-210e_mpii-256x256'),
     'mpii', 'test_mpii.json', ['LambdaZeroMpiiPCKAccuracy']),
    (TD.format('hand_2d_keypoint', 'onehand10k',
               'td-hm_hrnetv2-w18_8xb64-210e_onehand10k-256x256'),
     'onehand10k', 'test_onehand10k.json',
     ['LambdaZeroPCKAccuracy', 'LambdaZeroAUC', 'LambdaZeroEPE']),
    (TD.format('face_2d_keypoint', 'wflw', 'td-hm_hrnetv2-w18_8xb64-60e_wflw-256x256'),
     'wflw', 'test_wflw.json', ['LambdaZeroNME']),
]


def _types(evaluator) -> list:
    items = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    return [item['type'] for item in items]


@pytest.mark.parametrize('name, folder, ann_file, metrics', CASES,
                         ids=[c[1] + '-' + c[2] for c in CASES])
def test_every_task_converts_and_its_training_sample_gets_n_slots(name, folder, ann_file,
                                                                   metrics):
    stock = Config.fromfile(resolve_config_path(name))
    cfg = convert_config(stock, num_instances=2)
    train = cfg.train_dataloader.dataset
    assert train.type == 'MultiInstance' + stock.train_dataloader.dataset.type
    assert cfg.val_dataloader.dataset.type == 'MultiInstance' + stock.val_dataloader.dataset.type
    # COCO-style AP merges the N poses per box; per-box metrics get the λ = 0 pose.
    assert _types(cfg.val_evaluator) == metrics
    # The converted training pipeline on the data set's real sample: N slots per box.
    train.update(data_root=str(SAMPLE / folder), ann_file=ann_file, data_prefix=dict(img=''))
    dataset = DATASETS.build(train)
    sample = dataset[0]
    k = dataset.metainfo['num_keypoints']
    weights = sample['data_samples'].gt_instance_labels.keypoint_weights
    assert tuple(weights.shape) == (2, k)
    assert np.isfinite(np.asarray(weights)).all()


def test_multi_instance_type_of_every_coco_style_dataset_only():
    assert multi_instance_dataset_type('HalpeDataset') == 'MultiInstanceHalpeDataset'
    assert multi_instance_dataset_type('CocoDataset') == 'MultiInstanceCocoDataset'
    assert multi_instance_dataset_type('CombinedDataset') is None
    assert multi_instance_dataset_type('Human36mDataset') is None
    assert multi_instance_dataset_type('MultiInstanceCocoDataset') is None


def test_human_art_validation_reads_its_bundled_detections_as_the_stock_set():
    name = TD.format('body_2d_keypoint', 'humanart', 'td-hm_hrnet-w32_8xb64-210e_humanart-256x192')
    stock = Config.fromfile(resolve_config_path(name))
    paths = dict(data_root=str(SAMPLE / 'humanart'), ann_file='test_humanart.json',
                 bbox_file=str(SAMPLE / 'humanart' / 'test_humanart_det_AP_H_56.json'),
                 data_prefix=dict(img=''))
    ours = DATASETS.build(dict(convert_config(stock).val_dataloader.dataset, **paths))
    theirs = DATASETS.build(dict(stock.val_dataloader.dataset, **paths))
    assert type(ours).__name__ == 'MultiInstanceHumanArtDataset'
    assert len(ours) == len(theirs) > 0
    for i in range(len(ours)):
        sample, stock_sample = ours[i], theirs[i]
        np.testing.assert_array_equal(sample['inputs'], stock_sample['inputs'])
        assert sample['data_samples'].img_path == stock_sample['data_samples'].img_path


def test_halpe_sample_through_the_converted_halpe26_config_gets_n_slots_per_box():
    # No stock top-down config trains on Halpe alone (MMPose 1.3.2 has it as a part of
    # RTMPose's body8-halpe26 CombinedDataset only); its bundled sample annotates the
    # bundled COCO images.
    name = 'mmpose::body_2d_keypoint/rtmpose/body8/rtmpose-m_8xb512-700e_body8-halpe26-256x192.py'
    cfg = convert_config(Config.fromfile(resolve_config_path(name)), num_instances=2)
    train = cfg.train_dataloader.dataset
    halpe = [p for p in train.datasets if p.type == 'MultiInstanceHalpeDataset']
    assert len(halpe) == 1
    train.datasets = [dict(halpe[0], data_root=str(SAMPLE) + '/', ann_file='halpe/test_halpe.json',
                           data_prefix=dict(img='coco/'))]
    # Per-box metrics (PCK, AUC) get the λ = 0 pose.
    assert _types(cfg.val_evaluator) == ['LambdaZeroPCKAccuracy', 'LambdaZeroAUC']
    dataset = DATASETS.build(train)
    assert len(dataset) > 0
    for i in range(len(dataset)):
        weights = dataset[i]['data_samples'].gt_instance_labels.keypoint_weights
        assert tuple(weights.shape) == (2, 26)


@pytest.mark.parametrize('data_root', ['', '   '])
def test_set_data_paths_refuses_an_empty_data_root(data_root):
    """An empty data root would have pointed every data set and metric at '/'."""
    from mipnet_mmpose import ConversionError, set_data_paths
    stock = Config.fromfile(resolve_config_path(TD.format(
        'body_2d_keypoint', 'coco', 'td-hm_hrnet-w32_8xb64-210e_coco-256x192')))
    with pytest.raises(ConversionError, match=rf"^data_root={data_root!r} names no folder: "
                       r"give the data set's folder, e\.g\. 'data/my_dataset/'"):
        set_data_paths(convert_config(stock), data_root=data_root)
    # A folder given: every path starts there, none at '/'.
    cfg = set_data_paths(convert_config(stock), data_root='data/sample/coco_mini')
    assert cfg.train_dataloader.dataset.data_root == 'data/sample/coco_mini/'
    assert cfg.val_evaluator.ann_file == \
        'data/sample/coco_mini/annotations/person_keypoints_val2017.json'
