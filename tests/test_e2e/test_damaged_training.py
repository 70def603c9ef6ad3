"""`mim train` on an annotation file with one NaN visibility flag: an error, no checkpoint."""
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, SAMPLE, SAMPLE_CONFIG


def test_nan_visibility_flag_stops_training_before_any_checkpoint(tmp_path):
    ann = json.loads((SAMPLE / 'coco_mini' / 'annotations' /
                      'person_keypoints_train2017.json').read_text())
    victim = next(a for a in ann['annotations'] if a.get('num_keypoints', 0) > 5)
    victim['keypoints'][2] = float('nan')
    damaged = tmp_path / 'train_nan.json'
    damaged.write_text(json.dumps(ann))
    work_dir = tmp_path / 'work'
    mim = Path(sys.executable).with_name('mim')
    proc = subprocess.run(
        [str(mim), 'train', 'mmpose', str(SAMPLE_CONFIG), '--work-dir', str(work_dir),
         '--cfg-options', f'train_dataloader.dataset.ann_file={damaged}',
         'train_cfg.max_epochs=2'], cwd=REPO, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'AnnotationFileError' in output and str(damaged) in output
    assert f"annotation id {victim['id']}: `keypoints` of keypoint 0 has visibility nan" \
        in output
    assert not list(work_dir.glob('**/*.pth'))
    assert 'Training finished' not in output
