"""The crowd-evidence experiment: its box bookkeeping, and a 1-epoch smoke run.

The full experiment (both models trained for the configs' epoch budget) is not run
here; it is documented in docs/crowd_evidence.md.
"""
import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, load_tool

TOOL = REPO / 'tools' / 'experiments' / 'crowd_evidence.py'


@pytest.fixture(scope='module')
def tool():
    return load_tool(TOOL, 'crowd_evidence')


def _person(tool, ann_id, box, num_keypoints=10, image_id=1):
    return tool.Person(ann_id, image_id, tuple(float(v) for v in box), num_keypoints,
                       box[2] * box[3])


def test_pairs_drop_one_box_per_pair_and_a_shared_box_once(tool):
    # 2 overlaps 1 and 3 (a chain); 4 is alone; 5 and 6 overlap, 6 has fewer keypoints.
    persons = [
        _person(tool, 1, (0, 0, 10, 20)),
        _person(tool, 2, (4, 0, 10, 20)),
        _person(tool, 3, (8, 0, 10, 20)),
        _person(tool, 4, (100, 100, 10, 20)),
        _person(tool, 5, (0, 0, 10, 20), image_id=2),
        _person(tool, 6, (1, 1, 10, 20), num_keypoints=4, image_id=2),
    ]
    pairs = tool.overlapping_pairs(persons, 0.3)
    assert sorted(p.ann_ids for p in pairs) == [(1, 2), (2, 3), (5, 6)]
    assert {p.ann_ids: p.removed for p in pairs} == {(1, 2): 2, (2, 3): 2, (5, 6): 6}
    # IoU exactly at the threshold is not an overlap (strictly greater).
    a, b = _person(tool, 7, (0, 0, 10, 10)), _person(tool, 8, (0, 0, 10, 3))
    assert tool.box_iou(a.box, b.box) == pytest.approx(0.3)
    assert tool.overlapping_pairs([a, b], 0.3) == []


def test_sample_training_images_have_the_documented_pairs(tool, tmp_path):
    data = tool.prepare_eval_data(tmp_path, 0.3)
    assert len(data['gt']['images']) == 31 and len(data['persons']) == 91
    ochuman = {p.ann_ids: p for p in data['pairs'] if p.image_id in (2, 3)}
    assert set(ochuman) == {(2, 3), (4, 5)}
    assert ochuman[(2, 3)].iou == pytest.approx(0.59, abs=0.01)
    assert ochuman[(4, 5)].iou == pytest.approx(0.78, abs=0.01)
    kept = json.loads(data['bbox_files']['pairs_removed'].read_text())
    everything = json.loads(data['bbox_files']['all_boxes'].read_text())
    removed = {p.removed for p in data['pairs']}
    assert len(everything) == 91 and len(kept) == 91 - len(removed)
    assert all(d['score'] == 1.0 and d['category_id'] == 1 for d in everything)


def test_recovery_uses_coco_oks_of_the_gt(tool, tmp_path):
    kpts = np.zeros((17, 3))
    kpts[:, 0] = np.linspace(10, 90, 17)
    kpts[:, 1] = np.linspace(20, 180, 17)
    kpts[:, 2] = 2
    kpts[3:, 2] = 0  # only 3 labelled keypoints count
    gt_ann = dict(id=9, image_id=1, keypoints=kpts.reshape(-1).tolist(), area=8000.0)
    exact = dict(image_id=1, keypoints=np.concatenate(
        [kpts[:, :2], np.full((17, 1), 0.01)], axis=1).reshape(-1).tolist())
    moved = np.asarray(exact['keypoints']).reshape(17, 3)
    moved[3:, :2] += 500  # unlabelled keypoints far off: OKS unchanged
    assert tool.best_oks(gt_ann, [dict(exact, keypoints=moved.reshape(-1).tolist())]) == \
        pytest.approx(1.0)
    far = moved.copy()
    far[:3, :2] += 200
    assert tool.best_oks(gt_ann, [dict(exact, keypoints=far.reshape(-1).tolist())]) < 0.01
    assert tool.best_oks(gt_ann, []) == 0.0


def test_one_epoch_smoke_run_writes_table_and_pictures(tmp_path):
    # Without --out-dir the page goes under the work dir: the committed one is kept.
    work_dir = tmp_path / 'work'
    out_dir = work_dir / 'page'
    committed = (REPO / 'docs' / 'crowd_evidence.md').read_bytes()
    proc = subprocess.run(
        [sys.executable, str(TOOL), '--epochs', '1', '--work-dir', str(work_dir)],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (REPO / 'docs' / 'crowd_evidence.md').read_bytes() == committed
    report = (out_dir / 'crowd_evidence.md').read_text()
    assert '| model | (a) AP | (a) AR | (b) AP | (b) AR |' in report
    for label in ('stock HRNet (N=1)', 'MIPNet, λ=0 only', 'MIPNet (N=2)'):
        assert f'| {label} |' in report
    assert 'training images' in report and 'Training time' in report
    results = json.loads((out_dir / 'crowd_evidence' / 'results.json').read_text())
    assert results['setup']['epochs'] == 1
    assert results['setup']['train_samples'] == 91
    for model in ('stock', 'mipnet_l0', 'mipnet'):
        for setting in ('all_boxes', 'pairs_removed', 'val'):
            assert 0.0 <= results['metrics'][model][setting]['AP'] <= 1.0
        assert len(results['recovered'][model]) == 6
    pictures = sorted((out_dir / 'crowd_evidence').glob('*.png'))
    assert len(pictures) == 6
    assert all(f"crowd_evidence/{p.name}" in report for p in pictures)
    # The stock model gives one pose per box; MIPNet up to two.
    stock = json.loads((work_dir / 'eval' / 'stock_pairs_removed.keypoints.json').read_text())
    assert len(stock) <= 85 and all(p.get('lambda', 0) == 0 for p in stock)
