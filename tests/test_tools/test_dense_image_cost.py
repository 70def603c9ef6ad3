"""tools/analysis/dense_image_cost.py: one dense image, stock and vectorised OKS-NMS agree."""
import json

from tests.conftest import REPO, load_tool

tool = load_tool(REPO / 'tools' / 'analysis' / 'dense_image_cost.py', 'mipnet_dense_image_cost')


def test_rows_for_each_box_count_and_the_same_kept_poses(tmp_path):
    out = tmp_path / 'rows.json'
    rows = tool.main(['--boxes', '20', '150', '--stock-max', '150', '--json', str(out)])
    assert [r['boxes'] for r in rows] == [20, 150]
    assert [r['poses'] for r in rows] == [40, 300]
    for row in rows:
        assert row['same_kept'] is True
        assert 0 < row['kept'] <= row['poses']
        assert 0.0 <= row['AP'] <= 1.0 and row['metric_s'] > 0
    assert json.loads(out.read_text()) == rows
