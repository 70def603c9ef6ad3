"""MultiInstanceVisualizationHook draws the poses the run's metric keeps.

A real ``Runner`` of the sample config (random weights, seed 0) tests on the
OCHuman sample (3 images, 5 GT boxes, N = 2); the hook's kept poses per image
and λ are compared with the ``.keypoints.json`` that MultiInstanceCocoMetric
dumps in the same run.
"""
import json
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import mmcv
import pytest
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from mipnet_mmpose.engine import MultiInstanceVisualizationHook
from mipnet_mmpose.evaluation.functional import coco_metric_defaults
from tests.conftest import SAMPLE, SAMPLE_CONFIG

OCHUMAN_ANN = SAMPLE / 'ochuman' / 'test_ochuman.json'
NUM_POSES = {'003799.jpg': 2, '000817.jpg': 4, '003896.jpg': 4}  # boxes x N


def run_test(tmp_path: Path, **settings) -> Runner:
    """``runner.test()`` of the sample config with its test_evaluator updated."""
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.work_dir = str(tmp_path)
    cfg.experiment_name = f'hook_{tmp_path.name}'
    cfg.test_dataloader.dataset.data_root = str(SAMPLE)
    cfg.test_evaluator = dict(cfg.test_evaluator, ann_file=str(OCHUMAN_ANN),
                              outfile_prefix=str(tmp_path / 'metric'), **settings)
    cfg.custom_hooks = [dict(type='MultiInstanceTestHook'),
                        dict(type='MultiInstanceVisualizationHook', out_dir='pictures',
                             kpt_thr=0.1)]
    runner = Runner.from_cfg(cfg)
    runner.test()
    return runner


def the_hook(runner: Runner) -> MultiInstanceVisualizationHook:
    (hook, ) = [h for h in runner.hooks if isinstance(h, MultiInstanceVisualizationHook)]
    return hook


def metric_kept(runner: Runner, tmp_path: Path) -> dict:
    """Image name -> {λ: poses kept} from the metric's dump (every λ listed)."""
    names = {im['id']: im['file_name'] for im in json.loads(OCHUMAN_ANN.read_text())['images']}
    counts = Counter((names[p['image_id']], p['lambda'])
                     for p in json.loads((tmp_path / 'metric.keypoints.json').read_text()))
    return {name: {lam: counts[name, lam] for lam in (0, 1)} for name in names.values()}


@pytest.mark.parametrize('settings', [dict(), dict(nms_thr=0.3), dict(nms_mode='none')])
def test_hook_keeps_what_the_metric_keeps(settings, tmp_path):
    runner = run_test(tmp_path, **settings)
    hook = the_hook(runner)
    expected_settings = dict(nms_mode='oks_nms', nms_thr=0.9, score_mode='bbox_keypoint',
                             keypoint_score_thr=0.2)
    expected_settings.update(settings)
    assert hook.last_merge_settings == expected_settings
    assert hook.last_drawn == NUM_POSES
    assert hook.last_kept == metric_kept(runner, tmp_path)
    totals = Counter()
    for per_lambda in hook.last_kept.values():
        totals.update(per_lambda)
    stats = runner.test_evaluator.metrics[0].last_lambda_stats
    assert stats['kept_after_nms'] == dict(totals)
    if settings.get('nms_mode') == 'none':
        # The CrowdPose protocol: every (box, λ) pose is kept and drawn.
        assert hook.last_kept == {name: {0: n // 2, 1: n // 2} for name, n in NUM_POSES.items()}
    else:
        assert sum(totals.values()) < sum(NUM_POSES.values())  # the NMS removed poses
    for name in NUM_POSES:
        picture = mmcv.imread(str(tmp_path / 'pictures' / 'test' / name.replace('.jpg', '.png')))
        assert picture is not None and picture.ndim == 3


def test_nms_thr_is_no_hook_argument():
    with pytest.raises(TypeError, match='nms_thr'):
        MultiInstanceVisualizationHook(nms_thr=0.5)


def test_without_a_coco_metric_the_hook_uses_cocometrics_defaults():
    runner = SimpleNamespace(logger=MMLogger.get_instance('hook_without_coco_metric'))
    settings = MultiInstanceVisualizationHook._merge_settings(runner, [dict(type='PCKAccuracy')])
    assert settings == coco_metric_defaults()
    with pytest.raises(ValueError, match="nms_mode must be one of"):  # a wrong mode still fails
        MultiInstanceVisualizationHook._merge_settings(runner, dict(type='CocoMetric',
                                                                    nms_mode='nms'))


def test_pictures_the_hook_did_not_write_are_kept(tmp_path):
    """A file the hook did not write, a picture of the hook edited since and a link out of
    the folder are kept (warned, that image not drawn); the hook's own unchanged pictures
    are replaced by the next run into the same work dir."""
    pictures = tmp_path / 'pictures' / 'test'
    pictures.mkdir(parents=True)
    mine = pictures / '003799.png'
    mmcv.imwrite(mmcv.imread(str(SAMPLE / 'ochuman' / '003799.jpg')), str(mine))
    users = mine.read_bytes()
    runner = run_test(tmp_path)
    assert sorted(the_hook(runner).last_drawn) == ['000817.jpg', '003896.jpg']
    assert mine.read_bytes() == users
    edited = pictures / '000817.png'
    edited.write_bytes(edited.read_bytes()[:-50])
    outside = tmp_path / 'album.png'
    outside.write_bytes((pictures / '003896.png').read_bytes())
    (pictures / '003896.png').unlink()
    (pictures / '003896.png').symlink_to(outside)
    kept = {p.name: p.read_bytes() for p in pictures.iterdir()}
    album = outside.read_bytes()
    runner = run_test(tmp_path)
    assert the_hook(runner).last_drawn == {}
    assert {p.name: p.read_bytes() for p in pictures.iterdir()} == kept
    assert outside.read_bytes() == album
    log = ''.join(p.read_text() for p in tmp_path.glob('*/*.log'))
    assert f'the picture {mine} exists and was not written by this tool' in log
    assert f'the picture {edited} was changed since this tool wrote it, so it is kept' in log
    assert f"the picture {pictures / '003896.png'} is a link to {outside}" in log
    for path in (mine, edited, pictures / '003896.png'):
        path.unlink()
    runner = run_test(tmp_path)
    assert sorted(the_hook(runner).last_drawn) == sorted(NUM_POSES)
    runner = run_test(tmp_path)  # its own pictures: replaced
    assert sorted(the_hook(runner).last_drawn) == sorted(NUM_POSES)
