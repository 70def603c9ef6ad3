"""Person-detection files written with an mmdet detector load as a data set's bbox_file."""
import json

import torch
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS

from mipnet_tools.detection_files import write_person_detections
from tests.conftest import SAMPLE


def test_written_detections_are_a_bbox_file_of_the_ochuman_sample(tmp_path):
    """RTMDet-tiny with its initial weights (one class) on the 3 OCHuman sample images:
    the file is in the COCO results format and MultiInstanceOCHumanDataset reads it."""
    torch.manual_seed(0)
    out = tmp_path / 'dets' / 'OCHuman_test2017_detections_person.json'
    ann_file = SAMPLE / 'ochuman' / 'test_ochuman.json'
    dets = write_person_detections(
        'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py', None, str(ann_file),
        str(SAMPLE / 'ochuman'), str(out),
        cfg_options={'model.backbone.init_cfg': None, 'model.bbox_head.num_classes': 1})
    assert json.loads(out.read_text()) == dets
    assert dets, 'the seeded initial detector finds boxes on the sample'
    image_ids = {im['id'] for im in json.loads(ann_file.read_text())['images']}
    for det in dets:
        assert set(det) == {'image_id', 'category_id', 'bbox', 'score'}
        assert det['image_id'] in image_ids and det['category_id'] == 1
        assert len(det['bbox']) == 4 and det['bbox'][2] >= 0 and det['bbox'][3] >= 0
    init_default_scope('mmpose')
    dataset = DATASETS.build(dict(
        type='MultiInstanceOCHumanDataset', data_root=str(SAMPLE) + '/',
        ann_file='ochuman/test_ochuman.json', data_prefix=dict(img='ochuman/'),
        bbox_file=str(out), test_mode=True, pipeline=[]))
    assert 0 < len(dataset) <= len(dets)
