"""tools/analysis/test_time_cost.py: stock and MIPNet through the Runner on the same boxes."""
import json

import pytest

from tests.conftest import REPO, load_tool

tool = load_tool(REPO / 'tools' / 'analysis' / 'test_time_cost.py', 'mipnet_test_time_cost')


def test_replicated_detections_have_new_ids_and_the_exact_count(tmp_path):
    inputs = tool.replicate_detections(50, tmp_path)
    coco = json.loads(open(inputs['ann_file']).read())
    dets = json.loads(open(inputs['bbox_file']).read())
    assert inputs['boxes'] == len(dets) == 50 and inputs['copies'] >= 2
    image_ids = [im['id'] for im in coco['images']]
    assert len(set(image_ids)) == len(image_ids) == inputs['images']
    assert {d['image_id'] for d in dets} == set(image_ids)
    ann_ids = [a['id'] for a in coco['annotations']]
    assert len(set(ann_ids)) == len(ann_ids)
    assert all(d['score'] >= inputs['score_thr'] for d in dets)
    # the copies reuse the sample image files
    assert all((REPO / inputs['data_root'] / inputs['img_prefix'] / im['file_name']).is_file()
               for im in coco['images'])


def test_both_models_evaluate_the_same_boxes_and_the_split_sums_to_the_total(tmp_path):
    out = tmp_path / 'report.json'
    report = tool.main(['--boxes', '20', '--batch-size', '8', '--device', 'cpu',
                        '--threads', '2', '--no-progress', '--work-dir', str(tmp_path / 'w'),
                        '--json', str(out)])
    stock, mipnet = report['rows']
    assert (stock['model'], mipnet['model']) == ('stock', 'mipnet')
    assert stock['boxes'] == mipnet['boxes'] == report['meta']['boxes'] == 20
    assert stock['box_ids_sha1'] == mipnet['box_ids_sha1']
    # one pose per box against N = 2
    assert stock['poses'] == 20 and mipnet['poses'] == 40
    for row in (stock, mipnet):
        seconds = row['seconds']
        assert sum(seconds[p] for p in tool.PHASES) == pytest.approx(seconds['total'])
        assert seconds['network'] > 0 and seconds['pipeline'] > 0
        # both metrics run their OKS-NMS, inside the metric's time
        assert 0 < seconds['metric_nms'] <= seconds['metric']
        assert row['per_10k_boxes']['total'] == pytest.approx(seconds['total'] * 500)
    assert json.loads(out.read_text())['rows'] == report['rows']
