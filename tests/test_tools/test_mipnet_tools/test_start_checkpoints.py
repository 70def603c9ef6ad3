"""The checkpoints a config loads: named with their source and the command that makes them
(tools/prepare_data.py check), and the command works as printed."""
import shlex

import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint

from mipnet_tools.start_checkpoints import (
    checkpoint_origin,
    config_checkpoints,
    describe_checkpoints,
)
from tests.conftest import REPO, load_tool, stock_model_cfg
from tests.test_tools.test_convert_official_ckpt import (
    NO_SE,
    authors_hrnet_keys,
    random_state_dict,
)

W32_OCHUMAN = 'configs/mipnet_hrnet_w32_ochuman.py'


def _checkout(tmp_path, monkeypatch):
    """An empty folder with the checkout's configs/ and tools/, as the working directory."""
    for name in ('configs', 'tools'):
        (tmp_path / name).symlink_to(REPO / name)
    monkeypatch.chdir(tmp_path)


def test_check_names_the_start_checkpoint_with_its_source_and_command(tmp_path, monkeypatch,
                                                                       capsys):
    """On an empty data folder: the W32 OCHuman config's load_from is missing, named with
    HRNet's release and the conversion command; the command, run as printed on a file of
    the release's layout, makes it, and check then finds it (the data still missing)."""
    _checkout(tmp_path, monkeypatch)
    tool = load_tool(REPO / 'tools' / 'prepare_data.py', 'prepare_data')
    cfg = Config.fromfile(W32_OCHUMAN)
    assert tool.main(['check', W32_OCHUMAN]) == 1
    err = capsys.readouterr().err
    load_from = cfg.load_from
    assert f'missing checkpoint {load_from} (config field load_from)' in err
    assert "from: pose_hrnet_w32_256x192.pth, HRNet's model zoo" in err
    command = (f'python tools/convert_official_ckpt.py pose_hrnet_w32_256x192.pth {load_from} '
               f'--release --config {W32_OCHUMAN}')
    assert f'make it: {command}' in err
    # The alternative of start_checkpoints, with what fetches it.
    mmpose = cfg.start_checkpoints['mmpose']
    assert f"alternative start checkpoint {mmpose} (start_checkpoints['mmpose']; " \
        f'--cfg-options load_from={mmpose}): not there' in err
    assert 'make it: mim download mmpose --config ' \
        'td-hm_hrnet-w32_8xb64-210e_coco-256x192 --dest checkpoints' in err
    assert 'missing file data/coco/annotations/person_keypoints_train2017.json' in err

    # HRNet's W32 release layout (its own pose_hrnet.py names), converted as printed.
    release = random_state_dict(authors_hrnet_keys(widths=(32, 64, 128, 256),
                                                   se_modules=NO_SE), seed=7)
    torch.save(release, 'pose_hrnet_w32_256x192.pth')
    (tmp_path / 'checkpoints').mkdir()
    _, script, *args = shlex.split(command)
    converter = load_tool(REPO / script, 'convert_official_ckpt')
    assert converter.main(args) == 0
    capsys.readouterr()
    assert tool.main(['check', W32_OCHUMAN]) == 1  # the data are still missing
    out, err = capsys.readouterr()
    assert f'there checkpoint {load_from} (config field load_from)' in out
    assert 'make it: python' not in out + err
    assert '0 checkpoints missing' in err
    from mmpose.registry import MODELS
    stock = MODELS.build(stock_model_cfg(cfg.model))
    load_checkpoint(stock, load_from, map_location='cpu', strict=True)


def test_init_cfg_checkpoints_and_sources(tmp_path, monkeypatch):
    """init_cfg checkpoints (URLs: MMEngine downloads them) are named, each path once, with
    where MMEngine keeps the download and, until it is there, what to do offline."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))
    cfg = Config.fromfile(
        str(REPO / 'configs' / 'mipnet_hrnet-w48_3xb10-210e_crowdpose-384x288.py'))
    entries = config_checkpoints(cfg, 'crowdpose.py')
    backbone, = [e for e in entries if e.field == 'model.backbone.init_cfg.checkpoint']
    assert backbone.path == cfg.model.backbone.init_cfg.checkpoint
    assert backbone.is_remote and backbone.exists
    assert 'MMEngine' in backbone.origin[0] and backbone.origin[1] is None
    cached = tmp_path / 'hub' / 'checkpoints' / 'hrnet_w48-8ef0771d.pth'
    assert backbone.cached == str(cached)
    report = describe_checkpoints([backbone])
    assert report.startswith(f'remote checkpoint {backbone.path} (config field '
                             'model.backbone.init_cfg.checkpoint)')
    assert f'offline: download {backbone.path} on a machine with internet access and copy ' \
        f'it to {cached}' in report and 'model.backbone.init_cfg=None' in report
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b'')
    report = describe_checkpoints([backbone])
    assert report.startswith('downloaded checkpoint') and 'offline:' not in report
    # A config that loads nothing lists nothing.
    sample = Config.fromfile(str(REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-mini-128x96.py'))
    assert config_checkpoints(sample, 'x.py') == []
    # MMPose model-zoo files: mim download into the folder the config names.
    source, command = checkpoint_origin(
        'work/td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth', 'c.py')
    assert 'https://download.openmmlab.com/' in source
    assert command == 'mim download mmpose --config td-hm_hrnet-w48_8xb32-210e_coco-384x288 ' \
        '--dest work'
    assert checkpoint_origin('mine.pth', 'c.py') == \
        ('your own checkpoint (not one this repository knows)', None)
