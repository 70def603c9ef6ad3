"""The converted RTMPose-m MIPNet config through MMPose's own tools on the sample data."""
import json
import re

from tests.conftest import REPO, run_mim

CONFIG = REPO / 'configs' / 'mipnet_sample_rtmpose-m_coco-mini-256x192.py'
DETECTIONS = REPO / 'data' / 'sample' / 'coco' / 'test_coco_det_AP_H_56.json'


def test_rtmpose_mipnet_trains_and_tests_with_gt_boxes_and_detections(tmp_path):
    work = tmp_path / 'rtm'
    output = run_mim('train', 'mmpose', str(CONFIG), '--work-dir', str(work))
    # Every λ has its own SimCC loss and accuracy term in the log, all finite.
    losses = [float(v) for v in re.findall(r'loss_kpt_lambda1: ([\d.e+-]+)', output)]
    assert losses and all(v == v and v < 1e6 for v in losses)
    assert 'acc_pose_lambda0' in output and 'Switch pipeline now!' in output
    checkpoint = str(work / 'epoch_3.pth')

    # GT boxes (the OCHuman sample): 5 persons, 2 poses each.
    output = run_mim('test', 'mmpose', str(CONFIG), '--checkpoint', checkpoint,
                     '--work-dir', str(tmp_path / 'gt'))
    assert 'λ=0: 5 produced' in output and 'λ=1: 5 produced' in output
    assert re.search(r'Epoch\(test\).*coco/AP: [\d.]+', output)

    # A detection file (mmdet/COCO results format) on the COCO sample images.
    kept = sum(d['score'] >= 0.3 and d['category_id'] == 1
               for d in json.loads(DETECTIONS.read_text()))
    output = run_mim(
        'test', 'mmpose', str(CONFIG), '--checkpoint', checkpoint,
        '--work-dir', str(tmp_path / 'det'), '--cfg-options',
        'test_dataloader.dataset.type=MultiInstanceCocoDataset',
        'test_dataloader.dataset.ann_file=coco/test_coco.json',
        f'test_dataloader.dataset.bbox_file={DETECTIONS}',
        'test_dataloader.dataset.data_prefix.img=coco/',
        'test_dataloader.dataset.filter_cfg.bbox_score_thr=0.3',
        f'test_evaluator.ann_file={REPO}/data/sample/coco/test_coco.json')
    assert f'λ=0: {kept} produced' in output and f'λ=1: {kept} produced' in output
    assert re.search(r'Epoch\(test\).*coco/AP: [\d.]+', output)
