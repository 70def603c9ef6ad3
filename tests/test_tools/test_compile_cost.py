"""tools/analysis/compile_cost.py: its report parsing, a short eager run and the time bound."""
import json

from tests.conftest import REPO, SAMPLE_CONFIG, load_tool


def _tool():
    return load_tool(REPO / 'tools' / 'analysis' / 'compile_cost.py', 'compile_cost')


def test_recompilations_and_summary_are_parsed():
    tool = _tool()
    log = '\n'.join([
        'V1128 13:37:42.906000 1 torch/_dynamo/guards.py:2609] [47/1] [__recompiles] '
        'Recompiling function step in /venv/torch/optim/adam.py:135',
        'V1128 13:37:42.906000 1 torch/_dynamo/guards.py:2609] [47/1] [__recompiles]     '
        'triggered by the following guard failure(s):',
        'V1128 13:37:42.906000 1 torch/_dynamo/guards.py:2609] [47/1] [__recompiles]     '
        "- L['self'].param_groups[0]['lr'] == 2e-05",
        '11/28 13:34:23 - mmengine - INFO - an unrelated line',
    ])
    assert tool._recompiles(log) == ["step: L['self'].param_groups[0]['lr'] == 2e-05"]

    events = [dict(event='start', setup_s=5.0)]
    for i, (iter_s, elapsed_s) in enumerate([(300.0, 300.5), (9.0, 310.0), (0.2, 310.3),
                                             (0.1, 310.5), (0.3, 310.9)]):
        events.append(dict(event='iter', iter=i + 1, iter_s=iter_s, elapsed_s=elapsed_s,
                           graphs=10 + i, graph_breaks=20))
    events.append(dict(event='heartbeat', elapsed_s=330.0))
    summary = tool.summarise(dict(what='train', events=events))
    assert summary['iters_done'] == 5
    assert summary['first_iter_s'] == 300.5  # from the start of the loop
    assert summary['epoch_s'] is None  # the epoch did not end
    assert round(summary['steady_iter_ms']) == 200  # the median after the second iteration
    assert (summary['graphs'], summary['graph_breaks']) == (14, 20)
    model = tool.summarise(dict(what='model', events=events))
    assert model['first_iter_s'] == 300.0  # the call itself
    assert round(model['steady_iter_ms']) == 250  # the median after the first call


def test_short_eager_run_and_time_bound(tmp_path):
    tool = _tool()
    out = tmp_path / 'runs.json'
    assert tool.main(['--configs', str(SAMPLE_CONFIG), '--compile', 'off', '--max-iters', '2',
                      '--timeout', '300', '--json', str(out)]) == 0
    (run, ) = json.loads(out.read_text())['runs']
    assert run['status'] == 'ok', run.get('output_tail')
    iters = [e for e in run['events'] if e['event'] == 'iter']
    assert [e['iter'] for e in iters] == [1, 2]
    assert all(e['iter_s'] > 0 for e in iters)
    assert run['events'][-1]['event'] == 'stopped'

    # A run that outlives --timeout is killed and reported as such.
    assert tool.main(['--configs', str(SAMPLE_CONFIG), '--compile', 'off', '--timeout', '1',
                      '--json', str(out)]) == 0
    (run, ) = json.loads(out.read_text())['runs']
    assert run['status'] == 'timeout (1 s)'
    assert tool.summarise(run)['iters_done'] == 0
