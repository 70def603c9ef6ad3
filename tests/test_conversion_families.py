"""ViTPose (mmpretrain), RTMPose (albumentations): converted, one step, stock transforms."""
import math
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpose.registry import DATASETS, MODELS

from mipnet_mmpose import convert_config
from mipnet_mmpose.conversion import resolve_config_path

SAMPLE = Path(__file__).resolve().parents[1] / 'data' / 'sample'


@pytest.mark.parametrize('name', [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_ViTPose-small_8xb64-210e_coco-256x192.py',
    'mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py',
])
def test_family_trains_a_step_with_the_stock_transforms(name):
    init_default_scope('mmpose')
    stock = Config.fromfile(resolve_config_path(name))
    cfg = convert_config(stock, num_instances=2)
    # Every stock transform is kept (Albumentation included), plus BuildInstanceSlots.
    stock_types = [t['type'] for t in stock.train_dataloader.dataset.pipeline]
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    assert [t for t in types if t != 'BuildInstanceSlots'] == stock_types
    cfg.model.backbone.pop('init_cfg', None)  # nothing downloaded
    model = MODELS.build(cfg.model)
    model.train()
    data = cfg.train_dataloader.dataset
    data.update(data_root=str(SAMPLE / 'coco'), ann_file='test_coco.json',
                data_prefix=dict(img=''))
    dataset = DATASETS.build(data)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(2)]), True)
    losses = model(**batch, mode='loss')
    assert {'loss_kpt_lambda0', 'loss_kpt_lambda1'} <= set(losses)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    assert math.isfinite(float(total))
    total.backward()
