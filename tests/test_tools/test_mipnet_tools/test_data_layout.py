"""The data a config reads: what is missing, with its source (tools/prepare_data.py check)."""
import shutil

from mmengine.config import Config

from mipnet_tools.data_layout import (
    config_data_entries,
    describe_missing,
    missing_data,
    source_of,
)
from tests.conftest import REPO, SAMPLE, load_tool

OCHUMAN_TEST_DET = REPO / 'configs' / 'mipnet_hrnet-w48_4xb10-110e_ochuman-384x288_test-det.py'


def test_entries_follow_the_config_fields():
    cfg = Config.fromfile(str(OCHUMAN_TEST_DET))
    entries = {e.field: e for e in config_data_entries(cfg)}
    assert entries['train_dataloader.dataset.ann_file'].path == \
        'data/coco/annotations/person_keypoints_train2017.json'
    assert entries["train_dataloader.dataset.data_prefix['img']"].is_dir
    assert entries['test_dataloader.dataset.ann_file'].path == \
        'data/ochuman/annotations/ochuman_coco_format_test_range_0.00_1.00.json'
    # bbox_file is not joined with data_root (MMPose reads it as given).
    assert entries['test_dataloader.dataset.bbox_file'].path == \
        'data/ochuman/OCHuman_test2017_detections_person.json'
    assert 'not published' in entries['test_dataloader.dataset.bbox_file'].source


def test_every_reproduction_file_has_a_known_source():
    from tests.conftest import reproduction_configs
    for path in reproduction_configs():
        for entry in config_data_entries(Config.fromfile(str(path))):
            assert not entry.source.startswith('your own data'), (path.name, entry.path)
    assert 'crowdpose_annotations.tar' in source_of(
        'data/crowdpose/annotations/det_for_crowd_test_0.1_0.5.json')
    assert 'OCHumanApi' in source_of('data/ochuman/images/')


def test_check_names_what_is_missing_and_passes_when_complete(tmp_path, capsys):
    """On the sample config with its data copied: complete, then one file and one folder
    removed, each named with its field and source."""
    tool = load_tool(REPO / 'tools' / 'prepare_data.py', 'prepare_data')
    root = tmp_path / 'data' / 'sample'
    shutil.copytree(SAMPLE / 'coco_mini', root / 'coco_mini')
    shutil.copytree(SAMPLE / 'ochuman', root / 'ochuman')
    config = tmp_path / 'cfg.py'
    config.write_text(f"_base_ = ['{REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-mini-128x96.py'}']\n"  # noqa: E501
                      f"data_root = '{root}/'\n"
                      "train_dataloader = dict(dataset=dict(data_root=data_root))\n"
                      "val_dataloader = dict(dataset=dict(data_root=data_root))\n"
                      "test_dataloader = val_dataloader\n"
                      "val_evaluator = dict(ann_file=data_root + 'ochuman/test_ochuman.json')\n"
                      "test_evaluator = val_evaluator\n")
    assert tool.main(['check', str(config)]) == 0
    assert missing_data([Config.fromfile(str(config))]) == []
    (root / 'ochuman' / 'test_ochuman.json').unlink()
    shutil.rmtree(root / 'coco_mini' / 'train2017')
    capsys.readouterr()
    assert tool.main(['check', str(config)]) == 1
    err = capsys.readouterr().err
    assert f"missing folder {root}/coco_mini/train2017/ (config field " \
        "train_dataloader.dataset.data_prefix['img'])" in err
    assert f'missing file {root}/ochuman/test_ochuman.json (config field ' \
        'val_dataloader.dataset.ann_file)' in err
    assert 'docs/data.md' in err
    missing = missing_data([Config.fromfile(str(config))])
    assert [e.path for e in missing] == [f'{root}/coco_mini/train2017/',
                                         f'{root}/ochuman/test_ochuman.json']
    assert describe_missing(missing).count('from: ') == 2
