"""tools/benchmark.py on a tiny HRNet: the report's structure, not its timings."""
import json

import pytest
import torch

from mipnet_tools import benchmark_run
from mipnet_tools.models import SPECS
from mipnet_tools.timing import CLOCK_KEYS
from tests.conftest import REPO, load_tool

TOOL = REPO / 'tools' / 'benchmark.py'


@pytest.fixture(scope='module')
def tool():
    return load_tool(TOOL, 'benchmark_cli')


@pytest.fixture(scope='module')
def smoke(tool, tmp_path_factory):
    """One ``--smoke`` run (all four sections, memory probes in subprocesses)."""
    out = tmp_path_factory.mktemp('benchmark') / 'smoke.json'
    report = tool.main(['--smoke', '--json', str(out),
                        '--threads', str(torch.get_num_threads())])
    return report, json.loads(out.read_text())


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and value > 0


def test_json_holds_the_returned_report(smoke):
    report, written = smoke
    assert written == json.loads(json.dumps(report))
    assert set(written) == {'meta', 'complexity', 'inference', 'training', 'memory', 'tail',
                            'targets'}
    meta = written['meta']
    assert meta['mode'] == 'smoke' and meta['device'] == 'cpu'
    assert meta['repeats'] == 1 and _positive(meta['wall_s'])
    assert meta['command'].startswith('python tools/benchmark.py --smoke')


def test_complexity_grows_with_the_instances(smoke):
    c = smoke[1]['complexity']['tiny']
    stock, mip = c['stock'], c['mipnet']
    assert set(mip) == {'1', '2', '3', '4'}
    # The MIMBs add parameters; every extra λ re-runs stage 4 (and the head).
    assert mip['2']['params'] > stock['params']
    assert mip['2']['flops'] > stock['flops']
    flops = [mip[n]['flops'] for n in ('1', '2', '3', '4')]
    assert flops == sorted(flops) and len(set(flops)) == 4
    # λ=0 only costs the trunk plus the MIMBs: nearly the stock model.
    assert 1.0 <= mip['1']['flops_ratio'] < mip['2']['flops_ratio']
    for row in mip.values():
        assert row['params_ratio'] == pytest.approx(row['params'] / stock['params'])


def test_latencies_and_ratios_are_positive(smoke):
    inference = smoke[1]['inference']['tiny']
    assert set(inference['n2']) == {'b2/flip_off', 'b2/flip_on'}
    for row in inference['n2'].values():
        for variant in ('stock', 'shared', 'authors'):
            stats = row[variant]
            assert _positive(stats['median_ms']) and _positive(stats['min_ms'])
            assert len(stats['samples_ms']) == 1
        for clock in ('wall', 'cpu'):
            for name, value in row['ratios'][clock].items():
                assert _positive(value), (clock, name)
    assert set(inference['shared_n']) == {'3', '4'}
    for row in inference['shared_n'].values():
        assert _positive(row['shared']['median_ms']) and _positive(row['shared']['cpu_median_ms'])
        assert all(_positive(v) for v in row['ratio_to_stock'].values())

    training = smoke[1]['training']['tiny']
    assert training['batch'] == 2
    for variant in ('stock', 'shared', 'authors'):
        assert _positive(training[variant]['median_ms'])
    for clock in ('wall', 'cpu'):
        assert all(_positive(v) for v in training['ratios'][clock].values()), clock


def test_memory_is_measured_per_variant(smoke):
    memory = smoke[1]['memory']['tiny']
    for variant in ('stock', 'shared', 'authors'):
        probe = memory[variant]
        assert probe['measured_with'] in ('VmHWM', 'ru_maxrss')
        assert _positive(probe['peak_mb'])
        assert probe['peak_mb'] >= probe['baseline_mb'] and probe['step_mb'] >= 0


def test_tail_times_real_poses(smoke):
    tail = smoke[1]['tail']
    assert tail['source'].endswith('person_keypoints_val2017.json')
    assert tail['poses'] == 2 * tail['boxes'] >= 400
    assert 0 < tail['kept_after_nms'] <= tail['poses']
    for key in ('oks_nms_s_per_10k', 'mipnet_eval_s_per_10k', 'stock_eval_s_per_10k'):
        assert _positive(tail[key]), key
    # jittered GT poses of the same images score well above chance
    assert tail['ap_mipnet'] > 0.3 and tail['ap_stock'] > 0.3


def test_tail_inputs_replicate_the_sample_annotations(tool):
    gt, samples = benchmark_run.make_tail_inputs(benchmark_run.TAIL_ANN_FILE, 1000)
    poses = sum(len(s['pred_instances']['keypoints']) for s in samples)
    assert poses >= 1000
    assert len({im['id'] for im in gt['images']}) == len(gt['images'])
    assert len({a['id'] for a in gt['annotations']}) == len(gt['annotations'])
    assert len({s['id'] for s in samples}) == len(samples)
    image_ids = {im['id'] for im in gt['images']}
    assert all(s['img_id'] in image_ids for s in samples)
    # λ=0 is the box's own GT pose, jittered by a few percent of the box size
    anns = {a['id']: a for a in gt['annotations']}
    sample = samples[0]
    ann = anns[sample['id']]
    kpt = torch.tensor(ann['keypoints'], dtype=torch.float64).reshape(-1, 3)
    pred = torch.from_numpy(sample['pred_instances']['keypoints'][0])
    labelled = kpt[:, 2] > 0
    size = (ann['bbox'][2] * ann['bbox'][3])**0.5
    assert (pred[labelled] - kpt[labelled, :2]).abs().max() < 0.2 * size
    assert list(sample['pred_instances']['bbox_scores']) == [1.0, 0.5]


@pytest.mark.parametrize('clock', ['wall', 'cpu'])
def test_targets_are_marked_pass_or_miss(tool, clock):
    measured = {'shared/stock': 1.40, 'shared/authors': 0.70}
    off = {'shared/stock': 1.0, 'shared/authors': 1.0}  # the other clock: must be ignored
    row = dict(batch=8, flip=False,
               ratios={clock: measured, 'cpu' if clock == 'wall' else 'wall': off})
    train = {'shared/stock': 1.44}
    report = dict(
        meta=dict(),
        complexity=dict(w32=dict(mipnet={'2': dict(params_ratio=1.002)}),
                        r50=dict(mipnet={'2': dict(params_ratio=1.5)})),
        inference=dict(w32=dict(n2={'b8/flip_off': row, 'b2/flip_off': dict(row, batch=2)})),
        training=dict(w32=dict(batch=32, ratios={'wall': train, 'cpu': train})))
    marks = {t['target']: t['passed'] for t in benchmark_run.evaluate_targets(report, clock)}
    assert marks == {
        'HRNet-W32 256x192: params MIPNet N=2 / stock': True,
        'HRNet-W32 256x192 batch 8 flip off: inference shared / stock': False,  # > 1.35
        'HRNet-W32 256x192 batch 8 flip off: inference shared / authors': True,
        'HRNet-W32 256x192 batch 32: train step shared / stock': True,
    }  # no target for ResNet-50 parameters, none below batch 8


def test_table_shows_every_section(tool, smoke):
    table = benchmark_run.format_report(smoke[1])
    for heading in ('1. Parameters and FLOPs', '2. Inference, N=2', '3. Training step',
                    '4. Test-time tail', 'Targets'):
        assert heading in table
    assert 'shared trunk, N=3' in table and 'shared trunk, N=4' in table


def test_the_command_line_names_every_model_and_clock(tool):
    """--models and --clock choices (named in the tool, which imports no torch before
    argparse) are the measured models and clocks."""
    assert tool.MODELS == sorted(SPECS)
    assert tool.CLOCKS == sorted(CLOCK_KEYS)


def test_amp_training_step_runs_in_bfloat16_on_the_cpu(tool, tmp_path):
    """--amp: the training section (timing and memory probes) under mixed precision, bfloat16
    autocast on the CPU (float16 through AmpOptimWrapper on CUDA), said in the report."""
    report = tool.main(['--smoke', '--device', 'cpu', '--amp', '--sections', 'training',
                        '--threads', str(torch.get_num_threads()),
                        '--json', str(tmp_path / 'amp.json')])
    assert report['meta']['amp'] == 'bfloat16'
    train = report['training']['tiny']
    assert train['amp'] == 'bfloat16'
    for variant in benchmark_run.TRAIN_VARIANTS:
        assert _positive(train[variant]['median_ms'])
        assert _positive(report['memory']['tiny'][variant]['peak_mb'])
    assert 'mixed precision: bfloat16' in benchmark_run.format_report(report)


def test_the_mixed_precision_step_computes_in_bfloat16_with_float32_gradients():
    built = benchmark_run.build(SPECS['tiny'], torch.device('cpu'), mip_ns=(2, ))
    model = built.mip[2].train()
    context, backward = benchmark_run.mixed_precision(model, torch.device('cpu'))
    x = torch.randn(2, 3, *built.input_hw)
    with context():
        heatmaps = model.head(model.backbone(x, num_instances=2))
    assert heatmaps.dtype == torch.bfloat16
    backward(heatmaps.float().square().mean())
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and g.dtype == torch.float32 for g in grads)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the error without a GPU')
def test_device_cuda_without_a_gpu_is_a_clear_error(tool):
    with pytest.raises(SystemExit, match='--device cuda, but torch .* sees no CUDA GPU'):
        tool.main(['--smoke', '--device', 'cuda', '--sections', 'complexity'])
