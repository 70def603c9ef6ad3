"""The OCHuman test configs read each split's own annotation and detection files.

The OCHuman sample is laid out as ``data/ochuman/`` with the file names the configs
use: its three images split into a val part (the two overlapping pairs) and a test
part (one person), each with detections made from its GT boxes. ``mim test`` runs
the W32 OCHuman val and test detector-box configs there, as a user runs them, with a
full-size W32 MIPNet checkpoint (random weights: the AP is not the point, the data
path is). Each run must evaluate exactly its own split's detections.
"""
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpose.registry import MODELS

from tests.conftest import REPO, SAMPLE, run_mim

CONFIGS = REPO / 'configs'
VAL_IMAGES = {2, 3}  # 000817.jpg and 003896.jpg: the two heavily overlapping pairs


def _detections(annotations, jitter: float = 6.0):
    """Per GT box one confident detection and one weaker, shifted one (score 0.4)."""
    dets = []
    for ann in annotations:
        x, y, w, h = ann['bbox']
        dets.append(dict(image_id=ann['image_id'], category_id=1, bbox=[x, y, w, h],
                         score=0.95))
        dets.append(dict(image_id=ann['image_id'], category_id=1,
                         bbox=[x + jitter, y + jitter, w, h], score=0.4))
    return dets


@pytest.fixture(scope='module')
def ochuman_layout(tmp_path_factory):
    """data/ochuman/ as the OCHuman configs expect it, made from the OCHuman sample."""
    root = tmp_path_factory.mktemp('ochuman_protocol')
    cfg = Config.fromfile(str(CONFIGS / '_base_' / 'ochuman_protocol.py'))
    data_root = root / cfg.ochuman_data_root
    (data_root / 'images').mkdir(parents=True)
    for image in (SAMPLE / 'ochuman').glob('*.jpg'):
        shutil.copy(image, data_root / 'images' / image.name)
    sample = json.loads((SAMPLE / 'ochuman' / 'test_ochuman.json').read_text())
    counts = {}
    for split, keep in (('val', lambda i: i in VAL_IMAGES),
                        ('test', lambda i: i not in VAL_IMAGES)):
        files = cfg.ochuman_splits[split]
        part = dict(sample, images=[im for im in sample['images'] if keep(im['id'])],
                    annotations=[a for a in sample['annotations'] if keep(a['image_id'])])
        ann_path = data_root / files.ann_file
        ann_path.parent.mkdir(parents=True, exist_ok=True)
        ann_path.write_text(json.dumps(part))
        dets = _detections(part['annotations'])
        (root / files.bbox_file).write_text(json.dumps(dets))
        counts[split] = len(dets)

    # A full-size W32 MIPNet checkpoint (random weights) for `mim test`.
    model = MODELS.build(Config.fromfile(str(CONFIGS / 'mipnet_hrnet_w32_ochuman.py')).model)
    checkpoint = root / 'w32_random.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    return root, checkpoint, counts


@pytest.mark.parametrize('split', ['val', 'test'])
def test_ochuman_test_configs_use_their_own_split(ochuman_layout, split):
    root, checkpoint, counts = ochuman_layout
    config = CONFIGS / f'mipnet_hrnet_w32_ochuman_{split}-det.py'
    output = run_mim('test', 'mmpose', str(config), '--checkpoint', str(checkpoint),
                     '--work-dir', str(root / f'work_{split}'), cwd=root)
    assert re.search(r'Epoch\(test\).*coco/AP: [\d.]+', output)
    # Every detection of this split (none dropped: the authors keep all) gave 2 poses.
    n = counts[split]
    assert re.search(rf'λ=0: {n} produced / \d+ kept, λ=1: {n} produced / \d+ kept', output), \
        output[-3000:]


def test_detections_of_the_other_split_are_refused(ochuman_layout):
    """The val config given the test split's detections fails loudly, naming the file."""
    root, checkpoint, _ = ochuman_layout
    cfg = Config.fromfile(str(CONFIGS / '_base_' / 'ochuman_protocol.py'))
    wrong = cfg.ochuman_splits.test.bbox_file
    with pytest.raises(AssertionError) as error:
        run_mim('test', 'mmpose', str(CONFIGS / 'mipnet_hrnet_w32_ochuman_val-det.py'),
                '--checkpoint', str(checkpoint), '--work-dir', str(root / 'work_wrong'),
                '--cfg-options', f'test_dataloader.dataset.bbox_file={wrong}', cwd=root)
    assert Path(wrong).name in str(error.value)
    assert 'image' in str(error.value)
