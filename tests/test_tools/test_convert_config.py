"""tools/convert_config.py writes only its own files: an edited output is kept (--force
overwrites it), a file that merely mentions the tool is not its output, and a lazy-import
(new-style) config, which it cannot write, is refused in one line naming the old-style one."""
from pathlib import Path

import mmpose
from mmengine.config import Config

from tests.conftest import REPO, load_tool

TOOL = load_tool(REPO / 'tools' / 'convert_config.py', 'mipnet_convert_config_guard')
STOCK = 'mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py'
#: A new-style top-down config as MMPose writes them (types are imported classes), at the
#: place MMPose keeps its own: mmpose/configs/<task>/... mirroring mmpose::<task>/...
LAZY_NAME = 'configs/body_2d_keypoint/rtmpose/coco/rtmpose_m_8xb256-420e_coco-256x192.py'
LAZY_CONFIG = '''from mmpose.datasets import (CocoDataset, GetBBoxCenterScale, LoadImage,
                             PackPoseInputs, TopdownAffine)
from mmpose.models import HeatmapHead, ResNet, TopdownPoseEstimator

codec = dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)
model = dict(type=TopdownPoseEstimator, backbone=dict(type=ResNet, depth=18),
             head=dict(type=HeatmapHead, in_channels=512, out_channels=17, decoder=codec))
val_pipeline = [dict(type=LoadImage), dict(type=GetBBoxCenterScale),
                dict(type=TopdownAffine, input_size=codec['input_size']),
                dict(type=PackPoseInputs)]
val_dataloader = dict(batch_size=2, dataset=dict(type=CocoDataset, data_root='data/coco/',
                                                 pipeline=val_pipeline))
'''


def _err(capsys) -> list:
    return capsys.readouterr().err.strip().splitlines()


def test_an_edited_config_is_kept_and_force_overwrites_it(tmp_path, capsys):
    out = tmp_path / 'mine.py'
    assert TOOL.main([STOCK, str(out)]) == 0
    assert TOOL.main([STOCK, str(out), '--num-instances', '3']) == 0  # unedited: rewritten
    assert Config.fromfile(str(out)).model.num_instances == 3
    # The user edits it, as the tool's docstring says to.
    edited = out.read_text().replace('num_instances = 3', 'num_instances = 4')
    out.write_text(edited)
    assert Config.fromfile(str(out)).model.num_instances == 4
    capsys.readouterr()
    assert TOOL.main([STOCK, str(out)]) == 1
    assert _err(capsys) == [f'error: out_config {out} was changed since this tool wrote it, '
                            'so it is kept; to overwrite it, pass --force']
    assert out.read_text() == edited
    assert TOOL.main([STOCK, str(out), '--force']) == 0
    assert Config.fromfile(str(out)).model.num_instances == 2
    assert TOOL.main([STOCK, str(out), '--num-instances', '3']) == 0  # its own again


def test_a_file_mentioning_the_tool_is_not_its_output(tmp_path, capsys):
    notes = tmp_path / 'notes.py'
    text = '# written by tools/convert_config.py: my notes on the conversion\nlr = 0.1\n'
    notes.write_text(text)
    assert TOOL.main([STOCK, str(notes)]) == 1
    (line, ) = _err(capsys)
    assert line == f'error: out_config {notes} exists and was not written by this tool; move ' \
        'it away or give another output path'
    assert notes.read_text() == text
    # An older output without the stamp is not taken for one either; --force replaces it.
    assert TOOL.main([STOCK, str(notes), '--force']) == 0
    assert Config.fromfile(str(notes)).model.type == 'MultiInstanceTopdownPoseEstimator'


def test_force_never_writes_over_the_stock_config(tmp_path, capsys):
    stock = tmp_path / 'stock.py'
    stock.write_text(f'_base_ = [{STOCK!r}]\n')
    before = stock.read_bytes()
    assert TOOL.main([str(stock), str(stock), '--force']) == 1
    (line, ) = _err(capsys)
    assert 'is the stock config' in line
    assert stock.read_bytes() == before


def test_a_lazy_import_config_is_refused_naming_the_old_style_one(tmp_path, capsys):
    lazy = tmp_path / 'mmpose' / LAZY_NAME
    lazy.parent.mkdir(parents=True)
    lazy.write_text(LAZY_CONFIG)
    # A real new-style config: mmengine loads it with the classes it imports.
    loaded = Config.fromfile(str(lazy))
    assert loaded.model.type.__name__ == 'TopdownPoseEstimator'
    out = tmp_path / 'out.py'
    assert TOOL.main([str(lazy), str(out)]) == 1
    old = 'mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py'
    assert (Path(mmpose.__file__).parent / '.mim' / 'configs' / old.split('::')[1]).is_file()
    (line, ) = _err(capsys)
    assert line.startswith(f'error: {lazy} cannot be converted: ')
    assert "is <class 'mmpose." in line and 'a lazy-import (new-style) config' in line
    assert line.endswith(f'convert the old-style config {old} instead')
    assert not out.exists()
    # One that mirrors no installed config: the message says what to look for.
    other = tmp_path / 'mine_lazy.py'
    other.write_text(LAZY_CONFIG)
    assert TOOL.main([str(other), str(out)]) == 1
    (line, ) = _err(capsys)
    assert "type='...'" in line and not out.exists()


def test_mmposes_own_lazy_import_config_is_one_line(tmp_path, capsys):
    """MMPose's one installed new-style config (EDPose): its wheel lacks the
    ``mmpose.configs`` package it reads its base from, so mmengine cannot load it."""
    edpose = 'mmpose::body_2d_keypoint/edpose/coco/edpose_res50_8xb2-50e_coco-800x1333.py'
    out = tmp_path / 'out.py'
    assert TOOL.main([edpose, str(out)]) == 1
    (line, ) = _err(capsys)
    assert line.startswith(f'error: mmengine cannot load the stock config {edpose}: ')
    assert not out.exists()
