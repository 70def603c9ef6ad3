"""``mim train`` / ``mim test`` on the bundled sample data, as a user runs them."""
import json
import re

import numpy as np
import pytest

from tests.conftest import SAMPLE_CONFIG, SAMPLE_DET_CONFIG, SAMPLE_TEST_EPOCHS, run_mim


def _scalars(work_dir):
    (path, ) = work_dir.glob('*/vis_data/scalars.json')
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.new_torch
def test_mim_train_writes_checkpoints_metrics_and_pictures(sample_training):
    work_dir, output = sample_training
    assert (work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth').is_file()
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith(
        f'epoch_{SAMPLE_TEST_EPOCHS}.pth')
    val = [r for r in _scalars(work_dir) if 'coco/AP' in r]
    assert len(val) == 1 and 0.0 <= val[0]['coco/AP'] <= 1.0
    pictures = sorted(p.name for p in (work_dir / 'pose_pictures' /
                                       f'val_{SAMPLE_TEST_EPOCHS}').glob('*.png'))
    assert pictures == ['000817.png', '003799.png', '003896.png']
    # The hook reports both λ; the OCHuman sample has 5 GT boxes.
    assert re.search(r'λ=0: 5 produced / \d kept, λ=1: 5 produced / \d kept', output)


def test_training_logs_loss_and_accuracy_of_every_lambda(sample_training):
    work_dir, _ = sample_training
    train = [r for r in _scalars(work_dir) if 'loss_kpt' in r]
    assert len(train) >= 8
    for record in train:
        for key in ('loss_kpt_lambda0', 'loss_kpt_lambda1', 'acc_pose_lambda0', 'acc_pose_lambda1'):
            assert np.isfinite(record[key]), (key, record)
        # Averaged over the same window as loss_kpt: with equal λ groups the all-λ loss is
        # the mean of the per-λ ones in every iteration, so also over any window (a
        # single-iteration per-λ value beside a 50-iteration mean would not match).
        np.testing.assert_allclose(
            record['loss_kpt'], (record['loss_kpt_lambda0'] + record['loss_kpt_lambda1']) / 2,
            rtol=1e-4)


@pytest.mark.new_torch
def test_mim_test_with_gt_boxes(sample_training, tmp_path):
    work_dir, _ = sample_training
    output = run_mim('test', 'mmpose', str(SAMPLE_CONFIG), '--checkpoint',
                     str(work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth'), '--work-dir',
                     str(tmp_path), '--cfg-options',
                     f'test_evaluator.outfile_prefix={tmp_path}/ochuman')
    assert re.search(r'Epoch\(test\).*coco/AP: [\d.]+', output)
    poses = json.loads((tmp_path / 'ochuman.keypoints.json').read_text())
    assert {p['lambda'] for p in poses} <= {0, 1}
    # 5 boxes x 2 λ, minus what OKS-NMS removed: the file holds what the hook reports kept
    # (on the overlapping OCHuman pairs a weak model's poses of one box can suppress all
    # of another's, so fewer than 5 is possible).
    kept = re.search(r'λ=0: 5 produced / (\d+) kept, λ=1: 5 produced / (\d+) kept', output)
    assert kept, output[-2000:]
    assert 1 <= len(poses) == int(kept.group(1)) + int(kept.group(2)) <= 10
    assert sum(p['lambda'] == 0 for p in poses) == int(kept.group(1))
    assert sorted(p.name for p in (tmp_path / 'pose_pictures' / 'test').glob('*.png')) == [
        '000817.png', '003799.png', '003896.png']


def test_mim_test_with_detections_and_test_time_n_from_cfg_options(sample_training, tmp_path):
    work_dir, _ = sample_training
    checkpoint = str(work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth')
    output = run_mim('test', 'mmpose', str(SAMPLE_DET_CONFIG), '--checkpoint', checkpoint,
                     '--work-dir', str(tmp_path))
    # 33 of the 118 detections score >= 0.3 (the config's bbox_score_thr).
    detections = json.loads((SAMPLE_DET_CONFIG.parents[1] / 'data' / 'sample' / 'coco' /
                             'test_coco_det_AP_H_56.json').read_text())
    kept_boxes = sum(d['score'] >= 0.3 and d['category_id'] == 1 for d in detections)
    assert f'λ=0: {kept_boxes} produced' in output and f'λ=1: {kept_boxes} produced' in output
    assert re.search(r'Epoch\(test\).*coco/AP: [\d.]+', output)

    # The test-time hook sets n=1 without editing the model: only λ=0 poses.
    output = run_mim('test', 'mmpose', str(SAMPLE_DET_CONFIG), '--checkpoint', checkpoint,
                     '--work-dir', str(tmp_path / 'n1'), '--cfg-options',
                     'default_hooks.multi_instance_test.num_instances=1')
    assert '1 instance(s) per box' in output
    assert f'λ=0: {kept_boxes} produced' in output and 'λ=1' not in output.split(
        'MIPNet poses per')[-1].splitlines()[0]
