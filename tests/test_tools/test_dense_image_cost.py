"""tools/analysis/dense_image_cost.py: one dense image, stock, unpruned and pruned OKS-NMS agree."""
import json

from tests.conftest import REPO, load_tool

tool = load_tool(REPO / 'tools' / 'analysis' / 'dense_image_cost.py', 'mipnet_dense_image_cost')


def test_rows_for_each_layout_and_box_count_and_the_same_kept_poses(tmp_path):
    out = tmp_path / 'rows.json'
    rows = tool.main(['--boxes', '20', '150', '--stock-max', '150', '--json', str(out)])
    assert [(r['layout'], r['boxes']) for r in rows] == [('pair', 20), ('pair', 150),
                                                        ('crowd', 20), ('crowd', 150)]
    assert [r['poses'] for r in rows] == [40, 300, 40, 300]
    for row in rows:
        assert row['same_kept'] is True
        assert 0 < row['kept'] <= row['poses']
        assert row['unpruned_pairs'] >= row['ours_pairs'] > 0
        assert 0.0 <= row['AP'] <= 1.0 and row['metric_s'] > 0
    # the crowd's 15 copies of the pair are far apart: each pose meets its own copy only
    crowd = rows[3]
    assert crowd['ours_pairs'] <= 15 * (20 * 19 // 2) < crowd['unpruned_pairs']
    assert json.loads(out.read_text()) == rows


def test_crowd_layout_tiles_the_pair_with_new_ids():
    gt, samples = tool.dense_samples(40, layout='crowd')
    assert len(samples) == 40 and len(gt['images']) == 1
    # 10 boxes per copy of the pair: 4 copies, 8 persons with distinct ids
    assert len({a['id'] for a in gt['annotations']}) == 8
    xs = sorted({round(a['bbox'][0]) for a in gt['annotations']})
    assert xs[-1] - xs[0] >= gt['images'][0]['width'] // 2
