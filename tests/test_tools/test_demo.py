"""tools/demo.py on the sample model (random weights) and a real OCHuman image."""
import json
import os
import subprocess
import sys
from pathlib import Path

import mmcv
import mmdet
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from tests.conftest import REPO, SAMPLE, SAMPLE_CONFIG, load_tool

TOOL = REPO / 'tools' / 'demo.py'
IMAGE = str(SAMPLE / 'ochuman' / '003896.jpg')  # 602 x 900
OCHUMAN_ANN = str(SAMPLE / 'ochuman' / 'test_ochuman.json')
CONFIG = str(SAMPLE_CONFIG)




demo = load_tool(TOOL, 'mipnet_demo_cli')


@pytest.fixture(scope='module')
def det_file(tmp_path_factory):
    """mmdet results with the image's two GT boxes (id 3), a weak box and another image's box."""
    anns = json.loads(open(OCHUMAN_ANN).read())['annotations']
    gt = [a['bbox'] for a in anns if a['image_id'] == 3]
    dets = [dict(image_id=3, category_id=1, bbox=gt[0], score=0.95),
            dict(image_id=3, category_id=1, bbox=gt[1], score=0.9),
            dict(image_id=3, category_id=1, bbox=[10, 10, 50, 80], score=0.1),  # < bbox-thr
            dict(image_id=2, category_id=1, bbox=[0, 0, 100, 100], score=0.99)]
    path = tmp_path_factory.mktemp('dets') / 'dets.json'
    path.write_text(json.dumps(dets))
    return str(path), gt


def read_outputs(out_dir):
    result = json.loads((out_dir / '003896.json').read_text())
    image = mmcv.imread(str(out_dir / '003896.png'))
    return result, image


def test_gt_boxes_from_bbox_file_by_ann_file(det_file, tmp_path):
    bbox_file, gt = det_file
    torch.manual_seed(0)
    assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', bbox_file, '--ann-file',
                      OCHUMAN_ANN, '--out-dir', str(tmp_path), '--device', 'cpu']) == 0
    result, image = read_outputs(tmp_path)
    assert image.shape == (900, 602, 3)  # a real picture of the input's size
    assert result['image'] == IMAGE and result['num_instances'] == 2
    assert result['box_source'] == 'bbox_file'
    poses = result['poses']
    # 2 boxes (the weak one and image 2's are dropped) x N = 2 poses.
    assert [(p['box_index'], p['lambda']) for p in poses] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [p['bbox'] for p in poses[::2]] == [[x, y, x + w, y + h] for x, y, w, h in gt]
    assert [p['bbox_score'] for p in poses] == [0.95, 0.95, 0.9, 0.9]
    assert all(isinstance(p['kept_after_nms'], bool) for p in poses)
    assert any(p['kept_after_nms'] for p in poses)


def test_cli_subprocess_with_image_id(det_file, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='2')
    proc = subprocess.run(
        [sys.executable, str(TOOL), IMAGE, '--config', CONFIG, '--bbox-file', det_file[0],
         '--image-id', '3', '--num-instances', '1', '--out-dir', str(tmp_path), '--device',
         'cpu'], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert '2 boxes x 1 instances' in proc.stdout
    result, image = read_outputs(tmp_path)
    assert image.shape == (900, 602, 3)
    # --num-instances 1: one pose (λ = 0) per box.
    assert result['num_instances'] == 1
    assert [(p['box_index'], p['lambda']) for p in result['poses']] == [(0, 0), (1, 0)]


def config_with(tmp_path, **evaluator) -> str:
    """The sample config with its test_evaluator updated, as a config file."""
    path = tmp_path / 'config.py'
    path.write_text(f'_base_ = [{CONFIG!r}]\ntest_evaluator = {evaluator!r}\n')
    return str(path)


def run_demo(det_file, out_dir, config=CONFIG, *extra) -> dict:
    torch.manual_seed(0)  # the same random weights in every run
    assert demo.main([IMAGE, '--config', config, '--bbox-file', det_file[0], '--image-id', '3',
                      '--out-dir', str(out_dir), '--device', 'cpu', *extra]) == 0
    return read_outputs(out_dir)[0]


def test_nms_mode_none_in_the_config_keeps_every_pose(det_file, tmp_path, capsys):
    """The CrowdPose protocol (no NMS in the metric): every (box, λ) pose kept and drawn."""
    default = run_demo(det_file, tmp_path / 'default')
    assert '(oks_nms, thr 0.9)' in capsys.readouterr().out
    assert not all(p['kept_after_nms'] for p in default['poses'])  # the λ=1 poses overlap
    result = run_demo(det_file, tmp_path / 'none', config_with(tmp_path, nms_mode='none'))
    assert "4 poses kept (nms_mode 'none': no NMS)" in capsys.readouterr().out
    assert [p['kept_after_nms'] for p in result['poses']] == [True] * 4
    assert [p['keypoints'] for p in result['poses']] == [p['keypoints'] for p in default['poses']]


def test_nms_thr_defaults_to_the_configs(det_file, tmp_path, capsys):
    assert demo.parse_args([IMAGE, '--config', CONFIG, '--out-dir', 'x']).nms_thr is None
    from_config = run_demo(det_file, tmp_path / 'cfg', config_with(tmp_path, nms_thr=0.2))
    assert '(oks_nms, thr 0.2)' in capsys.readouterr().out
    from_flag = run_demo(det_file, tmp_path / 'flag', CONFIG, '--nms-thr', '0.2')
    assert '(oks_nms, thr 0.2)' in capsys.readouterr().out
    assert from_flag['poses'] == from_config['poses']
    assert sum(p['kept_after_nms'] for p in from_config['poses']) < 4


def test_all_boxes_under_threshold(det_file, tmp_path, capsys):
    assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', det_file[0], '--image-id', '3',
                      '--bbox-thr', '0.99', '--out-dir', str(tmp_path), '--device', 'cpu']) == 0
    assert 'no person box scores at least --bbox-thr 0.99' in capsys.readouterr().err
    result, image = read_outputs(tmp_path)
    assert result['poses'] == [] and image.shape == (900, 602, 3)  # the bare picture


def test_whole_image_default(tmp_path):
    assert demo.main([IMAGE, '--config', CONFIG, '--out-dir', str(tmp_path),
                      '--device', 'cpu']) == 0
    result, image = read_outputs(tmp_path)
    assert image.shape == (900, 602, 3) and result['box_source'] == 'whole_image'
    assert [p['lambda'] for p in result['poses']] == [0, 1]
    assert all(p['bbox'] == [0, 0, 602, 900] for p in result['poses'])


def test_detector_boxes_from_a_real_mmdet_model(tmp_path):
    """The --det-config path with a real RTMDet-tiny (random weights: no download)."""
    from mmdet.apis import inference_detector, init_detector
    from mmengine.registry import init_default_scope

    det_cfg = str(Path(mmdet.__file__).parent / '.mim' / 'configs' / 'rtmdet' /
                  'rtmdet_tiny_8xb32-300e_coco.py')
    torch.manual_seed(0)
    detector = init_detector(det_cfg, None, device='cpu')
    det_ckpt = tmp_path / 'rtmdet_random.pth'
    torch.save({'state_dict': detector.state_dict()}, det_ckpt)
    # Untrained, it finds no persons; let its most frequent class stand for
    # "person" (--det-cat-id) and keep its 3 best boxes: the plumbing is the same.
    found = inference_detector(detector, IMAGE)
    label = int(found.pred_instances.labels.mode().values)
    thr = float(found.pred_instances.scores[found.pred_instances.labels == label][2])
    expected, scores = demo.boxes_from_detection(found, label, thr)
    assert len(expected) >= 3
    init_default_scope('mmpose')
    assert demo.main([IMAGE, '--config', CONFIG, '--det-config', det_cfg,
                      '--det-checkpoint', str(det_ckpt), '--det-cat-id', str(label),
                      '--bbox-thr', str(thr),
                      '--out-dir', str(tmp_path / 'out'), '--device', 'cpu']) == 0
    result, image = read_outputs(tmp_path / 'out')
    assert result['box_source'] == 'detector'
    assert image.shape == (900, 602, 3)
    assert len(result['poses']) == 2 * len(expected)
    np.testing.assert_allclose([p['bbox'] for p in result['poses'][::2]], expected, atol=1e-3)
    np.testing.assert_allclose([p['bbox_score'] for p in result['poses'][::2]], scores,
                               rtol=1e-5)


def test_boxes_from_file_and_detection_filters(det_file):
    boxes, scores = demo.boxes_from_file(det_file[0], '3', 1, 0.05)  # ids compared as text
    assert len(boxes) == 3 and scores.tolist() == [0.95, 0.9, 0.1]
    boxes, scores = demo.boxes_from_file(det_file[0], 3, 1, 0.5)
    assert len(boxes) == 2
    boxes, _ = demo.boxes_from_file(det_file[0], 3, 1, 0.99)  # matched, but all too weak
    assert boxes.shape == (0, 4)


@pytest.mark.parametrize('args, message', [
    (['missing.jpg'], 'image not found: missing.jpg'),
    ([IMAGE, '--config', 'nope.py'], 'config not found: nope.py'),
    ([IMAGE, '--checkpoint', 'nope.pth'], 'checkpoint not found: nope.pth'),
    ([IMAGE, '--bbox-file', 'nope.json', '--image-id', '3'], 'bbox file not found: nope.json'),
    ([IMAGE, '--bbox-file', OCHUMAN_ANN], '--bbox-file needs --image-id, or --ann-file'),
])
def test_clear_errors(args, message, tmp_path, capsys):
    argv = args + ([] if '--config' in args else ['--config', CONFIG])
    assert demo.main(argv + ['--out-dir', str(tmp_path)]) == 1
    assert message in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written


def test_no_matching_image(det_file, tmp_path, capsys):
    base = [IMAGE, '--config', CONFIG, '--bbox-file', det_file[0], '--out-dir', str(tmp_path)]
    assert demo.main(base + ['--image-id', '7']) == 1
    err = capsys.readouterr().err
    assert 'no detections of category 1 for image_id 7' in err and det_file[0] in err
    coco_ann = str(SAMPLE / 'coco' / 'test_coco.json')
    assert demo.main(base + ['--ann-file', coco_ann]) == 1
    assert f'no image named 003896.jpg in the "images" of {coco_ann}' in capsys.readouterr().err


def test_too_many_instances(tmp_path, capsys):
    assert demo.main([IMAGE, '--config', CONFIG, '--num-instances', '3', '--out-dir',
                      str(tmp_path), '--device', 'cpu']) == 1
    assert 'num_instances=3' in capsys.readouterr().err


def test_detection_sample_filter():
    det = DetDataSample()
    det.pred_instances = InstanceData(bboxes=torch.tensor([[1., 2., 3., 4.], [5., 6., 7., 8.]]),
                                      scores=torch.tensor([0.5, 0.9]),
                                      labels=torch.tensor([0, 1]))
    boxes, scores = demo.boxes_from_detection(det, label=1, bbox_thr=0.3)
    assert np.allclose(boxes, [[5, 6, 7, 8]]) and np.allclose(scores, [0.9])


def test_nan_and_empty_boxes_are_dropped_with_a_warning(det_file, tmp_path):
    """A NaN box and a zero-width box give no poses, a warning, and no NaN in the JSON."""
    bbox_file, gt = det_file
    dets = json.loads(Path(bbox_file).read_text())
    dets += [dict(image_id=3, category_id=1, bbox=[float('nan'), 10, 50, 80], score=0.9),
             dict(image_id=3, category_id=1, bbox=[100, 10, 0, 80], score=0.9)]
    damaged = tmp_path / 'damaged.json'
    damaged.write_text(json.dumps(dets))
    out = tmp_path / 'out'
    with pytest.warns(UserWarning, match=r'dropped 2 of 4 boxes that are not finite or have no '
                      r'width or height \(rows 2, 3\)'):
        assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', str(damaged),
                          '--image-id', '3', '--out-dir', str(out), '--device', 'cpu']) == 0
    text = (out / '003896.json').read_text()
    assert 'NaN' not in text and 'Infinity' not in text
    poses = json.loads(text)['poses']
    assert sorted({p['box_index'] for p in poses}) == [0, 1]  # the two GT boxes only


@pytest.mark.parametrize('damage', ['empty', 'text', 'truncated'])
def test_undecodable_image_is_a_one_line_error(tmp_path, capsys, damage):
    image = tmp_path / 'broken.jpg'
    content = Path(IMAGE).read_bytes()
    image.write_bytes({'empty': b'', 'text': b'not an image\n' * 40,
                       'truncated': content[:300]}[damage])
    out = tmp_path / 'out'
    assert demo.main([str(image), '--config', CONFIG, '--out-dir', str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f'error: image {image} cannot be decoded')
    assert not out.exists()
