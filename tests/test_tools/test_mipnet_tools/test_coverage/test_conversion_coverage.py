"""mipnet_tools.coverage.conversion_coverage: one config per task on its bundled sample.

The CI subset of docs/conversion_coverage.md: per task a small config at half its
input size, converted, trained one step and run on its data set's real sample, plus
a multi-stage family (refused) and a data set with no bundled sample.
"""
import json

import pytest
import torch
from mmengine.config import Config

from mipnet_mmpose import ConversionError, convert_config
from mipnet_mmpose.conversion import resolve_config_path
from mipnet_tools.coverage.config_survey import group_configs, survey_configs
from mipnet_tools.coverage.conversion_coverage import (
    TABLE_MARK,
    _stock_failure,
    check_config,
    outcome,
    row_key,
    run_coverage,
    select_groups,
    write_table,
)
from mipnet_tools.coverage.sample_data import scale_input, stock_on_sample

# (data set folder, config file name): one small config per task.
SUBSET = [
    ('mpii', 'td-hm_shufflenetv2_8xb64-210e_mpii-256x256.py'),
    ('coco-wholebody', 'td-hm_vipnas-mbv3_8xb64-210e_coco-wholebody-256x192.py'),
    ('ap10k', 'rtmpose-m_8xb64-210e_ap10k-256x256.py'),
    ('onehand10k', 'td-hm_mobilenetv2_8xb64-210e_onehand10k-256x256.py'),
    ('coco_wholebody_face', 'td-hm_mobilenetv2_8xb32-60e_coco-wholebody-face-256x256.py'),
    ('deepfashion2', 'td-hm_res50_1xb64-210e_deepfasion2-long-sleeved-dress-256x192.py'),
    ('coco_wholebody_hand', 'td-hm_hourglass52_8xb32-210e_coco-wholebody-hand-256x256.py'),
]


@pytest.fixture(scope='module')
def subset(tmp_path_factory):
    folder = tmp_path_factory.mktemp('coverage')
    page, rows_file = folder / 'coverage.md', folder / 'rows.json'
    page.write_text('# Coverage\n\nHow it was made.\n')
    # Small steps of small models: one thread is faster than two handing work over
    # (several times so on a loaded machine), as the tool's --threads 1.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = run_coverage(datasets=[d for d, _ in SUBSET], configs=[c for _, c in SUBSET],
                            input_scale=0.5, out=str(page), rows_file=str(rows_file),
                            command='test')
    finally:
        torch.set_num_threads(threads)
    return {r['dataset']: r for r in rows}, page, rows_file


def test_one_config_per_task_trains_on_its_sample_and_predicts_n_poses(subset):
    rows, _, _ = subset
    assert sorted(rows) == sorted(d for d, _ in SUBSET)
    for folder in ('mpii', 'coco-wholebody', 'ap10k', 'onehand10k', 'coco_wholebody_face'):
        row = rows[folder]
        assert outcome(row) == 'predicting', row
        assert row['sites'] and row['mimb_params'] > 0
    assert rows['mpii']['samples'] == 'mpii' and rows['ap10k']['samples'] == 'ap10k'
    # COCO-WholeBody's face subset reads the whole-body sample's faces.
    assert rows['coco_wholebody_face']['samples'].startswith('coco (its faces')
    fashion = rows['deepfashion2']
    assert fashion['converted'] and outcome(fashion) == 'no sample'
    assert fashion['reason'] == 'not trained: no bundled sample of DeepFashion2Dataset'
    refused = rows['coco_wholebody_hand']
    assert outcome(refused) == 'refused' and 'multi-stage' in refused['reason']


def test_page_has_a_summary_line_and_a_table_per_task(subset):
    _, page, _ = subset
    text = page.read_text()
    assert text.startswith('# Coverage\n\nHow it was made.\n\n' + TABLE_MARK)
    # task | groups | configs (all of each group's) | converted | trained | predicting |
    # refused | no sample | failed
    assert '| hand_2d_keypoint | 2 | 2 | 1 | 1 | 1 | 1 | 0 | 0 |' in text
    assert '| fashion_2d_keypoint | 1 | 13 | 1 | 0 | 0 | 0 | 1 | 0 |' in text
    assert '| all | 7 | 20 | 6 | 5 | 5 | 1 | 1 | 0 |' in text
    for task in ('body', 'wholebody', 'animal', 'hand', 'face', 'fashion'):
        assert f'## {task}_2d_keypoint\n\n{task}_2d_keypoint: ' in text


def test_a_later_subset_replaces_only_its_rows(subset):
    rows, page, rows_file = subset
    before = json.loads(rows_file.read_text())['rows']
    # A data set without sample (no training): quick; its group replaces the old row.
    run_coverage(datasets=['deepfashion2'], configs=['*long-sleeved-dress*'], input_scale=0.5,
                 out=str(page), rows_file=str(rows_file), command='again')
    data = json.loads(rows_file.read_text())
    after = data['rows']
    assert [row_key(r) for r in after] == [row_key(r) for r in before]
    kept = {row_key(r): r for r in after}
    assert kept[row_key(rows['mpii'])] == rows['mpii']
    assert [run['command'] for run in data['meta']['runs']] == ['test', 'again']
    assert '| all | 7 | 20 |' in page.read_text()
    with pytest.raises(ValueError, match='input scale 0.5; this run has N = 3'):
        run_coverage(datasets=['deepfashion2'], num_instances=3, input_scale=0.5,
                     rows_file=str(rows_file))


def test_combined_data_rows_say_what_convert_config_does():
    """RTMPose's body8 (CombinedDataset with KeypointConverter): refused with
    convert_config's reason while it refuses, trained on the parts' samples once not."""
    path = resolve_config_path(
        'mmpose::body_2d_keypoint/rtmpose/body8/rtmpose-t_8xb256-420e_body8-256x192.py')
    try:
        convert_config(Config.fromfile(path))
        refusal = None
    except ConversionError as e:
        refusal = f'refused: {e}'
    row = check_config(path, input_scale=0.5)
    if refusal is not None:
        assert row['reason'] == refusal and not row['converted']
    else:
        assert outcome(row) == 'predicting', row
        assert row['samples'].startswith('coco_mini, aic, crowdpose, mpii')
        assert 'JhmdbDataset' in row['samples']  # dropped: no bundled sample


def test_out_keeps_the_pages_header(tmp_path):
    page = tmp_path / 'coverage.md'
    page.write_text('# Coverage\n\nHow it was made.\n\n| family (backbone / head / codec) | old |\n'
                    '|---|---|\n| stale row | x |\n')
    write_table(str(page), TABLE_MARK + '\nnew')
    assert page.read_text() == f'# Coverage\n\nHow it was made.\n\n{TABLE_MARK}\nnew\n'
    write_table(str(page), TABLE_MARK + '\nnewer')
    assert page.read_text() == f'# Coverage\n\nHow it was made.\n\n{TABLE_MARK}\nnewer\n'
    fresh = tmp_path / 'fresh.md'
    write_table(str(fresh), TABLE_MARK)
    assert fresh.read_text() == TABLE_MARK + '\n'


def test_selection_of_combined_groups_and_by_file_name():
    groups = group_configs(survey_configs(['hand']).entries)
    combined = select_groups(groups, combined=True)
    assert [k[1:3] for k in combined] == [
        ('hand5', 'CocoWholeBodyHand + OneHand10K + FreiHand + Rhd2D + HalpeHand')]
    by_name = select_groups(groups, configs=['*rhd2d*'],
                            families=['ResNet/HeatmapHead/MSRAHeatmap'])
    assert list(by_name) == [('hand_2d_keypoint', 'rhd2d', 'Rhd2D',
                              'ResNet/HeatmapHead/MSRAHeatmap')]


def test_a_failure_at_half_input_is_checked_at_its_own_size_and_against_stock():
    """AlexNet's heatmaps do not match its targets at half its input (the stock model's
    neither): the row is the check at its own size, with the half-size failure noted."""
    path = resolve_config_path(
        'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_alexnet_8xb64-210e_coco-256x192.py')
    row = check_config(path, input_scale=0.5)
    assert outcome(row) == 'predicting' and row['input_scale'] == 1.0, row
    assert row['note'].startswith('at its own input size; at input scale 0.5: RuntimeError')
    assert 'the stock config fails here too: RuntimeError' in row['note']
    stock, _, _ = stock_on_sample(path)
    assert _stock_failure(stock, 2) == ''
    assert _stock_failure(scale_input(stock, 0.5), 2).startswith('RuntimeError')
