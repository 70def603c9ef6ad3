"""MIPNet models in MMPose's inferencer and inference_topdown, on real sample images and video."""
import json
import re

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpose.apis import MMPoseInferencer, inference_topdown
from mmpose.apis.inferencers.utils import default_det_models
from mmpose.registry import INFERENCERS

from mipnet_mmpose.apis import (
    DetectionFileBoxes,
    DetectionFileError,
    MIPNetInferencer,
    complete_inference_config,
    draw_mipnet_result,
    inference_mipnet,
    merge_mipnet_samples,
    pose_records,
)
from mipnet_mmpose.apis.inferencer import UnreadableVideoError, default_detector_type
from mipnet_mmpose.datasets.stock_dataset import stock_dataset_type
from mipnet_mmpose.models.utils.checkpoint_fit import CheckpointMismatchError
from mipnet_mmpose.utils.output_paths import OutputPathError
from tests.conftest import REPO, SAMPLE, SAMPLE_CONFIG, SAMPLE_TEST_EPOCHS
from tests.test_apis.test_inference import BOXES, IMAGE, metric_kept
from tests.test_tools.sample_video import count_frames, write_sample_video

GT_XYXY = [[0, 39, 601, 900], [84, 45, 600, 828]]  # the image's two GT boxes (xywh + xy)
N = 2  # the sample config's num_instances


def make_inferencer(config=str(SAMPLE_CONFIG), **kwargs) -> MIPNetInferencer:
    torch.manual_seed(0)  # the same random weights in every build
    return MIPNetInferencer(config, device='cpu', det_model='whole_image', **kwargs)


@pytest.fixture(scope='module')
def inferencer():
    return make_inferencer()


def test_registered_in_mmpose_inferencers():
    assert INFERENCERS.get('MIPNetInferencer') is MIPNetInferencer
    assert INFERENCERS.get('mipnet-pose-estimation') is MIPNetInferencer


@pytest.mark.new_torch
def test_two_gt_boxes_trained_model(sample_training, tmp_path):
    """The trained sample model: 2 boxes x N poses with λ and NMS flags, written as MMPose does."""
    work_dir, _ = sample_training
    inferencer = MIPNetInferencer(str(SAMPLE_CONFIG),
                                  weights=str(work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth'),
                                  device='cpu', det_model='whole_image')
    scored = np.concatenate([GT_XYXY, [[0.9], [0.8]]], axis=1)  # (B, 5): boxes and scores
    result = next(inferencer(IMAGE, bboxes=[scored], out_dir=str(tmp_path)))
    (records, ) = result['predictions']
    assert [(r['box_index'], r['lambda']) for r in records] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [r['bbox'] for r in records[::N]] == GT_XYXY
    assert [r['bbox_score'] for r in records] == pytest.approx([0.9, 0.9, 0.8, 0.8])
    assert all(isinstance(r['kept_after_nms'], bool) for r in records)
    assert any(r['kept_after_nms'] for r in records)
    # The same poses, scores and flags as inference_mipnet on the same model.
    direct = inference_mipnet(inferencer.model, IMAGE, GT_XYXY, bbox_scores=[0.9, 0.8])
    np.testing.assert_allclose([r['keypoints'] for r in records],
                               [r['keypoints'] for r in direct], atol=1e-3)
    assert [r['score'] for r in records] == pytest.approx([r['score'] for r in direct])
    assert [r['kept_after_nms'] for r in records] == [r['kept_after_nms'] for r in direct]
    # MMPose's output layout: one picture and one JSON of records per image.
    written = json.loads((tmp_path / 'predictions' / '003896.json').read_text())
    assert written == json.loads(json.dumps(records))
    picture = mmcv.imread(str(tmp_path / 'visualizations' / '003896.jpg'))
    assert picture.shape == (900, 602, 3)


def test_inference_topdown_then_merge_is_the_metrics_merge(inferencer, tmp_path):
    """MMPose's inference_topdown gives N poses per box with λ; merging them flags the poses
    the metric keeps, and the inferencer returns the same."""
    model = inferencer.model
    samples = inference_topdown(model, IMAGE, np.asarray(BOXES, np.float32))
    assert len(samples) == len(BOXES)
    for sample in samples:
        assert sample.pred_instances.lambdas.tolist() == list(range(N))
    merged = merge_mipnet_samples(model, samples)
    pred = merged.pred_instances
    assert len(pred) == len(BOXES) * N
    assert pred.box_indices.tolist() == np.repeat(np.arange(len(BOXES)), N).tolist()
    assert pred.lambdas.tolist() == list(range(N)) * len(BOXES)
    kept = sorted((int(b), int(lam)) for b, lam, k in
                  zip(pred.box_indices, pred.lambdas, pred.kept_after_nms) if k)
    assert kept == metric_kept(model, BOXES, tmp_path)
    assert len(kept) < len(BOXES) * N  # the near-duplicate boxes lose poses

    (records, ) = next(inferencer(IMAGE, bboxes=[BOXES]))['predictions']
    assert records == pose_records(merged)


def test_datasamples_and_pose_nms_mode(inferencer):
    result = next(inferencer(IMAGE, bboxes=[BOXES], return_datasamples=True))
    (merged, ) = result['predictions']
    pred = merged.pred_instances
    assert merged.img_path == IMAGE
    assert pred.keypoints.shape == (len(BOXES) * N, 17, 2)
    assert pred.kept_after_nms.dtype == bool and not pred.kept_after_nms.all()
    # λ>0 poses rank with the decayed box score (0.5 by default).
    assert pred.bbox_scores.tolist() == [1.0, 0.5] * len(BOXES)
    # The CrowdPose protocol's "no NMS", as a call keyword: every pose kept.
    (records, ) = next(inferencer(IMAGE, bboxes=[BOXES], pose_nms_mode='none'))['predictions']
    assert all(r['kept_after_nms'] for r in records)
    (records, ) = next(inferencer(IMAGE, bboxes=[BOXES], pose_nms_thr=0.0))['predictions']
    assert sum(r['kept_after_nms'] for r in records) < sum(pred.kept_after_nms)


def test_image_file_decoded_once_for_all_its_boxes(inferencer, monkeypatch):
    decodes = []
    imfrombytes = mmcv.imfrombytes

    def counted(*args, **kwargs):
        decodes.append(1)
        return imfrombytes(*args, **kwargs)

    monkeypatch.setattr(mmcv, 'imfrombytes', counted)
    (from_file, ) = next(inferencer(IMAGE, bboxes=[BOXES], return_datasamples=True))[
        'predictions']
    assert len(BOXES) > 1 and len(decodes) == 1
    (from_array, ) = next(inferencer(mmcv.imread(IMAGE), bboxes=[BOXES],
                                     return_datasamples=True))['predictions']
    assert np.array_equal(from_file.pred_instances.keypoints,
                          from_array.pred_instances.keypoints)


def test_config_settings_nms_mode_none_and_test_time(tmp_path):
    """The config owns the merge (test_evaluator) and the test-time n and decay (the hook)."""
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.test_evaluator.nms_mode = 'none'
    cfg.default_hooks.multi_instance_test.lambda_score_decay = 0.25
    inferencer = make_inferencer(cfg)
    result = next(inferencer(IMAGE, bboxes=[BOXES], return_datasamples=True))
    pred = result['predictions'][0].pred_instances
    assert pred.kept_after_nms.all()
    assert pred.bbox_scores.tolist() == [1.0, 0.25] * len(BOXES)
    # An explicit n: one pose (λ = 0) per box.
    single = make_inferencer(num_instances=1)
    (records, ) = next(single(IMAGE, bboxes=[GT_XYXY]))['predictions']
    assert [(r['box_index'], r['lambda']) for r in records] == [(0, 0), (1, 0)]
    with pytest.raises(ValueError, match='num_instances=3'):
        make_inferencer(num_instances=3)


def test_picture_is_the_kept_poses_coloured_by_lambda(inferencer):
    """The inferencer draws what draw_mipnet_result draws (tested to show the kept poses only)."""
    result = next(inferencer(IMAGE, bboxes=[BOXES], return_vis=True, kpt_thr=0.0))
    (picture, ) = result['visualization']
    (records, ) = next(inferencer(IMAGE, bboxes=[BOXES]))['predictions']
    expected = draw_mipnet_result(inferencer.model, IMAGE, records, kpt_thr=0.0)
    assert picture.shape == (900, 602, 3)
    np.testing.assert_array_equal(picture, expected)
    assert not np.array_equal(picture, mmcv.imread(IMAGE, channel_order='rgb'))


def test_whole_image_and_bad_boxes(inferencer):
    (records, ) = next(inferencer(IMAGE))['predictions']  # no boxes, no detector
    assert [(r['box_index'], r['lambda'], r['bbox']) for r in records] == \
        [(0, lam, [0, 0, 602, 900]) for lam in range(N)]
    with pytest.warns(UserWarning, match=r'dropped 1 of 3 boxes .* \(rows 1\)'):
        (records, ) = next(inferencer(IMAGE, bboxes=[[GT_XYXY[0], [5, 5, 5, 50],
                                                      GT_XYXY[1]]]))['predictions']
    assert sorted({r['box_index'] for r in records}) == [0, 2]
    with pytest.warns(UserWarning, match='dropped 1 of 1 boxes'):
        result = next(inferencer(IMAGE, bboxes=[[[np.nan, 0, 10, 10]]], return_vis=True))
    assert result['predictions'] == [[]]  # no pose, still a picture
    assert result['visualization'][0].shape == (900, 602, 3)
    with pytest.raises(ValueError, match=r'bboxes\[0\] must be \(B, 4\) xyxy boxes or \(B, 5\)'):
        next(inferencer(IMAGE, bboxes=[[1, 2, 3]]))


def test_video_input(inferencer, tmp_path):
    video = tmp_path / 'clip.mp4'
    write_sample_video(video)
    results = list(inferencer(str(video), out_dir=str(tmp_path / 'out')))
    assert len(results) == 3
    for result in results:
        (records, ) = result['predictions']
        assert [r['lambda'] for r in records] == list(range(N))  # whole frame, N poses
    assert count_frames(tmp_path / 'out' / 'visualizations' / 'clip.mp4') == (3, (200, 300))
    frames = json.loads((tmp_path / 'out' / 'predictions' / 'clip.json').read_text())
    assert [f['frame_id'] for f in frames] == [0, 1, 2]
    assert all([r['lambda'] for r in f['instances']] == [0, 1] for f in frames)
    # The video and its predictions are recorded when closed: a second run replaces them,
    # an edited prediction file is kept.
    assert len(list(inferencer(str(video), out_dir=str(tmp_path / 'out')))) == 3
    predictions = tmp_path / 'out' / 'predictions' / 'clip.json'
    predictions.write_text('[]')
    with pytest.raises(OutputPathError, match='clip.json was changed since this tool wrote it'):
        list(inferencer(str(video), out_dir=str(tmp_path / 'out')))
    assert predictions.read_text() == '[]'


def test_checkpoint_must_fill_every_weight(inferencer, tmp_path):
    state = dict(inferencer.model.state_dict())
    dropped = next(key for key in state if key.startswith('head.'))
    del state[dropped]
    path = tmp_path / 'partial.pth'
    torch.save(dict(state_dict=state, meta=dict(dataset_meta=inferencer.model.dataset_meta)),
               path)
    with pytest.raises(CheckpointMismatchError, match='1 key\\(s\\) missing from the checkpoint'):
        make_inferencer(weights=str(path))


CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / 'configs').glob('**/*.py')
                 if '_base_' not in p.parts)


@pytest.mark.parametrize('config', CONFIGS)
def test_every_config_gets_the_inferencer_keys_and_a_person_detector(config):
    """Each config has MMPose's data_mode/dataset_type or gets them from its dataset, and its
    dataset type gives MMPose's default person detector (a MIPNet dataset type too)."""
    cfg = complete_inference_config(Config.fromfile(str(REPO / config)))
    assert cfg.data_mode == 'topdown'
    # MMPose's default detector per task: persons for body and whole-body data, animals for
    # AP-10K.
    expected = {'AP10KDataset': 'animal', 'CocoWholeBodyDataset': 'wholebody'}.get(
        cfg.dataset_type, 'body')
    assert default_detector_type(cfg.dataset_type) == expected, cfg.dataset_type


def test_default_detector_of_our_dataset_types():
    assert stock_dataset_type('MultiInstanceOCHumanDataset') == 'OCHumanDataset'
    assert stock_dataset_type('MultiInstanceCrowdPoseDataset') == 'CrowdPoseDataset'
    assert stock_dataset_type('CocoDataset') == 'CocoDataset'
    # MMPose's own lookup (by the class's module) finds no object type for ours; this finds
    # 'body', whose default is MMPose's RTMDet person detector.
    assert default_detector_type('MultiInstanceCocoDataset') == 'body'
    assert default_det_models['body']['model'].endswith('rtmdet_m_640-8xb32_coco-person.py')


def test_stock_mmpose_inferencer_runs_the_sample_config():
    """MMPose's own inferencer does not fail on our config (it does not merge: N poses per box,
    no λ; MIPNetInferencer is the one that merges)."""
    torch.manual_seed(0)
    inferencer = MMPoseInferencer(pose2d=str(SAMPLE_CONFIG), device='cpu',
                                  det_model='whole_image')
    (poses, ) = next(inferencer(IMAGE))['predictions']
    assert len(poses) == N
    assert all(np.shape(p['keypoints']) == (17, 2) for p in poses)


@pytest.mark.parametrize('config, expected', [
    # Full-size MIPNet, CrowdPose protocol: no NMS, every (box, λ) pose kept.
    ('configs/mipnet_hrnet-w32_3xb32-210e_crowdpose-256x192.py',
     [(0, 0, True), (0, 1, True), (1, 0, True), (1, 1, True)]),
    # The stock twin of the sample model (TopdownPoseEstimator): one pose per box, λ = 0.
    ('configs/experiments/crowd_evidence_stock-hrnet_n1.py', [(0, 0, True), (1, 0, True)]),
])
def test_other_configs_run(config, expected):
    inferencer = make_inferencer(str(REPO / config))
    (records, ) = next(inferencer(IMAGE, bboxes=[GT_XYXY]))['predictions']
    assert [(r['box_index'], r['lambda'], r['kept_after_nms']) for r in records] == expected


# ---------------------------------------------------------------------------
# Runs: box sources, outputs checked before writing, progress, frames
# ---------------------------------------------------------------------------

def _snapshot(folder) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob('*') if p.is_file()}


def test_outputs_never_replace_inputs_or_foreign_files(inferencer, tmp_path):
    """Checked before the first input runs: nothing is written by a refused call."""
    folder = tmp_path / 'photos'
    folder.mkdir()
    mmcv.imwrite(mmcv.imread(IMAGE), str(folder / 'x.png'))
    before = _snapshot(tmp_path)
    # Pictures into the input folder would be written over the images (same names).
    with pytest.raises(OutputPathError, match=r'x\.png is the input'):
        list(inferencer(str(folder), vis_out_dir=str(folder)))
    # Two inputs with one output name.
    mmcv.imwrite(mmcv.imread(IMAGE), str(folder / 'x.jpg'))
    before = _snapshot(tmp_path)
    with pytest.raises(OutputPathError, match=r'x\.jpg and .*x\.png would both be written to '
                       r'.*x\.json: rename one'):
        list(inferencer(str(folder), out_dir=str(tmp_path / 'out')))
    # A video's picture file named as the video.
    video = tmp_path / 'clip.mp4'
    write_sample_video(video)
    before = _snapshot(tmp_path)
    with pytest.raises(OutputPathError, match=r'clip\.mp4 is the input'):
        list(inferencer(str(video), vis_out_dir=str(video)))
    assert _snapshot(tmp_path) == before
    # A file the inferencer did not write is kept; its own output is replaced.
    out = tmp_path / 'out'
    (out / 'predictions').mkdir(parents=True)
    foreign = out / 'predictions' / '003896.json'
    foreign.write_text('{"mine": 1}')
    with pytest.raises(OutputPathError, match='exists and was not written by this tool'):
        list(inferencer(IMAGE, out_dir=str(out)))
    assert foreign.read_text() == '{"mine": 1}'
    foreign.unlink()
    for _ in range(2):
        (records, ) = next(inferencer(IMAGE, out_dir=str(out)))['predictions']
    assert json.loads(foreign.read_text()) == json.loads(json.dumps(records))


def test_given_boxes_empty_array_callable_and_list(inferencer):
    """An array of 0 rows: nobody (no poses); an empty list: MMPose's way (whole image here);
    a function (index, input) -> boxes: asked per input."""
    assert next(inferencer(IMAGE, bboxes=[np.zeros((0, 4))]))['predictions'] == [[]]
    (records, ) = next(inferencer(IMAGE, bboxes=[[]]))['predictions']
    assert [r['bbox'] for r in records] == [[0, 0, 602, 900]] * N
    asked = []

    def boxes(index, image):
        asked.append((index, image))
        return np.array([GT_XYXY[index]])

    results = list(inferencer([IMAGE, IMAGE], bboxes=boxes))
    assert asked == [(0, IMAGE), (1, IMAGE)]
    assert [[r['bbox'] for r in result['predictions'][0]] for result in results] == \
        [[GT_XYXY[0]] * N, [GT_XYXY[1]] * N]


def test_detection_file_boxes_matched_to_the_inputs(tmp_path):
    """DetectionFileBoxes: images by file name (ann_file) or id, video frames by number;
    a file that fits no input is refused when the run starts."""
    anns = json.loads((SAMPLE / 'ochuman' / 'test_ochuman.json').read_text())
    dets = [dict(image_id=a['image_id'], category_id=1, bbox=a['bbox'], score=0.9)
            for a in anns['annotations']]
    dets.append(dict(image_id=0, category_id=1, bbox=[1, 2, 3, 4], score=0.4))
    path = tmp_path / 'dets.json'
    path.write_text(json.dumps(dets))
    images = [str(SAMPLE / 'ochuman' / name) for name in ('000817.jpg', '003896.jpg')]
    boxes_of = DetectionFileBoxes(str(path), ann_file=str(SAMPLE / 'ochuman' /
                                                          'test_ochuman.json')).for_inputs(
        images, video=False, bbox_thr=0.5)
    found = boxes_of(1, images[1])
    assert found.shape == (2, 5) and found[:, 4].tolist() == [0.9, 0.9]
    np.testing.assert_allclose(found[:, :4], GT_XYXY)
    frames = DetectionFileBoxes(str(path)).for_inputs([], video=True, bbox_thr=0.3)
    assert frames(0, None).tolist() == [[1, 2, 4, 6, 0.4]]  # frame 0: image_id 0, xyxy
    with pytest.warns(UserWarning, match='no person box scores at least bbox_thr 0.5'):
        assert DetectionFileBoxes(str(path)).for_inputs([], video=True, bbox_thr=0.5)(
            0, None).shape == (0, 5)
    with pytest.raises(DetectionFileError, match='--image-id names one image, the folder F '
                       'has 2'):
        DetectionFileBoxes(str(path), image_id=3).for_inputs(images, False, 0.5, source='F')
    with pytest.raises(DetectionFileError, match="a video's detections have the frame number"):
        DetectionFileBoxes(str(path), image_id=3).for_inputs([], True, 0.5)
    with pytest.raises(DetectionFileError, match='holds the detections of 4 images'):
        DetectionFileBoxes(str(path)).for_inputs(images[:1], False, 0.5)


def test_video_max_frames_progress_and_interrupt(tmp_path, capsys):
    """Progress lines and the run's frames per second and kept poses; max_frames
    stops early; Ctrl-C during a video closes what was written, as the end would."""
    video = tmp_path / 'clip.mp4'
    write_sample_video(video)
    inferencer = make_inferencer(show_progress=True)
    results = list(inferencer(str(video), max_frames=2, out_dir=str(tmp_path / 'a')))
    printed = capsys.readouterr().out
    assert len(results) == 2
    # Whole progress lines (the last input's always), never a line shared with a log line.
    assert re.search(r'^2/2 frames, [\d.]+ frames/s, elapsed \d+ s, ETA 0 s$', printed, re.M)
    assert '\r' not in printed
    assert re.search(r'2 frames in [\d.]+ s = [\d.]+ frames/s .*; 2 boxes x 2 instances -> '
                     r'\d of 4 poses kept \(oks_nms, thr 0.9\)', printed)
    assert count_frames(tmp_path / 'a' / 'visualizations' / 'clip.mp4') == (2, (200, 300))

    def boxes(index, frame):
        if index == 2:
            raise KeyboardInterrupt
        return np.array([[10, 10, 120, 250]])

    results = list(inferencer(str(video), bboxes=boxes, out_dir=str(tmp_path / 'b')))
    assert len(results) == 2
    assert count_frames(tmp_path / 'b' / 'visualizations' / 'clip.mp4') == (2, (200, 300))
    frames = json.loads((tmp_path / 'b' / 'predictions' / 'clip.json').read_text())
    assert [f['frame_id'] for f in frames] == [0, 1]


def test_webcam_that_cannot_be_opened_is_an_error(inferencer):
    with pytest.raises(UnreadableVideoError, match='cannot open the camera 7 with OpenCV'):
        list(inferencer('webcam:7'))
