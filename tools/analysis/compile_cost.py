"""What ``compile=True`` costs a training run: MIPNet against stock MMPose, each eager and compiled.

    python tools/analysis/compile_cost.py [--configs A.py B.py] [--compile off on] \
        [--what train|model|ops] [--backend inductor] [--epochs 1] [--max-iters I] \
        [--timeout 600] [--threads 1] [--repeats 5] [--json FILE]

Every (config, compile) pair trains for ``--epochs`` epochs in its own fresh
process (``mim train``'s runner: ``Runner.from_cfg``; validation, testing and
checkpoints switched off, ``cfg.compile=True`` for the compiled runs), bounded
by ``--timeout`` seconds; a run that does not finish is reported as a timeout
with what it did until then. Reported per run: the time to the end of the first
training iteration (compilation happens there), the epoch time, the median
iteration after the second, and for compiled runs the TorchDynamo counters
(graphs compiled, graph breaks and their most frequent reasons, and the guard
that failed at each recompilation). Every run gets a fresh inductor cache, so
none reuses kernels that another compiled.

``--what model`` times only the network of each config instead: backbone +
head forward and backward on one random training batch (MIPNet with all N
instances), eager and ``torch.compile``, first call and median of the next
``--repeats``. ``--what ops`` counts the operations of that step's forward
and backward graphs (what inductor has to compile), without compiling.

Defaults: the stock HRNet of the crowd-evidence pair and MIPNet's sample
config, both the sample's narrow HRNet at 128x96, batch 8.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
# tools/ holds the mipnet_tools helpers (``python tools/x.py`` has it on sys.path already).
sys.path.insert(0, str(REPO / 'tools'))
from mipnet_tools.formatting import fmt  # noqa: E402

DEFAULT_CONFIGS = [
    'configs/experiments/crowd_evidence_stock-hrnet_n1.py',
    'configs/mipnet_sample_hrnet-w16_coco-mini-128x96.py',
]
#: Prefix of the worker's report lines in its output (the runner logs to stdout too).
TAG = 'COMPILE_COST '


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CONFIGS,
                        help='training configs to compare (default: stock HRNet and MIPNet '
                        'at the sample size)')
    parser.add_argument('--compile', nargs='+', choices=['off', 'on'], default=['off', 'on'],
                        help='eager (off) and/or cfg.compile=True (on) runs (default: both)')
    parser.add_argument('--backend', default='inductor',
                        help="torch.compile backend of the compiled runs (default: inductor, "
                        "as compile=True; 'aot_eager' shows the same graph breaks and "
                        'recompilations in a fraction of the time)')
    parser.add_argument('--what', choices=['train', 'model', 'ops'], default='train',
                        help="'train': a training run of each config (default); 'model': "
                        "only the config's backbone + head, forward and backward on one "
                        'random batch, eager and torch.compile(...) (where the compile '
                        "time of the network itself goes); 'ops': the number of operations "
                        'in the forward and backward graphs of that step (what inductor '
                        'compiles), without compiling')
    parser.add_argument('--epochs', type=int, default=1, help='epochs per run (default: 1)')
    parser.add_argument('--max-iters', type=int,
                        help='stop each run after this many iterations (default: the epochs)')
    parser.add_argument('--timeout', type=float, default=600,
                        help='seconds allowed per run, imports included (default: 600)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch.set_num_threads of each run (default: 1: with two '
                        'threads on two shared, busy cores an eager epoch took 30x longer)')
    parser.add_argument('--json', help='also write every run (all iteration times) here')
    parser.add_argument('--worker', nargs=2, metavar=('CONFIG', 'COMPILE'),
                        help=argparse.SUPPRESS)
    parser.add_argument('--work-dir', help=argparse.SUPPRESS)
    parser.add_argument('--repeats', type=int, default=5,
                        help="timed steps per model with --what model (default: 5)")
    return parser.parse_args(argv)


def _emit(event: str, **fields) -> None:
    print(TAG + json.dumps(dict(event=event, **fields)), flush=True)


def _dynamo_counters(top: int = 0) -> dict:
    """TorchDynamo's counters: graphs compiled, graph breaks (and the ``top`` reasons)."""
    from torch._dynamo.utils import counters
    try:
        breaks = dict(counters['graph_break'])
        stats = dict(counters['stats'])
    except RuntimeError:  # changed size while a compile thread wrote to it
        return {}
    out = dict(graphs=stats.get('unique_graphs', 0), graph_breaks=sum(breaks.values()))
    if top:
        out['break_reasons'] = sorted(breaks.items(), key=lambda kv: -kv[1])[:top]
    return out


def worker(config: str, compiled: bool, args: argparse.Namespace) -> None:
    """One training run; its progress goes to stdout as ``TAG`` JSON lines."""
    start = time.perf_counter()
    import torch
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(config)
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='compile_cost_')
    cfg.train_cfg.max_epochs = args.epochs
    cfg.train_cfg.val_interval = args.epochs + 1
    for key in ('val_cfg', 'val_dataloader', 'val_evaluator',
                'test_cfg', 'test_dataloader', 'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.compile = compiled and (True if args.backend == 'inductor' else
                                dict(backend=args.backend))
    max_iters = args.max_iters

    class Timing(Hook):
        priority = 'VERY_LOW'

        def before_train(self, runner) -> None:
            self.t0 = time.perf_counter()
            _emit('start', setup_s=self.t0 - start)

        def before_train_epoch(self, runner) -> None:
            self.epoch_t0 = time.perf_counter()

        def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
            self.iter_t0 = time.perf_counter()
            self.iter_cpu0 = time.process_time()

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            now = time.perf_counter()
            _emit('iter', iter=runner.iter + 1, iter_s=now - self.iter_t0,
                  iter_cpu_s=time.process_time() - self.iter_cpu0,
                  elapsed_s=now - self.t0, **(_dynamo_counters(top=12) if compiled else {}))
            if max_iters and runner.iter + 1 >= max_iters:
                _emit('stopped', reason=f'--max-iters {max_iters}')
                sys.stdout.flush()
                os._exit(0)

        def after_train_epoch(self, runner) -> None:
            _emit('epoch', epoch=runner.epoch + 1, epoch_s=time.perf_counter() - self.epoch_t0)

    if compiled:
        # Why a function is compiled again (to stderr, parsed by the parent).
        torch._logging.set_logs(recompiles=True)

        # Progress while the first iteration compiles (it may not end in time).
        def heartbeat() -> None:
            while True:
                time.sleep(30)
                _emit('heartbeat', elapsed_s=time.perf_counter() - start, **_dynamo_counters())

        threading.Thread(target=heartbeat, daemon=True).start()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(Timing())
    runner.train()
    _emit('done', total_s=time.perf_counter() - start,
          **(_dynamo_counters(top=12) if compiled else {}))


def model_worker(config: str, compiled: bool, args: argparse.Namespace) -> None:
    """Backbone + head of ``config``: forward and backward of one random batch.

    The batch is the config's train batch size at its codec's input size;
    MIPNet runs all N instances (``backbone(x, num_instances=N)``), as in
    training. Reports the first call (with compilation) and the median of
    ``args.repeats`` later calls.
    """
    start = time.perf_counter()
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    import mipnet_mmpose  # noqa: F401 (registers the MIPNet modules)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = Config.fromfile(config)
    init_default_scope('mmpose')
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model).train()
    n = getattr(model.backbone, 'num_instances', 1)
    width, height = cfg.codec['input_size']
    x = torch.randn(cfg.train_dataloader.batch_size, 3, height, width)

    def step(inputs):
        feats = model.backbone(inputs, num_instances=n) if n > 1 else model.backbone(inputs)
        return model.head.forward(feats).square().mean()

    if args.what == 'ops':
        _emit('ops', **_graph_ops(step, x))
        return
    fn = torch.compile(step, backend=args.backend) if compiled else step
    if compiled:
        from torch._dynamo.utils import counters
        counters.clear()
    times = []
    for _ in range(1 + args.repeats):
        t0 = time.perf_counter()
        model.zero_grad()
        fn(x).backward()
        times.append(time.perf_counter() - t0)
        _emit('iter', iter=len(times), iter_s=times[-1], elapsed_s=time.perf_counter() - start,
              **(_dynamo_counters(top=12) if compiled else {}))
    _emit('done', total_s=time.perf_counter() - start, rows=x.shape[0] * n)


def _graph_ops(step, x) -> Dict[str, int]:
    """Operations (FX ``call_function`` nodes) in the AOTAutograd forward and backward
    graphs of ``step(x).backward()``; graph breaks would split them."""
    import torch
    from torch._functorch.aot_autograd import aot_module_simplified

    counts = dict(graphs=0, forward_ops=0, backward_ops=0)

    def count(key: str):
        def compiler(graph, example_inputs):
            counts[key] += sum(node.op == 'call_function' for node in graph.graph.nodes)
            return graph.forward
        return compiler

    def backend(graph, example_inputs):
        counts['graphs'] += 1
        return aot_module_simplified(graph, example_inputs, fw_compiler=count('forward_ops'),
                                     bw_compiler=count('backward_ops'))

    torch.compile(step, backend=backend)(x).backward()
    return counts


def run_one(config: str, compiled: bool, args: argparse.Namespace) -> dict:
    """Run :func:`worker` in a fresh process group, killed after ``args.timeout`` s."""
    run_dir = tempfile.mkdtemp(prefix='compile_cost_')
    cmd = [sys.executable, __file__, '--worker', config, 'on' if compiled else 'off',
           '--work-dir', os.path.join(run_dir, 'work'),
           '--epochs', str(args.epochs), '--threads', str(args.threads),
           '--backend', args.backend, '--what', args.what, '--repeats', str(args.repeats)]
    if args.max_iters:
        cmd += ['--max-iters', str(args.max_iters)]
    # A fresh inductor cache per run: no run reuses the kernels another one compiled.
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               TORCHINDUCTOR_CACHE_DIR=os.path.join(run_dir, 'inductor'))
    start = time.perf_counter()
    with tempfile.TemporaryFile('w+') as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            proc.wait(timeout=args.timeout)
            status = 'ok' if proc.returncode == 0 else f'failed (exit {proc.returncode})'
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its compile workers
            proc.wait()
            status = f'timeout ({args.timeout:.0f} s)'
        log.seek(0)
        output = log.read()
    shutil.rmtree(run_dir, ignore_errors=True)  # the work dir and the kernels
    events = [json.loads(line[len(TAG):]) for line in output.splitlines()
              if line.startswith(TAG)]
    result = dict(config=config, compile=compiled, what=args.what, status=status,
                  wall_s=time.perf_counter() - start, events=events,
                  recompiles=_recompiles(output))
    if status.startswith('failed'):
        result['output_tail'] = output[-4000:]
    return result


def _recompiles(output: str) -> List[str]:
    """``'function: first failed guard'`` for every recompilation Dynamo logged."""
    lines = [line.split('[__recompiles]', 1)[1].strip() for line in output.splitlines()
             if '[__recompiles]' in line]
    found = []
    for i, line in enumerate(lines):
        if line.startswith('Recompiling function'):
            guard = next((g[2:] for g in lines[i + 1:i + 4] if g.startswith('- ')), '?')
            found.append(f'{line.split()[2]}: {guard}')
    return found


def summarise(result: dict) -> Dict[str, object]:
    """First-iteration time, epoch time, steady iteration and the last Dynamo counters."""
    events = result['events']
    iters = [e for e in events if e['event'] == 'iter']
    epochs = [e for e in events if e['event'] == 'epoch']
    last = ([e for e in events if 'graphs' in e] or [{}])[-1]
    # Training: iterations after the second (the second may still recompile);
    # model: every call after the first.
    steady = [e['iter_s'] for e in iters[1 if result.get('what') == 'model' else 2:]]
    return dict(
        iters_done=len(iters),
        # Training: from the start of the loop (data loading included); model: the call.
        first_iter_s=(iters[0]['iter_s' if result.get('what') == 'model' else 'elapsed_s']
                      if iters else None),
        epoch_s=epochs[0]['epoch_s'] if epochs else None,
        steady_iter_ms=1000 * statistics.median(steady) if steady else None,
        slowest_later_iter_s=max((e['iter_s'] for e in iters[1:]), default=None),
        graphs=last.get('graphs'),
        graph_breaks=last.get('graph_breaks'),
    )


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.worker:
        run = worker if args.what == 'train' else model_worker
        run(args.worker[0], args.worker[1] == 'on', args)
        return 0
    results = []
    if args.what == 'ops':
        args.compile = ['on']  # one run per config: the graphs are traced, not compiled
    print(f'{"config":<48} {"compile":>7} {"status":>14} {"iters":>5} {"1st iter s":>10} '
          f'{"epoch s":>8} {"iter ms":>8} {"graphs":>6} {"breaks":>6} {"wall s":>7}')
    for config in args.configs:
        for mode in args.compile:
            result = run_one(config, mode == 'on', args)
            result['summary'] = summary = summarise(result)
            results.append(result)
            print(f'{Path(config).name[:48]:<48} {mode:>7} {result["status"]:>14} '
                  f'{summary["iters_done"]:>5} {fmt(summary["first_iter_s"], ".1f"):>10} '
                  f'{fmt(summary["epoch_s"], ".1f"):>8} {fmt(summary["steady_iter_ms"], ".0f"):>8} '
                  f'{fmt(summary["graphs"], "d"):>6} {fmt(summary["graph_breaks"], "d"):>6} '
                  f'{result["wall_s"]:>7.1f}', flush=True)
            for ops in (e for e in result['events'] if e['event'] == 'ops'):
                print(f'    {ops["graphs"]} graph(s): {ops["forward_ops"]} forward + '
                      f'{ops["backward_ops"]} backward operations')
            last = [e for e in result['events'] if 'break_reasons' in e]
            for reason, count in (last[-1]['break_reasons'] if last else []):
                print(f'    graph break x{count}: {reason[:150]}')
            recompiles = result['recompiles']
            by_function = sorted({r.split(':')[0] for r in recompiles},
                                 key=lambda f: -sum(r.startswith(f + ':') for r in recompiles))
            for function in by_function[:10]:
                first = next(r for r in recompiles if r.startswith(function + ':'))
                count = sum(r.startswith(function + ':') for r in recompiles)
                print(f'    recompiled x{count}: {first[:150]}')
            if len(by_function) > 10:
                print(f'    ... {len(by_function) - 10} more recompiled functions (--json: all)')
            if 'output_tail' in result:
                print(result['output_tail'], file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(args=vars(args), runs=results), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
