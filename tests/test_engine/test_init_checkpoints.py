"""The checkpoints an ``init_cfg`` loads: listed with their config keys, and a training run
that cannot download one stops with the URL, the key and the fix."""
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mipnet_mmpose.engine.hooks import CheckpointFileCheckHook
from mipnet_mmpose.engine.init_checkpoints import (
    cached_checkpoint,
    download_url,
    pretrained_checkpoints,
)
from tests.conftest import SAMPLE_CONFIG

#: The ImageNet HRNet-W32 weights of MMPose's HRNet configs (and our CrowdPose W32 config).
HRNET_W32_IMAGENET = 'https://download.openmmlab.com/mmpose/pretrain_models/hrnet_w32-36af842e.pth'


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty download cache and no way out: every HTTP(S) request goes to a proxy on a
    closed local port, so a download fails at once (URLError) on any machine, connected or
    not."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    for name in ('no_proxy', 'NO_PROXY'):
        monkeypatch.delenv(name, raising=False)
    for name in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY'):
        monkeypatch.setenv(name, 'http://127.0.0.1:9')
    return tmp_path / 'torch_home'


def _config(init_cfg) -> Config:
    """The sample config with this backbone ``init_cfg``."""
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.model.backbone.init_cfg = init_cfg
    return cfg


def test_offline_imagenet_init_cfg_names_the_url_the_key_and_the_fix(tmp_path, offline):
    """The real runner with the real HRNet ImageNet URL: the run stops in before_run, before
    MMEngine's weight initialisation would fail with a bare URLError."""
    cfg = _config(dict(type='Pretrained', checkpoint=HRNET_W32_IMAGENET))
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    # A test or val run initialises no weights from init_cfg (it loads a checkpoint): with
    # the train loop not built (Runner.train builds it), before_run leaves the URL alone.
    CheckpointFileCheckHook().before_run(runner)
    with pytest.raises(ConnectionError) as error:
        runner.train()
    message = str(error.value)
    assert f'cannot download {HRNET_W32_IMAGENET} (`model.backbone.init_cfg.checkpoint` of ' \
        f'{SAMPLE_CONFIG}' in message
    assert str(offline / 'hub' / 'checkpoints' / 'hrnet_w32-36af842e.pth') in message
    assert '`--cfg-options model.backbone.init_cfg.checkpoint=PATH`' in message
    assert '`--cfg-options model.backbone.init_cfg=None`' in message
    assert f'python tools/prepare_data.py check {SAMPLE_CONFIG}' in message
    assert 'URLError' in repr(error.value.__cause__)
    assert runner.iter == 0  # nothing trained


def test_cached_init_cfg_checkpoint_needs_no_network(offline):
    """A file already where MMEngine caches the URL is used as it is: no download."""
    cached = cached_checkpoint(HRNET_W32_IMAGENET)
    assert cached == str(offline / 'hub' / 'checkpoints' / 'hrnet_w32-36af842e.pth')
    (offline / 'hub' / 'checkpoints').mkdir(parents=True)
    torch.save({'state_dict': {}}, cached)
    # (The runner's before_run calls this with runner.cfg.) Offline, a download would raise.
    CheckpointFileCheckHook.check_init_checkpoints(
        _config(dict(type='Pretrained', checkpoint=HRNET_W32_IMAGENET)))


def test_missing_local_init_cfg_checkpoint_names_the_key(tmp_path):
    missing = tmp_path / 'hrnet_w32_imagenet.pth'
    with pytest.raises(FileNotFoundError) as error:
        CheckpointFileCheckHook.check_init_checkpoints(
            _config(dict(type='Pretrained', checkpoint=str(missing))))
    message = str(error.value)
    assert str(missing) in message
    assert f'`model.backbone.init_cfg.checkpoint` of {SAMPLE_CONFIG}' in message
    assert '`--cfg-options model.backbone.init_cfg=None`' in message


def test_init_cfg_checkpoints_of_a_config_with_their_keys():
    model = dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
                 neck=dict(init_cfg=None),
                 head=dict(init_cfg=[dict(type='Normal', layer='Conv2d'),
                                     dict(type='Pretrained', checkpoint='head.pth',
                                          prefix='head.')]))
    assert pretrained_checkpoints(model) == [
        ('torchvision://resnet50', 'model.backbone.init_cfg.checkpoint'),
        ('head.pth', 'model.head.init_cfg.1.checkpoint')]
    assert pretrained_checkpoints(None) == []
    # torchvision:// is the URL MMEngine downloads (its own table); local paths have none.
    assert download_url('torchvision://resnet50').startswith('https://download.pytorch.org/')
    assert download_url(HRNET_W32_IMAGENET) == HRNET_W32_IMAGENET
    assert download_url('head.pth') is None and download_url('open-mmlab://x') is None
