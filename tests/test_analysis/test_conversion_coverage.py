"""tools/analysis/conversion_coverage.py on MMPose's own configs and the sample data."""
from tests.conftest import REPO, load_tool

tool = load_tool(REPO / 'tools' / 'analysis' / 'conversion_coverage.py',
                 'mipnet_conversion_coverage')


def test_families_of_mmpose_top_down_coco_configs():
    """MMPose 1.3.2's top-down COCO body configs fall into the issue's 34 families."""
    grouped = tool.families(tool.mmpose_coco_configs())
    assert len(grouped) == 34
    assert sum(len(paths) for paths in grouped.values()) == len(tool.mmpose_coco_configs())
    # COCO-only data before mixed data, smallest input first.
    assert 'aic' not in tool.osp.basename(grouped['CSPNeXt/RTMCCHead/SimCCLabel'][0])
    assert grouped['HRNet/HeatmapHead/MSRAHeatmap'][0].endswith('256x192.py')


def test_one_family_trains_and_predicts_and_a_multi_stage_one_is_refused(tmp_path):
    out = tmp_path / 'coverage.md'
    rows = tool.main(['--families', 'ShuffleNetV2/HeatmapHead/MSRAHeatmap',
                      'CPM/CPMHead/MSRAHeatmap', '--out', str(out)])
    trained = rows['ShuffleNetV2/HeatmapHead/MSRAHeatmap']
    assert trained['converted'] and trained['trained'] and trained['predicts'], trained
    assert trained['sites'] and trained['mimb_params'] > 0
    refused = rows['CPM/CPMHead/MSRAHeatmap']
    assert not refused['converted'] and refused['reason'].startswith('refused')
    assert 'multi-stage' in refused['reason']
    table = out.read_text()
    assert '| ShuffleNetV2 / HeatmapHead / MSRAHeatmap | 2 |' in table
    assert '2 families: 1 trained and predicting, 1 refused, 0 other.' in table


def test_out_keeps_the_pages_header(tmp_path):
    page = tmp_path / 'coverage.md'
    page.write_text('# Coverage\n\nHow it was made.\n\n| family (backbone / head / codec) | old |\n'
                    '|---|---|\n| stale row | x |\n')
    tool.write_table(str(page), '| family (backbone / head / codec) | new |\n|---|---|')
    assert page.read_text() == ('# Coverage\n\nHow it was made.\n\n'
                                '| family (backbone / head / codec) | new |\n|---|---|\n')
    fresh = tmp_path / 'fresh.md'
    tool.write_table(str(fresh), '| family (backbone / head / codec) | new |')
    assert fresh.read_text() == '| family (backbone / head / codec) | new |\n'
