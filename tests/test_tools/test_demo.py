"""tools/demo.py on the sample model (random weights): a real OCHuman image, the folder of
sample images, a video made of them, and the webcam argument.

The demo is a command line over MIPNetInferencer: what it writes is the inferencer's
(MMPose's layout, DIR/visualizations and DIR/predictions); the inferencer's own rules (box
sources, output checks, progress) are tested in tests/test_apis."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import mmcv
import mmdet
import numpy as np
import pytest
import torch
from mmpose.evaluation.functional import nms

from mipnet_mmpose.apis import MIPNetInferencer, boxes_from_file
from mipnet_mmpose.utils.output_paths import RECORD_NAME
from tests.conftest import REPO, SAMPLE, SAMPLE_CONFIG, SAMPLE_TEST_EPOCHS, load_tool
from tests.test_tools.sample_video import OCHUMAN_IMAGES, count_frames, write_sample_video

TOOL = REPO / 'tools' / 'demo.py'
IMAGE = str(SAMPLE / 'ochuman' / '003896.jpg')  # 602 x 900
OCHUMAN_ANN = str(SAMPLE / 'ochuman' / 'test_ochuman.json')
CONFIG = str(SAMPLE_CONFIG)
STOCK_CONFIG = str(REPO / 'configs' / 'experiments' / 'crowd_evidence_stock-hrnet_n1.py')

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


def read_outputs(out_dir, stem='003896'):
    """The pose records and the picture the demo wrote for one image."""
    records = json.loads((out_dir / 'predictions' / f'{stem}.json').read_text())
    image = mmcv.imread(str(out_dir / 'visualizations' / f'{stem}.jpg'))
    return records, image


def test_gt_boxes_from_bbox_file_by_ann_file(det_file, tmp_path):
    bbox_file, gt = det_file
    torch.manual_seed(0)
    assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', bbox_file, '--ann-file',
                      OCHUMAN_ANN, '--out-dir', str(tmp_path), '--device', 'cpu']) == 0
    poses, image = read_outputs(tmp_path)
    assert image.shape == (900, 602, 3)  # a real picture of the input's size
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
    poses, image = read_outputs(tmp_path)
    assert image.shape == (900, 602, 3)
    # --num-instances 1: one pose (λ = 0) per box.
    assert [(p['box_index'], p['lambda']) for p in poses] == [(0, 0), (1, 0)]


def config_with(tmp_path, **evaluator) -> str:
    """The sample config with its test_evaluator updated, as a config file."""
    path = tmp_path / 'config.py'
    path.write_text(f'_base_ = [{CONFIG!r}]\ntest_evaluator = {evaluator!r}\n')
    return str(path)


def run_demo(det_file, out_dir, config=CONFIG, *extra) -> list:
    torch.manual_seed(0)  # the same random weights in every run
    assert demo.main([IMAGE, '--config', config, '--bbox-file', det_file[0], '--image-id', '3',
                      '--out-dir', str(out_dir), '--device', 'cpu', *extra]) == 0
    return read_outputs(out_dir)[0]


def test_nms_mode_none_in_the_config_keeps_every_pose(det_file, tmp_path, capsys):
    """The CrowdPose protocol (no NMS in the metric): every (box, λ) pose kept and drawn."""
    default = run_demo(det_file, tmp_path / 'default')
    assert '(oks_nms, thr 0.9)' in capsys.readouterr().out
    assert not all(p['kept_after_nms'] for p in default)  # the λ=1 poses overlap
    result = run_demo(det_file, tmp_path / 'none', config_with(tmp_path, nms_mode='none'))
    assert "4 of 4 poses kept (nms_mode 'none': no NMS)" in capsys.readouterr().out
    assert [p['kept_after_nms'] for p in result] == [True] * 4
    assert [p['keypoints'] for p in result] == [p['keypoints'] for p in default]


def test_nms_thr_defaults_to_the_configs(det_file, tmp_path, capsys):
    assert demo.parse_args([IMAGE, '--config', CONFIG, '--out-dir', 'x']).nms_thr is None
    from_config = run_demo(det_file, tmp_path / 'cfg', config_with(tmp_path, nms_thr=0.2))
    assert '(oks_nms, thr 0.2)' in capsys.readouterr().out
    from_flag = run_demo(det_file, tmp_path / 'flag', CONFIG, '--nms-thr', '0.2')
    assert '(oks_nms, thr 0.2)' in capsys.readouterr().out
    assert from_flag == from_config
    assert sum(p['kept_after_nms'] for p in from_config) < 4


def test_all_boxes_under_threshold(det_file, tmp_path):
    """A detection file's image with no box scoring enough: no poses (not a whole-image box)."""
    with pytest.warns(UserWarning, match='no person box scores at least bbox_thr 0.99'):
        assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', det_file[0], '--image-id',
                          '3', '--bbox-thr', '0.99', '--out-dir', str(tmp_path),
                          '--device', 'cpu']) == 0
    poses, image = read_outputs(tmp_path)
    assert poses == [] and image.shape == (900, 602, 3)  # the bare picture


def test_whole_image_default(tmp_path):
    assert demo.main([IMAGE, '--config', CONFIG, '--out-dir', str(tmp_path),
                      '--device', 'cpu']) == 0
    poses, image = read_outputs(tmp_path)
    assert image.shape == (900, 602, 3)
    assert [p['lambda'] for p in poses] == [0, 1]
    assert all(p['bbox'] == [0, 0, 602, 900] for p in poses)


@pytest.mark.new_torch
def test_checkpoint_written_by_mim_train(sample_training, tmp_path):
    """--checkpoint with a file `mim train` wrote (weights, optimizer, message hub with numpy
    arrays): the demo loads it through MMPose's init_model and draws the trained model's
    poses, those inference_mipnet gives with the same weights."""
    from mipnet_mmpose.apis import inference_mipnet, init_mipnet
    work_dir, _ = sample_training
    checkpoint = str(work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth')
    assert demo.main([IMAGE, '--config', CONFIG, '--checkpoint', checkpoint,
                      '--out-dir', str(tmp_path), '--device', 'cpu']) == 0
    poses, image = read_outputs(tmp_path)
    assert image.shape == (900, 602, 3)
    assert [p['lambda'] for p in poses] == [0, 1]
    expected = inference_mipnet(init_mipnet(CONFIG, checkpoint, device='cpu'), IMAGE,
                                np.array([[0, 0, 602, 900]]))
    np.testing.assert_allclose([p['keypoints'] for p in poses],
                               [r['keypoints'] for r in expected], atol=1e-3)


def test_detector_boxes_from_a_real_mmdet_model(tmp_path):
    """The --det-config path with a real RTMDet-tiny (random weights: no download): its boxes
    are kept as MMPose's inferencer and demo keep them, scoring above --bbox-thr (strictly),
    then IoU NMS at --det-nms-thr."""
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
    found = inference_detector(detector, IMAGE).pred_instances.cpu().numpy()
    label = int(np.bincount(found.labels).argmax())
    thr = float(found.scores[found.labels == label][3])
    keep = (found.labels == label) & (found.scores > thr)  # the 4th best box is not kept
    scored = np.concatenate([found.bboxes[keep], found.scores[keep, None]], axis=1)
    scored = scored[nms(scored, 0.3)]
    assert 3 >= len(scored) >= 1
    init_default_scope('mmpose')
    assert demo.main([IMAGE, '--config', CONFIG, '--det-config', det_cfg,
                      '--det-checkpoint', str(det_ckpt), '--det-cat-id', str(label),
                      '--bbox-thr', str(thr),
                      '--out-dir', str(tmp_path / 'out'), '--device', 'cpu']) == 0
    poses, image = read_outputs(tmp_path / 'out')
    assert image.shape == (900, 602, 3)
    assert len(poses) == 2 * len(scored)
    np.testing.assert_allclose([p['bbox'] for p in poses[::2]], scored[:, :4], atol=1e-3)
    np.testing.assert_allclose([p['bbox_score'] for p in poses[::2]], scored[:, 4], rtol=1e-5)


def test_boxes_from_file_and_detection_filters(det_file):
    boxes, scores = boxes_from_file(det_file[0], '3', 1, 0.05)  # ids compared as text
    assert len(boxes) == 3 and scores.tolist() == [0.95, 0.9, 0.1]
    boxes, scores = boxes_from_file(det_file[0], 3, 1, 0.9)  # at least the threshold
    assert len(boxes) == 2
    boxes, _ = boxes_from_file(det_file[0], 3, 1, 0.99)  # matched, but all too weak
    assert boxes.shape == (0, 4)


@pytest.mark.parametrize('args, message', [
    (['missing.jpg'], 'input not found: missing.jpg (give an image, a folder of images, '
                      'a video file or a webcam index)'),
    ([IMAGE, '--config', 'nope.py'], 'config not found: nope.py'),
    ([IMAGE, '--checkpoint', 'nope.pth'], 'checkpoint not found: nope.pth'),
    ([IMAGE, '--bbox-file', 'nope.json', '--image-id', '3'], 'bbox file not found: nope.json'),
    ([IMAGE, '--bbox-file', OCHUMAN_ANN], f'Detection file `{OCHUMAN_ANN}` (`bbox_file`) must '
     'hold a JSON list of detections'),
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
    text = (out / 'predictions' / '003896.json').read_text()
    assert 'NaN' not in text and 'Infinity' not in text
    poses = json.loads(text)
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
    assert len(err) == 1 and err[0].startswith(f'error: input 0: image {image} cannot be '
                                               'decoded')
    assert not out.exists()


def write_dets(path: Path, dets: list) -> str:
    path.write_text(json.dumps(dets))
    return str(path)


def test_single_image_detection_file_needs_no_image_id(det_file, tmp_path):
    only_image_3 = [d for d in json.loads(Path(det_file[0]).read_text()) if d['image_id'] == 3]
    bbox_file = write_dets(tmp_path / 'one_image.json', only_image_3)
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match='holds the detections of one image'):
        assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', bbox_file, '--out-dir',
                          str(tmp_path / 'out'), '--device', 'cpu']) == 0
    poses, _ = read_outputs(tmp_path / 'out')
    assert [(p['box_index'], p['lambda']) for p in poses] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [p['bbox_score'] for p in poses] == [0.95, 0.95, 0.9, 0.9]


def test_detection_file_of_many_images_needs_an_id(det_file, tmp_path, capsys):
    assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', det_file[0], '--out-dir',
                      str(tmp_path)]) == 1
    assert (f'--bbox-file {det_file[0]} holds the detections of 2 images: give --image-id '
            '(one image) or --ann-file') in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope='module')
def gt_dets_of_all_images(tmp_path_factory):
    """Every OCHuman sample GT box as a detection (score 0.9) of its image id."""
    anns = json.loads(Path(OCHUMAN_ANN).read_text())['annotations']
    path = tmp_path_factory.mktemp('gt_dets') / 'gt_dets.json'
    return write_dets(path, [dict(image_id=a['image_id'], category_id=1, bbox=a['bbox'],
                                  score=0.9) for a in anns])


def test_folder_with_progress_bar(gt_dets_of_all_images, tmp_path, capsys):
    """The folder of sample images (and their annotation JSON, skipped): one picture and one
    JSON per image, boxes found by file name, progress lines with frames per second."""
    folder = str(SAMPLE / 'ochuman')
    torch.manual_seed(0)
    assert demo.main([folder, '--config', CONFIG, '--bbox-file', gt_dets_of_all_images,
                      '--ann-file', OCHUMAN_ANN, '--out-dir', str(tmp_path),
                      '--device', 'cpu']) == 0
    out = capsys.readouterr().out
    # Progress in whole lines: a log line of the run (MMPose's "the output image has been
    # saved") never shares one.
    progress = [line for line in out.splitlines() if '/3 frames' in line]
    assert progress and all(re.fullmatch(r'[1-3]/3 frames, [\d.]+ frames/s, elapsed \d+ s, '
                                         r'ETA \d+ s', line) for line in progress)
    assert progress[-1].startswith('3/3 frames') and '\r' not in out
    assert re.search(r'3 frames in [\d.]+ s = [\d.]+ frames/s \(median frame \d+ ms = '
                     r'[\d.]+ frames/s; .*\); 5 boxes x 2 instances -> \d+ of 10 poses kept '
                     r'\(oks_nms, thr 0.9\)', out)
    boxes_per_image = {'003799': 1, '000817': 2, '003896': 2}  # the GT boxes of each image
    # Beside the outputs, each folder's record of the files the demo wrote there.
    assert sorted(p.name for p in (tmp_path / 'predictions').iterdir()) == \
        sorted([f'{stem}.json' for stem in boxes_per_image] + [RECORD_NAME])
    assert sorted(p.name for p in (tmp_path / 'visualizations').iterdir()) == \
        sorted([f'{stem}.jpg' for stem in boxes_per_image] + [RECORD_NAME])
    for stem, num_boxes in boxes_per_image.items():
        poses, picture = read_outputs(tmp_path, stem)
        assert [p['lambda'] for p in poses] == [0, 1] * num_boxes
        assert all(isinstance(p['kept_after_nms'], bool) for p in poses)
        assert picture.shape[:2] == mmcv.imread(folder + f'/{stem}.jpg').shape[:2]


def test_video_with_per_frame_detections(tmp_path, capsys):
    """A video written here from the sample images: a drawn video of as many frames and one
    JSON per frame; the detection file's image_id is the frame number."""
    video = tmp_path / 'clip.mp4'
    write_sample_video(video, size=(200, 300))
    dets = [dict(image_id=0, category_id=1, bbox=[10, 10, 120, 250], score=0.9),
            dict(image_id=0, category_id=1, bbox=[60, 20, 130, 260], score=0.8),
            dict(image_id=2, category_id=1, bbox=[20, 30, 150, 260], score=0.7)]
    bbox_file = write_dets(tmp_path / 'frame_dets.json', dets)
    out = tmp_path / 'out'
    torch.manual_seed(0)
    assert demo.main([str(video), '--config', CONFIG, '--bbox-file', bbox_file,
                      '--out-dir', str(out), '--device', 'cpu']) == 0
    printed = capsys.readouterr().out
    assert re.search(r'^3/3 frames, [\d.]+ frames/s, elapsed \d+ s, ETA 0 s$', printed, re.M)
    assert count_frames(out / 'visualizations' / 'clip.mp4') == (3, (200, 300))
    frames = json.loads((out / 'predictions' / 'clip.json').read_text())
    assert [f['frame_id'] for f in frames] == [0, 1, 2]
    poses = [f['instances'] for f in frames]
    assert [(p['box_index'], p['lambda']) for p in poses[0]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert poses[1] == []  # nobody in frame 1's detections: no poses, the frame still drawn
    assert [p['bbox'] for p in poses[2]] == [[20, 30, 170, 290]] * 2
    assert [p['bbox_score'] for p in poses[2]] == [0.7, 0.7]


def test_video_whole_frame_stock_model_and_max_frames(tmp_path):
    """The stock twin (one pose per box, λ = 0) runs the same path; --max-frames stops early."""
    video = tmp_path / 'clip.mp4'
    write_sample_video(video, size=(160, 240))
    out = tmp_path / 'out'
    assert demo.main([str(video), '--config', STOCK_CONFIG, '--max-frames', '2',
                      '--out-dir', str(out), '--device', 'cpu']) == 0
    assert count_frames(out / 'visualizations' / 'clip.mp4') == (2, (160, 240))
    frames = json.loads((out / 'predictions' / 'clip.json').read_text())
    assert [f['frame_id'] for f in frames] == [0, 1]
    assert [(p['lambda'], p['bbox'], p['kept_after_nms']) for p in frames[1]['instances']] == \
        [(0, [0, 0, 160, 240], True)]


def test_installed_stock_config_by_mmpose_prefix(tmp_path, capsys):
    # MMPose's installed configs are named as in `_base_`: `mmpose::<path>`.
    stock = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
             'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')
    assert demo.main([IMAGE, '--config', stock, '--out-dir', str(tmp_path), '--device',
                      'cpu']) == 0
    poses, image = read_outputs(tmp_path)
    assert image.shape == (900, 602, 3)
    assert [(p['box_index'], p['lambda']) for p in poses] == [(0, 0)]  # whole image, N = 1
    assert demo.main([IMAGE, '--config', stock.replace('w32', 'w33'), '--out-dir',
                      str(tmp_path / 'x'), '--device', 'cpu']) != 0
    assert 'config not found:' in capsys.readouterr().err


def test_webcam_argument(tmp_path, capsys):
    """A camera index is taken as a webcam (none here: the error says so)."""
    assert demo.webcam_index('0') == 0 and demo.webcam_index('webcam:3') == 3
    assert demo.webcam_index('webcam') == 0 and demo.webcam_index('clip.mp4') is None
    assert demo.main(['webcam:7', '--config', CONFIG, '--out-dir', str(tmp_path / 'out'),
                      '--device', 'cpu']) == 1
    assert 'cannot open the camera 7 with OpenCV' in capsys.readouterr().err


def test_image_id_is_for_one_image(gt_dets_of_all_images, tmp_path, capsys):
    folder = str(SAMPLE / 'ochuman')
    assert demo.main([folder, '--config', CONFIG, '--bbox-file', gt_dets_of_all_images,
                      '--image-id', '3', '--out-dir', str(tmp_path)]) == 1
    assert f'--image-id names one image, the folder {folder} has 3' in capsys.readouterr().err
    video = tmp_path / 'clip.mp4'
    write_sample_video(video)
    assert demo.main([str(video), '--config', CONFIG, '--bbox-file', gt_dets_of_all_images,
                      '--image-id', '3', '--out-dir', str(tmp_path / 'out')]) == 1
    assert "a video's detections have the frame number (0-based) as image_id" in \
        capsys.readouterr().err
    assert len(OCHUMAN_IMAGES) == 3


# ---------------------------------------------------------------------------
# Outputs never replace inputs or files the demo did not write
# ---------------------------------------------------------------------------

def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob('*') if p.is_file()}


def test_out_dir_equal_to_the_input_folder_keeps_the_images(tmp_path):
    """--out-dir FOLDER on FOLDER: the outputs go to its visualizations/ and predictions/
    (MMPose's layout), never over or among the images; a second run reads the images only.
    (The inferencer refuses a picture folder that is the input folder: tests/test_apis.)"""
    folder = tmp_path / 'photos'
    folder.mkdir()
    mmcv.imwrite(mmcv.imread(IMAGE), str(folder / 'photo.png'))
    before = _snapshot(folder)
    for _ in range(2):
        assert demo.main([str(folder), '--config', CONFIG, '--out-dir', str(folder),
                          '--device', 'cpu']) == 0
    after = _snapshot(folder)
    assert {k: v for k, v in after.items() if k in before} == before
    # Each output folder holds the record of the files the demo wrote there.
    assert sorted(map(str, after)) == ['photo.png', f'predictions/{RECORD_NAME}',
                                       'predictions/photo.json',
                                       f'visualizations/{RECORD_NAME}',
                                       'visualizations/photo.png']


def test_out_dir_naming_a_file_and_foreign_outputs(tmp_path, capsys):
    a_file = tmp_path / 'results.txt'
    a_file.write_text('mine\n')
    assert demo.main([IMAGE, '--config', CONFIG, '--out-dir', str(a_file)]) == 1
    assert capsys.readouterr().err.strip() == \
        f'error: --out-dir {a_file} exists and is not a folder; give a folder'
    out = tmp_path / 'out'
    (out / 'visualizations').mkdir(parents=True)
    foreign = out / 'visualizations' / '003896.jpg'
    foreign.write_bytes(b'someone else\'s picture')
    assert demo.main([IMAGE, '--config', CONFIG, '--out-dir', str(out)]) == 1
    assert 'exists and was not written by this tool' in capsys.readouterr().err
    assert foreign.read_bytes() == b'someone else\'s picture'
    foreign.unlink()
    # The demo's own outputs are replaced by a second run.
    for _ in range(2):
        assert demo.main([IMAGE, '--config', CONFIG, '--out-dir', str(out),
                          '--device', 'cpu']) == 0
    assert sorted(str(p.relative_to(out)) for p in out.rglob('*.*')) == \
        [f'predictions/{RECORD_NAME}', 'predictions/003896.json',
         f'visualizations/{RECORD_NAME}', 'visualizations/003896.jpg']
    # A picture the demo wrote and the user edited since is kept.
    picture = out / 'visualizations' / '003896.jpg'
    picture.write_bytes(picture.read_bytes()[:-100])
    edited = picture.read_bytes()
    assert demo.main([IMAGE, '--config', CONFIG, '--out-dir', str(out)]) == 1
    assert capsys.readouterr().err.strip() == (
        f'error: the output {picture} was changed since this tool wrote it, so it is kept; '
        'to overwrite it, delete it first, or give another output path')
    assert picture.read_bytes() == edited


def test_outputs_are_never_written_through_a_link_or_over_a_users_picture(tmp_path, capsys):
    """OUT/visualizations/a.jpg linking to a picture outside OUT, then a user's picture
    beside a prediction file holding [] (which once made it pass for the demo's own)."""
    photos = tmp_path / 'photos'
    photos.mkdir()
    mmcv.imwrite(mmcv.imread(IMAGE), str(photos / 'a.jpg'))
    keep = tmp_path / 'album' / 'holiday.jpg'
    keep.parent.mkdir()
    keep.write_bytes(OCHUMAN_IMAGES[0].read_bytes())
    out = tmp_path / 'out'
    (out / 'visualizations').mkdir(parents=True)
    (out / 'visualizations' / 'a.jpg').symlink_to(keep)
    args = [str(photos / 'a.jpg'), '--config', CONFIG, '--out-dir', str(out), '--device', 'cpu']
    assert demo.main(args) == 1
    assert capsys.readouterr().err.strip() == (
        f"error: the output {out / 'visualizations' / 'a.jpg'} is a link to {keep}, outside "
        f"the output folder {out / 'visualizations'}: writing it would change that file; "
        'remove the link or give another output path')
    assert keep.read_bytes() == OCHUMAN_IMAGES[0].read_bytes()
    (out / 'visualizations' / 'a.jpg').unlink()
    mine = out / 'visualizations' / 'a.jpg'
    mine.write_bytes(OCHUMAN_IMAGES[0].read_bytes())
    (out / 'predictions').mkdir()
    (out / 'predictions' / 'a.json').write_text('[]')
    assert demo.main(args) == 1
    assert 'exists and was not written by this tool' in capsys.readouterr().err
    assert mine.read_bytes() == OCHUMAN_IMAGES[0].read_bytes()
    assert (out / 'predictions' / 'a.json').read_text() == '[]'
    (out / 'predictions' / 'a.json').unlink()
    assert demo.main(args) == 1  # the picture alone
    assert f'the output {mine} exists and was not written' in capsys.readouterr().err
    assert mine.read_bytes() == OCHUMAN_IMAGES[0].read_bytes()


@pytest.mark.parametrize('record, message', [
    (dict(image_id=3, bbox=[1, 2, 3], score=0.9), 'record 1 has `bbox` [1, 2, 3], expected 4'),
    (dict(image_id=3, bbox=[1, 2, 3, 4, 5], score=0.9), 'record 1 has `bbox` [1, 2, 3, 4, 5]'),
    (dict(image_id=3, bbox=[1, 2, [3], 4], score=0.9), 'record 1 has `bbox` [1, 2, [3], 4]'),
    (dict(image_id=3, bbox=[1, 2, 3, 4], score='0.9'), 'record 1 has `score` \'0.9\''),
    (dict(image_id=3, bbox=[1, 2, 3, 4]), 'record 1 ({\'image_id\': 3, \'bbox\': [1, 2, 3, 4]}) '
     'lacks `score`'),
    ([1, 2, 3, 4], 'record 1 is a list'),
])
def test_malformed_detection_records_are_one_error(det_file, tmp_path, capsys, record, message):
    dets = json.loads(Path(det_file[0]).read_text())[:1] + [record]
    bbox_file = write_dets(tmp_path / 'dets.json', dets)
    out = tmp_path / 'out'
    assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', bbox_file, '--image-id', '3',
                      '--out-dir', str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f'error: Detection file `{bbox_file}` '
                                               '(`bbox_file`): 1 of 2 records are not')
    assert message in err[0]
    assert not out.exists()


def test_another_images_detections_warn_and_outside_boxes_are_dropped(tmp_path):
    """A file holding only image 2's detections, used for 003896.jpg: a warning that nothing
    ties them to this image, and its box outside the 602x900 image dropped with a warning."""
    bbox_file = write_dets(tmp_path / 'other.json', [
        dict(image_id=2, category_id=1, bbox=[650, 10, 100, 100], score=0.99),
        dict(image_id=2, category_id=1, bbox=[10, 10, 100, 200], score=0.9)])
    out = tmp_path / 'out'
    with pytest.warns(UserWarning) as warned:
        assert demo.main([IMAGE, '--config', CONFIG, '--bbox-file', bbox_file, '--out-dir',
                          str(out), '--device', 'cpu']) == 0
    messages = ' | '.join(str(w.message) for w in warned)
    assert 'holds the detections of one image (image_id 2), used for' in messages
    assert re.search(r'dropped 1 of 2 boxes that lie entirely outside the 602x900 image '
                     r'\(rows 0\)', messages)
    poses, _ = read_outputs(out)
    assert {p['box_index'] for p in poses} == {1}


def test_folder_image_without_detections_warns(tmp_path):
    dets = [dict(image_id=3, category_id=1, bbox=[0, 39, 601, 861], score=0.9)]
    bbox_file = write_dets(tmp_path / 'dets.json', dets)
    out = tmp_path / 'out'
    with pytest.warns(UserWarning, match=r'000817\.jpg: no detections of category 1 for '
                      r'image_id \d+ in .*dets\.json.*; no poses'):
        assert demo.main([str(SAMPLE / 'ochuman'), '--config', CONFIG, '--bbox-file',
                          bbox_file, '--ann-file', OCHUMAN_ANN, '--out-dir', str(out),
                          '--device', 'cpu']) == 0


def test_thresholds_default_to_the_configs(tmp_path):
    """No --bbox-thr / --kpt-thr: the inferencer's, which are the config's."""
    args = demo.parse_args([IMAGE, '--config', CONFIG, '--out-dir', str(tmp_path)])
    assert args.kpt_thr is None and args.bbox_thr is None
    torch.manual_seed(0)
    inferencer = MIPNetInferencer(CONFIG, device='cpu', det_model='whole_image')
    assert inferencer.kpt_thr == 0.1  # the sample config's MultiInstanceVisualizationHook
    assert inferencer.bbox_thr == 0.3  # no filter_cfg in its test data set: MMPose's default
    config = tmp_path / 'filtered.py'
    config.write_text(f'_base_ = [{CONFIG!r}]\n'
                      'test_dataloader = dict(dataset=dict(filter_cfg=dict(bbox_score_thr=0.5)))\n'
                      "custom_hooks = [dict(type='MultiInstanceVisualizationHook', kpt_thr=0.2)]\n")
    inferencer = MIPNetInferencer(str(config), device='cpu', det_model='whole_image')
    assert (inferencer.bbox_thr, inferencer.kpt_thr) == (0.5, 0.2)
    # The demo keeps what a test run with this config keeps: the 0.45 box is dropped.
    bbox_file = write_dets(tmp_path / 'dets.json', [
        dict(image_id=3, category_id=1, bbox=[0, 39, 601, 861], score=0.9),
        dict(image_id=3, category_id=1, bbox=[84, 45, 516, 783], score=0.45),
        dict(image_id=3, category_id=1, bbox=[84, 45, 516, 783], score=0.5)])
    assert demo.main([IMAGE, '--config', str(config), '--bbox-file', bbox_file,
                      '--out-dir', str(tmp_path / 'out'), '--device', 'cpu']) == 0
    poses, _ = read_outputs(tmp_path / 'out')
    assert sorted({(p['bbox_score']) for p in poses}) == [0.5, 0.9]
