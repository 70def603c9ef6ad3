"""The shipped converted configs (whole-body, AP-10K, RTMPose-m COCO and CrowdPose) are
tools/convert_config.py's output: they cannot drift from it."""
from pathlib import Path

import pytest
from mmengine.config import Config

from mipnet_mmpose import convert_config
from mipnet_mmpose.conversion import resolve_config_path

REPO = Path(__file__).resolve().parents[1]


def plain(value):
    """A config value without the ``_scope_`` mmengine adds to ``mmpose::`` loads."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if k != '_scope_'}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


@pytest.mark.parametrize('stock, ours, dataset, metric', [
    ('mmpose::wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/'
     'td-hm_hrnet-w32_8xb64-210e_coco-wholebody-256x192.py',
     'mipnet_hrnet-w32_8xb64-210e_coco-wholebody-256x192.py',
     'MultiInstanceCocoWholeBodyDataset', 'MultiInstanceCocoWholeBodyMetric'),
    ('mmpose::animal_2d_keypoint/topdown_heatmap/ap10k/td-hm_hrnet-w32_8xb64-210e_ap10k-256x256.py',
     'mipnet_hrnet-w32_8xb64-210e_ap10k-256x256.py',
     'MultiInstanceAP10KDataset', 'MultiInstanceCocoMetric'),
    ('mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py',
     'mipnet_rtmpose-m_8xb256-420e_coco-256x192.py',
     'MultiInstanceCocoDataset', 'MultiInstanceCocoMetric'),
    ('mmpose::body_2d_keypoint/rtmpose/crowdpose/rtmpose-m_8xb64-210e_crowdpose-256x192.py',
     'mipnet_rtmpose-m_8xb64-210e_crowdpose-256x192.py',
     'MultiInstanceCrowdPoseDataset', 'MultiInstanceCocoMetric'),
])
def test_task_configs_are_the_tools_output(tmp_path, stock, ours, dataset, metric):
    from tools.convert_config import main
    out = tmp_path / ours
    assert main([stock, str(out)]) == 0
    assert out.read_text() == (REPO / 'configs' / ours).read_text()
    converted = Config.fromfile(str(REPO / 'configs' / ours))
    expected = convert_config(Config.fromfile(resolve_config_path(stock)))
    for key in ('model', 'train_dataloader', 'val_dataloader', 'val_evaluator',
                'custom_hooks', 'default_hooks'):
        assert plain(converted[key]) == plain(expected[key]), key
    text = (REPO / 'configs' / ours).read_text()
    # N is written once, as a variable the model and the slots read.
    assert text.count('num_instances = 2') == 1 and 'num_instances=2' not in text
    assert converted.train_dataloader.dataset.type == dataset
    assert converted.val_evaluator.type == metric
