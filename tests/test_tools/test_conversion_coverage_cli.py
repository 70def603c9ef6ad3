"""tools/analysis/conversion_coverage.py: the command line over mipnet_tools.coverage."""
import json

import pytest

from tests.conftest import REPO, load_tool

tool = load_tool(REPO / 'tools' / 'analysis' / 'conversion_coverage.py',
                 'mipnet_conversion_coverage')


def test_cli_writes_rows_and_page_and_renders_from_rows(tmp_path):
    page, rows = tmp_path / 'page.md', tmp_path / 'rows.json'
    out = tool.main(['--tasks', 'fashion', '--datasets', 'deepfashion', '--out', str(page),
                     '--rows', str(rows)])
    # DeepFashion has no bundled sample: converted, not trained (no model is built).
    assert {r['family'] for r in out} == {'HRNet/HeatmapHead/MSRAHeatmap',
                                          'HRNet/HeatmapHead/UDPHeatmap',
                                          'ResNet/HeatmapHead/MSRAHeatmap'}
    assert all(r['converted'] and r['no_sample'] for r in out)
    assert json.loads(rows.read_text())['meta']['runs'][0]['command'] == (
        'python tools/analysis/conversion_coverage.py --tasks fashion --datasets deepfashion '
        f'--out {page} --rows {rows}')
    text = page.read_text()
    page.write_text('# Header\n')
    tool.main(['--render', '--rows', str(rows), '--out', str(page)])
    assert page.read_text() == '# Header\n\n' + text


def test_cli_names_bad_selections():
    with pytest.raises(SystemExit, match='unknown task'):
        tool.main(['--tasks', 'bodies'])
    with pytest.raises(SystemExit, match='--render needs --rows and --out'):
        tool.main(['--render'])
    with pytest.raises(SystemExit, match='nowhere/page.md: its folder does not exist'):
        tool.main(['--tasks', 'fashion', '--out', '/nowhere/page.md'])
