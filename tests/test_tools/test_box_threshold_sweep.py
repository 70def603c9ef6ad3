import json
import subprocess
import sys

from tests.conftest import REPO, SAMPLE_DET_CONFIG, SAMPLE_TEST_EPOCHS


def test_sweep_evaluates_each_threshold_and_n(sample_training, tmp_path):
    work_dir, _ = sample_training
    out = tmp_path / 'sweep.json'
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/box_threshold_sweep.py', str(SAMPLE_DET_CONFIG),
         str(work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth'), '--thresholds', '0.3', '0.9',
         '--work-dir', str(tmp_path / 'runs'), '--json', str(out)],
        cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = json.loads(out.read_text())['rows']
    assert [(r['bbox_score_thr'], r['num_instances']) for r in rows] == [
        (0.3, 1), (0.3, 2), (0.9, 1), (0.9, 2)]
    detections = json.loads((REPO / 'data' / 'sample' / 'coco' /
                             'test_coco_det_AP_H_56.json').read_text())
    for row in rows:
        assert row['num_boxes'] == sum(d['score'] > row['bbox_score_thr'] for d in detections)
        assert 0.0 <= row['metrics']['coco/AP'] <= 1.0
    assert 'box thr' in proc.stdout and 'coco/AP n=2' in proc.stdout


def test_sweep_needs_a_detection_config(tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/box_threshold_sweep.py',
         str(REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-mini-128x96.py'),
         str(tmp_path / 'x.pth')], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode != 0
    assert 'bbox_file is not set' in proc.stderr
