"""The whole-body sample config through ``mim train``: its metric, and N poses per box."""
import json
from pathlib import Path

import numpy as np
from mmpose.apis import inference_topdown

from mipnet_mmpose.apis.inference import init_mipnet
from tests.conftest import REPO, run_mim

CONFIG = REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-wholebody-128x96.py'
EPOCHS = 1  # 2 iterations (12 boxes, batch 8): the whole path, not a model


def test_wholebody_sample_trains_validates_merged_and_predicts_n_poses(tmp_path: Path):
    work_dir = tmp_path / 'work'
    output = run_mim(
        'train', 'mmpose', str(CONFIG), '--work-dir', str(work_dir), '--cfg-options',
        f'train_cfg.max_epochs={EPOCHS}', f'train_cfg.val_interval={EPOCHS}',
        f'param_scheduler.0.end={EPOCHS}', f'default_hooks.checkpoint.interval={EPOCHS}')
    # validated by the merging whole-body metric: both λ of the 12 sample boxes enter NMS
    assert 'MultiInstanceCocoWholeBodyMetric: poses per lambda before NMS {0: 12, 1: 12}' \
        in output
    (scalars, ) = work_dir.glob('*/vis_data/scalars.json')
    records = [json.loads(line) for line in scalars.read_text().splitlines()]
    (val, ) = [r for r in records if 'coco-wholebody/AP' in r]
    for key in ('AP', 'AP .5', 'AP .75', 'AR', 'AR .5'):
        assert 0.0 <= val[f'coco-wholebody/{key}'] <= 1.0
    train = [r for r in records if 'loss_kpt' in r]
    assert train and all(np.isfinite(r[k]) for r in train
                         for k in ('loss_kpt_lambda0', 'loss_kpt_lambda1'))
    assert sorted(p.name for p in (work_dir / 'pose_pictures' / f'val_{EPOCHS}').glob('*.png')) \
        == ['000000000785.png', '000000040083.png', '000000196141.png', '000000197388.png']

    # the checkpoint: 133 keypoints, N = 2 poses for every box of a real image
    model = init_mipnet(str(CONFIG), str(work_dir / f'epoch_{EPOCHS}.pth'), device='cpu')
    assert model.dataset_meta['num_keypoints'] == 133
    assert model.dataset_meta['dataset_name'] == 'coco_wholebody'
    ann = json.loads((REPO / 'data/sample/coco/test_coco_wholebody.json').read_text())
    boxes = np.array([[x, y, x + w, y + h] for a in ann['annotations']
                      if a['image_id'] == 197388 for x, y, w, h in [a['bbox']]], np.float32)
    samples = inference_topdown(model, str(REPO / 'data/sample/coco/000000197388.jpg'), boxes)
    assert len(samples) == len(boxes) == 5
    for sample in samples:
        assert sample.pred_instances.keypoints.shape == (2, 133, 2)
        assert np.asarray(sample.pred_instances.lambdas).tolist() == [0, 1]
