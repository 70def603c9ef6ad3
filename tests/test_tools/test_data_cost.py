"""tools/analysis/data_cost.py (mipnet_tools.data_cost) and what it measures: the compact
neighbours and their index.

A real small run (a replicated sample file, the real sample images, load probes in fresh
subprocesses with DataLoader workers) and the vectorised neighbour index against the
per-sample ordering it replaces.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from mmpose.registry import DATASETS

from mipnet_mmpose.datasets.neighbours import (
    NEIGHBOUR_KEYS,
    NEIGHBOUR_SPAN_KEY,
    neighbour_index,
    order_neighbours,
)
from mipnet_tools import benchmark_run, data_cost
from tests.conftest import REPO, SAMPLE, load_tool

tool = load_tool(REPO / 'tools' / 'analysis' / 'data_cost.py', 'mipnet_data_cost')
benchmark = load_tool(REPO / 'tools' / 'benchmark.py', 'mipnet_benchmark_for_data')

COCO_MINI = SAMPLE / 'coco_mini' / 'annotations' / 'person_keypoints_train2017.json'


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    """One small run of the tool: 2,000 CrowdPose persons, 2 workers, one repeat each."""
    out = tmp_path_factory.mktemp('data_cost') / 'result.json'
    result = tool.main(['--persons', '2000', '--repeats', '1', '--workers', '2',
                        '--worker-batches', '1', '--pipeline-repeats', '1', '--json', str(out)])
    return result, json.loads(out.read_text())


def test_scaled_file_has_new_ids_real_images_and_the_original_neighbours(tmp_path):
    original = json.loads(COCO_MINI.read_text())
    persons = 3 * len(original['annotations'])
    scaled = data_cost.scale_annotations('coco', persons, tmp_path)
    assert scaled['copies'] == 3 and scaled['annotations'] == persons
    coco = json.loads(Path(scaled['ann_file']).read_text())
    assert len({im['id'] for im in coco['images']}) == len(coco['images']) == 3 * 80
    assert len({a['id'] for a in coco['annotations']}) == persons
    assert {a['image_id'] for a in coco['annotations']} <= {im['id'] for im in coco['images']}
    # New file names, each a link to a real sample image.
    links = sorted(Path(scaled['img_dir']).iterdir())
    real = SAMPLE / 'coco_mini' / 'train2017'
    assert len(links) == 3 * 28 and all(
        p.is_file() and p.samefile(real / p.name.split('_', 1)[1]) for p in links)

    stock = DATASETS.build(dict(type='CocoDataset', ann_file=scaled['ann_file'],
                                data_prefix=dict(img=scaled['img_dir'] + '/')))
    ours = DATASETS.build(dict(type='MultiInstanceCocoDataset', ann_file=scaled['ann_file'],
                               data_prefix=dict(img=scaled['img_dir'] + '/')))
    unscaled = DATASETS.build(dict(type='MultiInstanceCocoDataset', ann_file=str(COCO_MINI),
                                   data_prefix=dict(img=str(SAMPLE / 'coco_mini' / 'train2017'))))
    assert len(stock) == len(ours) == 3 * len(unscaled) == 3 * 86
    check = data_cost.check_replicas(ours, scaled, 'coco')
    assert check['identical'] and check['samples'] == 3 * 86
    alone = sum(len(unscaled.get_data_info(i)['neighbour_bboxes']) == 0
                for i in range(len(unscaled)))
    assert 0 < alone < 86 and check['with_neighbours'] == 3 * (86 - alone)
    # The check fails when the neighbours differ.
    table = ours.neighbour_table
    table.bboxes = table.bboxes + 1
    assert not data_cost.check_replicas(ours, scaled, 'coco')['identical']


def test_samples_store_a_span_and_fetch_their_neighbours():
    ours = DATASETS.build(dict(type='MultiInstanceCocoDataset', ann_file=str(COCO_MINI),
                               data_prefix=dict(img=str(SAMPLE / 'coco_mini' / 'train2017'))))
    stock = DATASETS.build(dict(type='CocoDataset', ann_file=str(COCO_MINI),
                                data_prefix=dict(img=str(SAMPLE / 'coco_mini' / 'train2017'))))
    # Per sample, the serialised data list holds one (start, stop) more than the stock one.
    assert ours.data_bytes.nbytes - stock.data_bytes.nbytes < 40 * len(stock)
    table = ours.neighbour_table
    infos = [ours.get_data_info(i) for i in range(len(ours))]
    # Each person that is someone's neighbour is stored once.
    assert table.bboxes.shape[0] == len({
        tuple(box) for info in infos for box in info['neighbour_bboxes'].tolist()})
    assert table.order.dtype == np.int32
    assert table.order.shape == (sum(len(info['neighbour_bboxes']) for info in infos), )
    assert all(NEIGHBOUR_SPAN_KEY not in info for info in infos)
    assert all(info[k].dtype == np.float32 for info in infos for k in NEIGHBOUR_KEYS)
    # Fetched arrays are copies: a transform may write to them.
    idx = next(i for i, info in enumerate(infos) if len(info['neighbour_bboxes']))
    infos[idx]['neighbour_keypoints'][:] = -1
    assert (ours.get_data_info(idx)['neighbour_keypoints'] != -1).any()


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_neighbour_index_orders_as_order_neighbours(seed):
    rng = np.random.default_rng(seed)
    num = 300
    groups = rng.integers(0, 40, num)
    candidate = rng.random(num) > 0.2
    # Integer boxes: many equal distances, so ties must keep the sample order.
    corner = rng.integers(0, 20, (num, 2)).astype(np.float32)
    bboxes = np.concatenate([corner, corner + rng.integers(1, 4, (num, 2))], axis=1)
    persons, order, offsets = neighbour_index(groups, candidate, bboxes)
    assert offsets.shape == (num + 1, ) and offsets[-1] == order.shape[0]
    for s in range(num):
        same = [i for i in range(num) if groups[i] == groups[s] and candidate[i]]
        image = same if candidate[s] else same + [s]
        want = [image[i] for i in order_neighbours(bboxes[image], image.index(s))] \
            if len(image) > 1 else []
        assert persons[order[offsets[s]:offsets[s + 1]]].tolist() == want, s
    empty = neighbour_index(np.zeros(0), np.zeros(0, bool), np.zeros((0, 4)))
    assert [a.shape for a in empty] == [(0, ), (0, ), (1, )]


def test_run_measures_both_classes_and_reports_the_ratios(run):
    result, from_json = run
    assert from_json == json.loads(json.dumps(result))
    load = result['load']
    assert load['scaled']['annotations'] == 2000 and load['scaled']['images'] == 800
    stock, ours = load['stock'], load['ours']
    assert stock['cls'] == 'CrowdPoseDataset' and ours['cls'] == 'MultiInstanceCrowdPoseDataset'
    assert stock['samples'] == ours['samples'] == 1600  # 4 of the 5 persons are samples
    assert load['replicas'] == dict(samples=1600, with_neighbours=1600, identical=True,
                                    first_difference=None)
    for key in ('wall_s', 'cpu_s', 'peak_mib', 'loaded_mib'):
        assert stock[key] > 0 and ours[key] > 0
        assert load['ratios'][key] == pytest.approx(ours[key] / stock[key])
    assert stock['peak_mib'] >= stock['baseline_mib'] > 100  # imports are in the baseline
    assert stock['neighbour_table_mib'] is None and ours['neighbour_table_mib'] > 0
    for side in (stock, ours):
        assert side['workers']['workers'] == 2 and side['workers']['batches'] == 2
        assert side['workers']['rss_total_mib'] > side['after_mib']
    assert stock['workers']['neighbours_drawn'] == 0 < ours['workers']['neighbours_drawn']
    if Path('/proc/self/smaps_rollup').exists():
        assert load['ratios']['workers_pss_total_mib'] == pytest.approx(
            ours['workers']['pss_total_mib'] / stock['workers']['pss_total_mib'])

    for split, stock_names in (('train', {'RandomBBoxTransform', 'GenerateTarget'}),
                               ('val', {'LoadImage', 'TopdownAffine'})):
        row = result['pipeline'][split]
        assert row['stock']['samples'] == row['ours']['samples'] == (86 if split == 'train'
                                                                      else 68)
        assert stock_names <= set(row['stock']['transforms_ms'])
        assert row['ratio'] == pytest.approx(row['ours']['ms_per_sample']
                                             / row['stock']['ms_per_sample'])
        stages = {d['stage']: d for d in row['dominant']}
        assert math.isclose(sum(d['extra_ms'] for d in row['dominant']),
                            row['ours']['ms_per_sample'] - row['stock']['ms_per_sample'],
                            abs_tol=1e-6)
        if split == 'train':  # our transform, no stock counterpart
            slots = stages['BuildInstanceSlots']
            assert slots['stock_ms'] == 0 < slots['ours_ms'] == slots['extra_ms']

    table = data_cost.format_table(result)
    assert 'Loading 2,000 person annotations on 800 images' in table
    assert 'Train pipeline' in table and 'Val pipeline' in table
    marks = [t['passed'] for t in data_cost.targets(result)]
    assert len(marks) == 3 and all(isinstance(m, bool) for m in marks)
    assert table.count('PASS') + table.count('MISS') == 3


def test_benchmark_has_a_data_section(run):
    assert 'data' in benchmark.parse_args([]).sections
    assert 'data' not in benchmark.parse_args(['--smoke']).sections
    args = benchmark.parse_args(['--smoke', '--sections', 'data'])
    assert args.sections == ['data']
    report = dict(meta=dict(date='now', device='cpu', device_name='cpu', threads=1,
                            torch='-', mmpose='-', repeats=1, warmup=0, clock='cpu',
                            wall_s=1.0), data=run[0])
    report['targets'] = benchmark_run.evaluate_targets(report, 'cpu')
    assert [t['target'] for t in report['targets']] == [t['target'] for t in
                                                       data_cost.targets(run[0], 'cpu')]
    text = benchmark_run.format_report(report)
    assert '5. Data loading and the input pipeline' in text and 'Train pipeline' in text
