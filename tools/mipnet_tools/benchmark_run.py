"""The measurements of tools/benchmark.py (its docstring says what they are)."""
import argparse
import contextlib
import io
import json
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, ContextManager, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from torch import Tensor

from . import data_cost
from .formatting import fmt
from .machine import cpu_name, load_average
from .memory import proc_status_mib, reset_peak_rss
from .models import (
    SPECS,
    Built,
    ModelSpec,
    TensorForward,
    build,
    coco_metainfo,
    count_flops,
    count_params,
)
from .timing import CLOCK_KEYS, Case, Clock, ratio, run_interleaved

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'benchmark.py'

# Targets that are not tied to one model's spec (those of one model are in its ModelSpec).
SHARED_VS_AUTHORS_LIMIT = 0.75
TRAIN_LIMIT = 1.45
TRAIN_TARGET_MODEL, TRAIN_TARGET_BATCH = 'w32', 32


def ratios(stats: Dict[str, dict]) -> Dict[str, Dict[str, Optional[float]]]:
    """shared/stock, authors/stock and shared/authors on both clocks."""
    pairs = (('shared', 'stock'), ('authors', 'stock'), ('shared', 'authors'))
    return {clock: {f'{a}/{b}': ratio(stats[a], stats[b], clock) for a, b in pairs}
            for clock in CLOCK_KEYS}


# ------------------------------------------------------------------------------------
# 1. parameters and FLOPs
# ------------------------------------------------------------------------------------


def measure_complexity(spec: ModelSpec, device: torch.device,
                       ns: Sequence[int] = (1, 2, 3, 4)) -> dict:
    """Params and FLOPs of the stock model and of MIPNet at each n in ``ns``.

    MIPNet at n is the model built for N=max(n, 2) run with n instances: N=1
    means the N=2 model running λ=0 only (``test_cfg.num_instances=1``), since a
    model built with N=1 is exactly the stock one.
    """
    built = build(spec, device, mip_ns=sorted({max(n, 2) for n in ns}))
    x = torch.randn(1, 3, *built.input_hw, device=device)
    stock = TensorForward(built.stock)
    out = dict(name=spec.name, input_hw=list(built.input_hw),
               stock=dict(params=count_params(stock), flops=count_flops(stock, x)), mipnet={})
    for n in ns:
        mip = TensorForward(built.mip[max(n, 2)], num_instances=n)
        params, flops = count_params(mip), count_flops(mip, x)
        out['mipnet'][str(n)] = dict(params=params, flops=flops,
                                     params_ratio=params / out['stock']['params'],
                                     flops_ratio=flops / out['stock']['flops'])
    return out


# ------------------------------------------------------------------------------------
# 2. inference latency
# ------------------------------------------------------------------------------------


def _stock_forward(built: Built) -> Callable[[Tensor], Tensor]:
    return lambda x: built.stock.head(built.stock.backbone(x))


def _shared_forward(built: Built, n: int) -> Callable[[Tensor], Tensor]:
    model = built.mip[n]
    return lambda x: model.head(model.backbone(x, num_instances=n))


def _authors_forward(built: Built, n: int) -> Callable[[Tensor], Tensor]:
    """The authors' inference: the whole network once per λ (rows (box, λ) as ours)."""
    model = built.mip[n]

    def forward(x: Tensor) -> Tensor:
        outs = [model.head(model.backbone(x, lambdas=torch.full(
            (x.shape[0], ), lam, dtype=torch.long, device=x.device))) for lam in range(n)]
        if isinstance(outs[0], Tensor):
            return torch.stack(outs, dim=1).flatten(0, 1)
        # Coordinate heads (SimCC, RTMCC) return a tuple per forward.
        return tuple(torch.stack(parts, dim=1).flatten(0, 1) for parts in zip(*outs))

    return forward


def _inference_case(forward: Callable[[Tensor], Tensor], x: Tensor, flip_indices: List[int],
                    clock: Clock, flip: bool) -> Case:
    """One inference; with ``flip`` the flipped batch follows, as MMPose's flip test.

    The first forward alone is the flip-off latency: it is exactly what a
    flip-off inference runs, and timing it inside the flip-on run halves the
    benchmark's time.
    """
    from mmpose.models.utils.tta import flip_heatmaps

    def run(warmup: bool = False) -> Dict[str, Tuple[float, Optional[float]]]:
        start = clock.now()
        heatmaps = forward(x)
        times = {'flip_off': clock.since(start)}
        if flip and not warmup:  # the flipped forward has the same shapes: no warm-up
            flipped = forward(x.flip(-1))
            if isinstance(heatmaps, Tensor):
                flipped = flip_heatmaps(flipped, flip_mode='heatmap',
                                        flip_indices=flip_indices, shift_heatmap=False)
                heatmaps = (heatmaps + flipped) * 0.5
            else:
                # SimCC vectors: averaged as MMPose does after flipping them back
                # (the flip-back is an index permutation, not timed here).
                heatmaps = tuple((a + b) * 0.5 for a, b in zip(heatmaps, flipped))
            times['flip_on'] = clock.since(start)
        return times

    return run


def measure_inference(built: Built, batches: Sequence[int], extra_ns: Sequence[int],
                      extra_batch: int, repeats: int, warmup: int,
                      log: Callable[[str], None]) -> dict:
    """Latency of stock / shared trunk / authors' way at N=2, and shared at ``extra_ns``."""
    clock = Clock(built.device)
    cases: Dict[str, Case] = {}
    for b in batches:
        x = torch.randn(b, 3, *built.input_hw, device=built.device)
        variants = dict(stock=_stock_forward(built), shared=_shared_forward(built, 2),
                        authors=_authors_forward(built, 2))
        for variant, forward in variants.items():
            cases[f'b{b}/{variant}'] = _inference_case(forward, x, built.flip_indices, clock,
                                                       flip=True)
    x = torch.randn(extra_batch, 3, *built.input_hw, device=built.device)
    for n in extra_ns:
        cases[f'b{extra_batch}/shared_n{n}'] = _inference_case(
            _shared_forward(built, n), x, built.flip_indices, clock, flip=False)
    if extra_ns and extra_batch not in batches:
        cases[f'b{extra_batch}/stock'] = _inference_case(
            _stock_forward(built), x, built.flip_indices, clock, flip=False)

    with torch.inference_mode():
        stats = run_interleaved(cases, repeats, warmup, log)

    out: dict = dict(n2={}, shared_n={})
    for b in batches:
        for flip in ('flip_off', 'flip_on'):
            row = {v: stats[f'b{b}/{v}'][flip] for v in ('stock', 'shared', 'authors')}
            row['ratios'] = ratios(row)
            out['n2'][f'b{b}/{flip}'] = dict(batch=b, flip=flip == 'flip_on', **row)
    for n in extra_ns:
        shared = stats[f'b{extra_batch}/shared_n{n}']['flip_off']
        stock = stats[f'b{extra_batch}/stock']['flip_off']
        out['shared_n'][str(n)] = dict(batch=extra_batch, shared=shared,
                                       ratio_to_stock={c: ratio(shared, stock, c)
                                                       for c in CLOCK_KEYS})
    return out


# ------------------------------------------------------------------------------------
# 3. training step
# ------------------------------------------------------------------------------------

TRAIN_VARIANTS = ('stock', 'shared', 'authors')


#: What ``--amp`` runs the training step in, by device type.
AMP_DTYPES = {'cuda': 'float16', 'cpu': 'bfloat16'}


def mixed_precision(model: torch.nn.Module, device: torch.device
                    ) -> Tuple[Callable[[], ContextManager], Callable[[Tensor], None]]:
    """The autocast context and the backward of a mixed-precision training step.

    On CUDA, mmengine's ``AmpOptimWrapper`` (what an ``optim_wrapper`` of type
    ``AmpOptimWrapper`` in a config trains with): float16 autocast, and a backward
    that scales the loss (dynamic loss scaling) against float16 gradient underflow.
    mmengine 0.10 refuses to build that wrapper without an accelerator, so on the
    CPU it is mmengine's ``autocast`` in bfloat16, which has float32's exponent
    range and needs no loss scaling.

    Returns:
        tuple: a function giving the autocast context for one forward, and the
        backward to call on the loss.
    """
    dtype = AMP_DTYPES[device.type]
    if device.type == 'cuda':
        from mmengine.optim import AmpOptimWrapper
        wrapper = AmpOptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                                  dtype=dtype)
        return (lambda: wrapper.optim_context(model)), wrapper.backward
    from mmengine.runner.amp import autocast
    return (lambda: autocast(device_type=device.type, dtype=getattr(torch, dtype)),
            lambda loss: loss.backward())


def _train_step_fn(built: Built, variant: str, batch: int, n: int = 2,
                   amp: bool = False) -> Callable[[], None]:
    """Forward + backward of one training step (no optimizer update).

    ``shared``: B boxes through the trunk once, B·N rows after the first MIMB.
    ``authors``: the authors' duplicated batch, N·B rows through the whole net.
    The loss is the head's keypoint-weighted MSE against random heatmaps. With
    ``amp``, the forward runs under :func:`mixed_precision`'s autocast and the
    backward is its (loss-scaling on CUDA) backward.
    """
    device = built.device
    height, width = built.input_hw
    model = built.stock if variant == 'stock' else built.mip[n]
    model.train()
    x = torch.randn(batch, 3, height, width, device=device)
    rows = batch if variant == 'stock' else batch * n
    target = torch.rand(rows, len(built.flip_indices), height // 4, width // 4, device=device)
    weights = torch.ones(rows, len(built.flip_indices), device=device)
    if variant == 'authors':
        x = x.repeat(n, 1, 1, 1)
        lambdas = torch.arange(n, device=device).repeat_interleave(batch)
    if amp:
        context, backward = mixed_precision(model, device)
    else:
        context, backward = contextlib.nullcontext, lambda loss: loss.backward()

    def step() -> None:
        model.zero_grad(set_to_none=True)
        with context():
            if variant == 'stock':
                feats = model.backbone(x)
            elif variant == 'shared':
                feats = model.backbone(x, num_instances=n)
            else:
                feats = model.backbone(x, lambdas=lambdas)
            loss = model.head.loss_module(model.head(feats), target, weights)
        if not torch.isfinite(loss):
            raise FloatingPointError(f'training step of {variant}: the loss is {loss.item()}')
        backward(loss)

    return step


def measure_training(built: Built, batch: int, repeats: int, warmup: int,
                     log: Callable[[str], None], amp: bool = False) -> dict:
    clock = Clock(built.device)
    cases: Dict[str, Case] = {}
    for variant in TRAIN_VARIANTS:
        step = _train_step_fn(built, variant, batch, amp=amp)

        def case(warmup: bool = False, step: Callable[[], None] = step
                 ) -> Dict[str, Tuple[float, Optional[float]]]:
            start = clock.now()
            step()
            return {'step': clock.since(start)}

        cases[variant] = case
    stats = {k: v['step'] for k, v in run_interleaved(cases, repeats, warmup, log).items()}
    for model in (built.stock, *built.mip.values()):
        model.zero_grad(set_to_none=True)  # free the gradients before the next section
        model.eval()
    return dict(batch=batch, amp=AMP_DTYPES[built.device.type] if amp else None, **stats,
                ratios=ratios(stats))


def probe_memory(spec_key: str, variant: str, batch: int, device: str, threads: int,
                 amp: bool = False) -> dict:
    """Peak memory of one training step, in this (fresh) process.

    A process's peak only rises, so each variant is measured in its own
    subprocess (:func:`measure_memory`). ``baseline_mb`` is the memory held
    before the step (imports, weights, inputs), ``peak_mb`` the peak during the
    step and ``step_mb`` their difference: what the step adds.

    On Linux the CPU peak is VmHWM, reset to the current RSS just before the
    step: ``ru_maxrss`` would not do, as Linux carries the parent's peak RSS at
    fork into the child's ``ru_maxrss`` through exec, so every probe would
    report at least the benchmark process's own size.
    """
    torch.set_num_threads(threads)
    dev = torch.device(device)
    built = build(SPECS[spec_key], dev, mip_ns=() if variant == 'stock' else (2, ),
                  stock=variant == 'stock')
    step = _train_step_fn(built, variant, batch, amp=amp)
    if dev.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated() / 2**20
        step()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
        how = 'torch.cuda.max_memory_allocated'
    elif reset_peak_rss() and proc_status_mib('VmHWM') is not None:
        baseline = proc_status_mib('VmRSS')
        step()
        peak = proc_status_mib('VmHWM')
        how = 'VmHWM'
    else:
        # ru_maxrss (KiB on Linux) includes the imports and the model build
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        step()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        how = 'ru_maxrss'
    return dict(peak_mb=round(peak, 1), baseline_mb=round(baseline, 1),
                step_mb=round(peak - baseline, 1), measured_with=how)


def measure_memory(spec_key: str, batch: int, device: torch.device, threads: int,
                   log: Callable[[str], None], parallel: bool = False,
                   amp: bool = False) -> dict:
    """Run :func:`probe_memory` for every training variant in its own subprocess.

    With ``parallel`` the probes run side by side (each peak is its own
    process's, so only the time changes); the default runs them one after the
    other so that three full-size training steps never share the machine's memory.
    """
    def start(variant: str) -> Tuple[dict, subprocess.Popen]:
        probe = dict(model=spec_key, variant=variant, batch=batch, device=str(device),
                     threads=threads, amp=amp)
        return probe, subprocess.Popen(
            [sys.executable, str(TOOL), '--probe-memory', json.dumps(probe)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def finish(probe: dict, proc: subprocess.Popen) -> dict:
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f'memory probe {probe} failed:\n{stderr[-4000:]}')
        result = json.loads(stdout.strip().splitlines()[-1])
        log(f'  memory {probe["variant"]}: peak {result["peak_mb"]:.0f} MiB '
            f'(step +{result["step_mb"]:.0f} MiB)')
        return result

    out = {}
    if parallel:
        running = [start(v) for v in TRAIN_VARIANTS]
        for variant, (probe, proc) in zip(TRAIN_VARIANTS, running):
            out[variant] = finish(probe, proc)
    else:
        for variant in TRAIN_VARIANTS:
            out[variant] = finish(*start(variant))
    for key in ('shared', 'authors'):
        out[f'{key}/stock step_mb'] = (out[key]['step_mb'] / out['stock']['step_mb']
                                       if out['stock']['step_mb'] > 0 else None)
    return out


# ------------------------------------------------------------------------------------
# 4. the test-time tail: OKS-NMS and COCO evaluation
# ------------------------------------------------------------------------------------

TAIL_ANN_FILE = REPO / 'data/sample/coco_mini/annotations/person_keypoints_val2017.json'


def make_tail_inputs(ann_file: Path, target_poses: int, num_instances: int = 2,
                     seed: int = 0) -> Tuple[dict, List[dict]]:
    """Real COCO persons, replicated to about ``target_poses`` MIPNet predictions.

    Every non-crowd person with labelled keypoints is a GT box that yields N
    poses: λ=0 its own GT pose, λ=i the i-th nearest other person's GT pose
    (its own again when there is none), each jittered by 3 % of the box size.
    The images (with all their annotations) are copied under new ids until the
    poses reach the target, which keeps COCO's density of poses per image.

    Returns:
        tuple: the replicated GT (COCO json dict) and one data-sample dict per
        box, as :class:`MultiInstanceCocoMetric.process` takes them.
    """
    rng = np.random.default_rng(seed)
    coco = json.loads(Path(ann_file).read_text())
    persons: Dict[int, List[dict]] = {}
    for ann in coco['annotations']:
        if not ann.get('iscrowd', 0) and ann['num_keypoints'] > 0:
            persons.setdefault(ann['image_id'], []).append(ann)
    per_copy = num_instances * sum(len(p) for p in persons.values())
    copies = max(1, math.ceil(target_poses / per_copy))
    img_stride = max(im['id'] for im in coco['images']) + 1
    ann_stride = max(a['id'] for a in coco['annotations']) + 1

    gt = dict(categories=coco['categories'], images=[], annotations=[])
    samples = []
    for c in range(copies):
        gt['images'] += [dict(im, id=im['id'] + c * img_stride) for im in coco['images']]
        gt['annotations'] += [dict(a, id=a['id'] + c * ann_stride,
                                   image_id=a['image_id'] + c * img_stride)
                              for a in coco['annotations']]
        for img_id, anns in persons.items():
            for ann in anns:
                samples.append(_jittered_sample(ann, anns, num_instances, rng,
                                                ann['id'] + c * ann_stride,
                                                img_id + c * img_stride))
    return gt, samples


def _jittered_sample(ann: dict, image_persons: List[dict], num_instances: int,
                     rng: np.random.Generator, sample_id: int, img_id: int) -> dict:
    x, y, w, h = ann['bbox']
    centre = np.array([x + w / 2, y + h / 2])
    others = sorted((p for p in image_persons if p is not ann),
                    key=lambda p: float(np.sum((np.array(p['bbox'][:2]) + np.array(
                        p['bbox'][2:]) / 2 - centre)**2)))
    sources = [ann] + others[:num_instances - 1]
    sources += [ann] * (num_instances - len(sources))
    keypoints, scores = [], []
    for src in sources:
        kpt = np.array(src['keypoints'], dtype=np.float64).reshape(-1, 3)
        labelled = kpt[:, 2] > 0
        # unlabelled joints: somewhere in the box with a low score, as a model guesses
        xy = np.where(labelled[:, None], kpt[:, :2], centre)
        keypoints.append(xy + rng.normal(0, 0.03 * math.sqrt(w * h) + 1e-3, xy.shape))
        scores.append(np.where(labelled, rng.uniform(0.5, 1.0, len(kpt)),
                               rng.uniform(0.0, 0.3, len(kpt))))
    bbox = np.array([[x, y, x + w, y + h]] * num_instances)
    lambdas = np.arange(num_instances)
    return dict(
        id=sample_id, img_id=img_id, category_id=1,
        pred_instances=dict(keypoints=np.stack(keypoints), keypoint_scores=np.stack(scores),
                            bboxes=bbox, bbox_scores=np.where(lambdas > 0, 0.5, 1.0),
                            lambdas=lambdas),
        gt_instances=dict(bbox_scales=np.array([[w * 1.25, h * 1.25]]),
                          bbox_scores=np.ones(1)))


def _lambda0_only(sample: dict) -> dict:
    """The sample as a stock top-down model would output it: the λ=0 pose only."""
    pred = {k: v[:1] for k, v in sample['pred_instances'].items() if k != 'lambdas'}
    return dict(sample, pred_instances=pred)


def measure_tail(target_poses: int, repeats: int, log: Callable[[str], None]) -> dict:
    """Seconds per 10,000 poses of OKS-NMS alone and of the whole COCO evaluation."""
    from mmpose.evaluation.functional import oks_nms
    from mmpose.evaluation.metrics import CocoMetric

    from mipnet_mmpose.evaluation.metrics import MultiInstanceCocoMetric

    meta = coco_metainfo()
    gt, samples = make_tail_inputs(TAIL_ANN_FILE, target_poses)
    num_poses = sum(len(s['pred_instances']['keypoints']) for s in samples)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(io.StringIO()):
        ann_file = os.path.join(tmp, 'gt.json')
        Path(ann_file).write_text(json.dumps(gt))
        metrics = dict(
            mipnet=MultiInstanceCocoMetric(ann_file=ann_file, nms_thr=0.9,
                                           outfile_prefix=os.path.join(tmp, 'mip')),
            stock=CocoMetric(ann_file=ann_file, nms_thr=0.9,
                             outfile_prefix=os.path.join(tmp, 'stock')))
        for name, metric in metrics.items():
            metric.dataset_meta = meta
            metric.process([], samples if name == 'mipnet' else [_lambda0_only(s)
                                                                 for s in samples])
        counts = dict(mipnet=num_poses, stock=len(samples))

        # OKS-NMS alone, on the records compute_metrics builds (rescored poses per image)
        nms_input: Dict[int, List[dict]] = {}
        for s in samples:
            p = s['pred_instances']
            for kpt, sc, bs in zip(p['keypoints'], p['keypoint_scores'], p['bbox_scores']):
                above = sc > 0.2
                score = bs * (sc[above].mean() if above.any() else 0.0)
                nms_input.setdefault(s['img_id'], []).append(dict(
                    keypoints=np.concatenate([kpt, sc[:, None]], axis=1), score=score,
                    area=float(np.prod(s['gt_instances']['bbox_scales']))))

        clock = Clock(torch.device('cpu'))

        def run_nms(warmup: bool = False) -> Dict[str, Tuple[float, Optional[float]]]:
            start = clock.now()
            for records in nms_input.values():
                oks_nms(records, 0.9, sigmas=meta['sigmas'])
            return {'t': clock.since(start)}

        results: Dict[str, dict] = {}

        def run_eval(name: str) -> Callable[[], Dict[str, Tuple[float, Optional[float]]]]:
            def run(warmup: bool = False) -> Dict[str, Tuple[float, Optional[float]]]:
                start = clock.now()
                results[name] = metrics[name].compute_metrics(metrics[name].results)
                return {'t': clock.since(start)}
            return run

        # silence the per-evaluation log lines while timing
        logger = MMLogger.get_current_instance()
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            stats = run_interleaved(dict(oks_nms=run_nms, mipnet=run_eval('mipnet'),
                                         stock=run_eval('stock')), repeats, 0, log)
        finally:
            logger.setLevel(level)

    def per_10k(s: dict, poses: int) -> float:
        return s['median_ms'] / 1e3 * 10_000 / poses

    return dict(
        source=str(TAIL_ANN_FILE.relative_to(REPO)), images=len(gt['images']),
        boxes=len(samples), poses=num_poses,
        kept_after_nms=sum(metrics['mipnet'].last_lambda_stats['kept_after_nms'].values()),
        oks_nms_s_per_10k=per_10k(stats['oks_nms']['t'], num_poses),
        mipnet_eval_s_per_10k=per_10k(stats['mipnet']['t'], counts['mipnet']),
        stock_eval_s_per_10k=per_10k(stats['stock']['t'], counts['stock']),
        mipnet_eval_s=stats['mipnet']['t']['median_ms'] / 1e3,
        stock_eval_s=stats['stock']['t']['median_ms'] / 1e3,
        ap_mipnet=results['mipnet'].get('AP'), ap_stock=results['stock'].get('AP'))


# ------------------------------------------------------------------------------------
# 5. the data side: loading at COCO scale and the input pipelines
# ------------------------------------------------------------------------------------


def measure_data(args: argparse.Namespace, log: Callable[[str], None]) -> dict:
    """The data section: see ``tools/analysis/data_cost.py`` (smaller with --smoke)."""
    smoke = args.smoke
    persons = args.data_persons or (2_000 if smoke else data_cost.DEFAULT_PERSONS)
    return data_cost.measure(
        ['load', 'pipeline'], source=args.data_source, persons=persons,
        repeats=args.repeats, workers=2 if smoke else 8, worker_batches=2 if smoke else 4,
        pipeline_repeats=1 if smoke else max(3, args.repeats), clock=args.clock)


# ------------------------------------------------------------------------------------
# targets and the table
# ------------------------------------------------------------------------------------


def evaluate_targets(report: dict, clock: str = 'wall') -> List[dict]:
    """Every target with its measured figure and PASS/MISS (None: not measured).

    Time ratios are taken on ``clock``: ``'wall'`` (latency) or ``'cpu'``
    (process CPU time, which other jobs on a shared machine barely disturb).
    """
    targets = []

    def add(name: str, measured: Optional[float], limit: float) -> None:
        targets.append(dict(target=name, measured=measured, limit=limit,
                            passed=None if measured is None else measured <= limit))

    for key, c in report.get('complexity', {}).items():
        if SPECS[key].param_limit is not None:
            add(f'{SPECS[key].name}: params MIPNet N=2 / stock',
                c['mipnet']['2']['params_ratio'], SPECS[key].param_limit)
    for key, inf in report.get('inference', {}).items():
        for row in inf['n2'].values():
            if row['batch'] < 8:
                continue
            flip = 'flip on' if row['flip'] else 'flip off'
            where = f'{SPECS[key].name} batch {row["batch"]} {flip}'
            if SPECS[key].infer_limit is not None:
                add(f'{where}: inference shared / stock', row['ratios'][clock]['shared/stock'],
                    SPECS[key].infer_limit)
                add(f'{where}: inference shared / authors',
                    row['ratios'][clock]['shared/authors'],
                    SHARED_VS_AUTHORS_LIMIT)
    train = report.get('training', {}).get(TRAIN_TARGET_MODEL)
    if train is not None:
        note = '' if train['batch'] == TRAIN_TARGET_BATCH else \
            f' (measured at batch {train["batch"]}, target is at {TRAIN_TARGET_BATCH})'
        add(f'{SPECS[TRAIN_TARGET_MODEL].name} batch {train["batch"]}: train step '
            f'shared / stock{note}', train['ratios'][clock]['shared/stock'], TRAIN_LIMIT)
    if report.get('data'):  # load time, peak RSS, total PSS with workers (data_cost.py)
        targets += data_cost.targets(report['data'], clock)
    return targets


def format_report(report: dict) -> str:
    """The human-readable table of a report (the JSON's content).

    Times and ratios are on the report's clock (``meta.clock``); the last
    column of the time tables gives shared/stock on the other clock as a check.
    """
    meta = report['meta']
    clock = meta.get('clock', 'wall')
    other = 'cpu' if clock == 'wall' else 'wall'
    key = CLOCK_KEYS[clock]
    lines = [f'MIPNet benchmark, {meta["date"]}: {meta["device_name"]}, {meta["threads"]} '
             f'thread(s), torch {meta["torch"]}, mmpose {meta["mmpose"]}.',
             f'Median of {meta["repeats"]} interleaved repeats after {meta["warmup"]} warm-up '
             f'run(s); times on the {clock} clock' +
             (' (process CPU time)' if clock == 'cpu' else '') + '.']
    # The 1-minute load at the end counts this benchmark's own threads.
    start, end = meta.get('loadavg_start'), meta.get('loadavg_end')
    loads = [v for v in (start, None if end is None else end - meta['threads']) if v is not None]
    others = max(loads, default=None)
    # (the 1-minute average lags: a little left over from a previous job is no warning)
    if meta.get('device') == 'cpu' and others is not None and others > 0.75 * (os.cpu_count() or 1):
        # other jobs on the cores: wall times then measure them too, and torch's
        # threads wait for each other at every parallel region
        advice = ('wall-clock ratios are unreliable; prefer --threads 1 --clock cpu'
                  if clock == 'wall' or meta['threads'] > 1 else
                  'CPU times are barely affected, but shared caches add some noise')
        lines.append(f'WARNING: load average {start} at the start, {end} at the end on '
                     f'{os.cpu_count()} cores: other jobs share the CPU; {advice}.')
    lines.append('')
    if report.get('complexity'):
        lines += ['1. Parameters and FLOPs (one box; FLOPs = multiply-adds, mmengine counter)',
                  f'{"model":<20} {"":<8} {"stock":>9} {"N=1":>9} {"N=2":>9} {"N=3":>9} '
                  f'{"N=4":>9}']
        for c in report['complexity'].values():
            m = c['mipnet']
            for what, unit, scale in (('params', 'M', 1e6), ('flops', 'G', 1e9)):
                vals = [c['stock'][what] / scale] + [m[n][what] / scale for n in sorted(m)]
                lines.append(f'{c["name"]:<20} {what + " " + unit:<8} ' +
                             ' '.join(f'{v:>9.3f}' for v in vals))
            for what in ('params', 'flops'):
                lines.append(f'{"":<20} {what + " x":<8} {1:>9.3f} ' +
                             ' '.join(f'{m[n][what + "_ratio"]:>9.3f}' for n in sorted(m)))
        lines.append('')
    if report.get('inference'):
        lines += ['2. Inference, N=2 (ms per batch of boxes, backbone + head; flip on = a '
                  'second forward on the flipped batch)',
                  f'{"model":<20} {"batch":>5} {"flip":>4} {"stock":>9} {"shared":>9} '
                  f'{"authors":>9} {"shared/stock":>12} {"authors/stock":>13} '
                  f'{"shared/authors":>14} {"(" + other + ")":>8}']
        for mkey, inf in report['inference'].items():
            for row in inf['n2'].values():
                r = row['ratios'][clock]
                lines.append(
                    f'{SPECS[mkey].name:<20} {row["batch"]:>5} '
                    f'{"on" if row["flip"] else "off":>4} '
                    f'{row["stock"][key]:>9.1f} {row["shared"][key]:>9.1f} '
                    f'{row["authors"][key]:>9.1f} {fmt(r["shared/stock"]):>12} '
                    f'{fmt(r["authors/stock"]):>13} {fmt(r["shared/authors"]):>14} '
                    f'{fmt(row["ratios"][other]["shared/stock"]):>8}')
            for n, row in inf['shared_n'].items():
                lines.append(f'{SPECS[mkey].name:<20} {row["batch"]:>5} {"off":>4} '
                             f'{"":>9} {row["shared"][key]:>9.1f} {"":>9} '
                             f'{fmt(row["ratio_to_stock"][clock]):>12} '
                             f'{"<- shared trunk, N=" + n:>28} '
                             f'{fmt(row["ratio_to_stock"][other]):>8}')
        lines.append('')
    if report.get('training'):
        precision = (f', mixed precision: {meta["amp"]}' if meta.get('amp') else '')
        lines += [f'3. Training step, N=2 (forward + backward{precision}, ms; peak memory of '
                  'the step in a fresh process, MiB: peak / added by the step)',
                  f'{"model":<20} {"batch":>5} {"variant":<8} {"ms":>9} {"x stock":>8} '
                  f'{"(" + other + ")":>8} {"peak":>8} {"step":>8} {"x stock":>8}']
        for mkey, t in report['training'].items():
            mem = report.get('memory', {}).get(mkey, {})
            for variant in TRAIN_VARIANTS:
                mm = mem.get(variant, {})
                x_other = ratio(t[variant], t['stock'], other)
                x_mem = (mm['step_mb'] / mem['stock']['step_mb']
                         if mm and mem['stock']['step_mb'] > 0 else None)
                lines.append(f'{SPECS[mkey].name:<20} {t["batch"]:>5} {variant:<8} '
                             f'{t[variant][key]:>9.1f} '
                             f'{fmt(ratio(t[variant], t["stock"], clock)):>8} '
                             f'{fmt(x_other):>8} {fmt(mm.get("peak_mb"), ".0f"):>8} '
                             f'{fmt(mm.get("step_mb"), ".0f"):>8} {fmt(x_mem):>8}')
        lines.append('')
    if report.get('tail'):
        t = report['tail']
        lines += [f'4. Test-time tail ({t["poses"]} poses = {t["boxes"]} boxes x N=2 on '
                  f'{t["images"]} images, jittered GT of {t["source"]}; s per 10,000 poses)',
                  f'   OKS-NMS (mmpose oks_nms, thr 0.9)          {t["oks_nms_s_per_10k"]:.2f}',
                  f'   MultiInstanceCocoMetric.compute_metrics    '
                  f'{t["mipnet_eval_s_per_10k"]:.2f}  ({t["mipnet_eval_s"]:.2f} s in all, '
                  f'{t["kept_after_nms"]} poses kept)',
                  f'   stock CocoMetric, the lambda=0 poses only   '
                  f'{t["stock_eval_s_per_10k"]:.2f}', '']
    if report.get('data'):
        lines += ['5. Data loading and the input pipeline (stock MMPose data set vs ours)',
                  data_cost.format_table(report['data'], clock, with_targets=False), '']
    lines.append(f'Targets (time ratios on the {clock} clock)')
    for t in report['targets']:
        mark = 'n/a ' if t['passed'] is None else ('PASS' if t['passed'] else 'MISS')
        lines.append(f'  {mark}  {t["target"]}: {fmt(t["measured"])} (target <= {t["limit"]})')
    lines.append(f'Wall time of the benchmark: {meta["wall_s"]:.0f} s')
    return '\n'.join(lines)


# ------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------

def run(args: argparse.Namespace, argv: Optional[Sequence[str]] = None) -> dict:
    """Measure what ``args`` (tools/benchmark.py's parsed arguments) asks; return the report."""
    torch.set_num_threads(args.threads)
    init_default_scope('mmpose')
    import mipnet_mmpose  # noqa: F401 (registers MIPHRNet / MIPResNet and the metric)

    if args.probe_memory:
        probe = json.loads(args.probe_memory)
        print(json.dumps(probe_memory(probe['model'], probe['variant'], probe['batch'],
                                      probe['device'], probe['threads'], probe['amp'])))
        return {}

    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(
            f'tools/benchmark.py: --device cuda, but torch {torch.__version__} sees no CUDA GPU '
            '(torch.cuda.is_available() is False): run it on a machine with an NVIDIA GPU and '
            'a CUDA build of torch, or pass --device cpu')
    device = torch.device('cuda' if args.device == 'cuda' or (
        args.device == 'auto' and torch.cuda.is_available()) else 'cpu')
    if device.type == 'cuda' and args.clock == 'cpu':
        raise SystemExit('--clock cpu measures CPU work; use the wall clock on CUDA')
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f'[{time.perf_counter() - started:7.1f} s] {msg}', file=sys.stderr, flush=True)

    import mmpose
    report: dict = dict(meta=dict(
        date=datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
        device=str(device),
        device_name=(torch.cuda.get_device_name(device) if device.type == 'cuda' else
                     f'{cpu_name()}, {os.cpu_count()} cores'),
        threads=args.threads, torch=torch.__version__, mmpose=mmpose.__version__,
        amp=AMP_DTYPES[device.type] if args.amp else None,
        repeats=args.repeats, warmup=args.warmup, clock=args.clock,
        loadavg_start=load_average(),
        mode='smoke' if args.smoke else 'quick' if args.quick else 'full',
        command='python tools/benchmark.py ' + ' '.join(sys.argv[1:] if argv is None else argv)))
    sections = set(args.sections)
    if 'complexity' in sections:
        report['complexity'] = {}
        for key in args.models:
            log(f'complexity {key}')
            report['complexity'][key] = measure_complexity(SPECS[key], device)
    if 'inference' in sections or 'training' in sections:
        report['inference'], report['training'], report['memory'] = {}, {}, {}
        for key in args.models:
            spec = SPECS[key]
            extra_batch = min(8, max(args.batches))
            built = build(spec, device, mip_ns=(2, 3, 4))
            if 'inference' in sections:
                log(f'inference {key}: batches {args.batches}')
                report['inference'][key] = measure_inference(
                    built, args.batches, (3, 4), extra_batch, args.repeats, args.warmup, log)
            if 'training' in sections and key in args.train_models:
                log(f'training {key}: batch {args.train_batch}')
                report['training'][key] = measure_training(
                    built, args.train_batch, args.repeats, args.warmup, log, amp=args.amp)
            del built
            if 'training' in sections and key in args.train_models:
                log(f'peak memory {key}: one subprocess per variant')
                # tiny smoke models fit side by side; full-size ones go one at a time
                report['memory'][key] = measure_memory(key, args.train_batch, device,
                                                       args.threads, log, parallel=args.smoke,
                                                       amp=args.amp)
        for section in ('inference', 'training', 'memory'):
            if not report[section]:
                del report[section]
    if 'tail' in sections:
        log(f'tail: ~{args.tail_poses} poses')
        report['tail'] = measure_tail(args.tail_poses, args.repeats, log)
    if 'data' in sections:
        log('data: loading at COCO scale and the input pipelines')
        report['data'] = measure_data(args, log)
    report['targets'] = evaluate_targets(report, args.clock)
    report['meta']['wall_s'] = time.perf_counter() - started
    report['meta']['loadavg_end'] = load_average()
    print(format_report(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report

