"""End-to-end test-time cost with detector boxes: stock MMPose against MIPNet N = 2.

    python tools/analysis/test_time_cost.py [--boxes 10000] [--device auto|cpu|cuda]
        [--models stock mipnet] [--checkpoint CKPT] [--stock-checkpoint CKPT]
        [--batch-size 32] [--threads T] [--pictures] [--one-image] [--work-dir DIR]
        [--json out.json]

Runs the real mmengine Runner test loop (data pipeline, model, metric, hooks) of

- stock: MMPose's ``TopdownPoseEstimator`` (the narrow HRNet of the sample, at
  128x96, ``configs/experiments/crowd_evidence_stock-hrnet_n1.py``) with
  ``CocoDataset`` and ``CocoMetric`` (OKS-NMS at 0.9),
- mipnet: the sample model with N = 2 (``configs/mipnet_sample_hrnet-w16_coco-det-128x96.py``:
  ``MultiInstanceCocoDataset`` and ``MultiInstanceCocoMetric``, OKS-NMS at 0.9),

both on the same B detector boxes: the detections of the sample config's test set
(the 4 COCO sample images, Faster R-CNN boxes above the config's score threshold)
replicated with new image, annotation and detection ids until there are B of them
(a COCO val-scale run has about 100,000 boxes: that is for a GPU machine; on a
2-core CPU 10,000-20,000 fit in minutes). A timing subclass of mmengine's
``TestLoop`` splits the wall time into

- pipeline: waiting for the data loader (image decoding, affine crop, collation),
- network: ``model.test_step`` on --device (preprocessor, forward with flip test,
  heatmap decoding), with the device synchronised at both ends,
- metric: ``evaluator.process`` per batch and ``evaluator.evaluate`` at the end;
  of it, the metric's OKS-NMS (``oks_nms`` timed where the metric calls it),
- hooks and loop: everything else (hook calls, the loop itself),

which sum to the total (measured after one untimed forward of the first batch, a
warm-up), and reports each in seconds per 10,000 boxes. Without a
checkpoint the models run with their initial weights: the times are those of the
same computation, but the OKS-NMS then sees other poses than a trained model's.
"""
import argparse
import contextlib
import copy
import hashlib
import io
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import LOOPS
from mmengine.runner import Runner, TestLoop
from mmengine.utils import ProgressBar

REPO = Path(__file__).resolve().parents[2]
CONFIGS = dict(
    stock=REPO / 'configs' / 'experiments' / 'crowd_evidence_stock-hrnet_n1.py',
    mipnet=REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-det-128x96.py')
PHASES = ('pipeline', 'network', 'metric', 'hooks_and_loop')


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


@LOOPS.register_module(force=True)
class TimedTestLoop(TestLoop):
    """mmengine's ``TestLoop`` with its wall time split into phases.

    The same calls in the same order as ``TestLoop.run``/``run_iter``, with a clock
    read between them. Fills ``self.seconds`` (pipeline, network, metric_process,
    metric_evaluate, total), ``self.box_ids`` (the ``id`` of every data sample, in
    order) and ``self.poses`` (the poses the model output).
    """

    def __init__(self, *args, progress: bool = True, warmup: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.progress = progress
        self.warmup = warmup
        self.seconds: Dict[str, float] = defaultdict(float)
        self.box_ids: List[int] = []
        self.poses = 0

    def _device(self) -> torch.device:
        return next(self.runner.model.parameters()).device

    def run(self) -> dict:
        """Launch the test, timing each phase."""
        device = self._device()
        if self.warmup:
            # one untimed forward of the first batch: lazy initialisations (thread
            # pools, kernels, allocator) do not land on the first model measured
            self.runner.model.eval()
            with torch.no_grad():
                self.runner.model.test_step(next(iter(self.dataloader)))
            _sync(device)
        start = time.perf_counter()
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        self.test_loss.clear()
        bar = (ProgressBar(len(self.dataloader), file=sys.stderr) if self.progress else None)
        batches: Iterator = iter(self.dataloader)
        idx = 0
        while True:
            fetch = time.perf_counter()
            try:
                data_batch = next(batches)
            except StopIteration:
                self.seconds['pipeline'] += time.perf_counter() - fetch
                break
            self.seconds['pipeline'] += time.perf_counter() - fetch
            self.run_iter(idx, data_batch, device)
            idx += 1
            if bar is not None:
                bar.update()
        if bar is not None:
            sys.stderr.write('\n')
        evaluate = time.perf_counter()
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        self.seconds['metric_evaluate'] += time.perf_counter() - evaluate
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        self.seconds['total'] = time.perf_counter() - start
        return metrics

    @torch.no_grad()
    def run_iter(self, idx: int, data_batch: dict, device: Optional[torch.device] = None) -> None:
        """One batch: hooks, ``test_step`` (timed, device synchronised), ``process``."""
        device = device or self._device()
        self.runner.call_hook('before_test_iter', batch_idx=idx, data_batch=data_batch)
        _sync(device)
        start = time.perf_counter()
        outputs = self.runner.model.test_step(data_batch)
        _sync(device)
        self.seconds['network'] += time.perf_counter() - start
        self.box_ids += [int(o.id) for o in outputs]
        self.poses += sum(len(o.pred_instances.keypoints) for o in outputs)
        start = time.perf_counter()
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.seconds['metric_process'] += time.perf_counter() - start
        self.runner.call_hook('after_test_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)


@contextlib.contextmanager
def timed_attribute(targets: Sequence[Tuple[object, str]], seconds: Dict[str, float],
                    key: str) -> Iterator[None]:
    """Add the wall time of calls to ``module.name`` (for each target) to ``seconds[key]``.

    Wraps the function where the metric looks it up (its module's global), and
    restores it afterwards; a call nested in another timed call counts once.
    """
    originals = []
    depth = [0]

    def wrap(func: Callable) -> Callable:
        def timed(*args, **kwargs):
            depth[0] += 1
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    seconds[key] += time.perf_counter() - start
        return timed

    try:
        for module, name in targets:
            if hasattr(module, name):
                originals.append((module, name, getattr(module, name)))
                setattr(module, name, wrap(getattr(module, name)))
        yield
    finally:
        for module, name, func in originals:
            setattr(module, name, func)


def _sample_test_set() -> dict:
    """The sample config's test set: its COCO json, the person detections the
    dataset keeps (above its score threshold) and the paths."""
    dataset = Config.fromfile(CONFIGS['mipnet']).test_dataloader.dataset
    data_root = Path(dataset.get('data_root', ''))
    data_root = data_root if data_root.is_absolute() else REPO / data_root
    bbox_path = Path(dataset.bbox_file)
    bbox_path = bbox_path if bbox_path.is_absolute() else REPO / bbox_path
    score_thr = float(dataset.get('filter_cfg', {}).get('bbox_score_thr', 0.0))
    dets = [d for d in json.loads(bbox_path.read_text())
            if d.get('category_id', 1) == 1 and np.float32(d['score']) >= np.float32(score_thr)]
    if not dets:
        raise ValueError(f'no detections above {score_thr} in {bbox_path}')
    return dict(coco=json.loads((data_root / dataset.ann_file).read_text()), dets=dets,
                data_root=str(data_root), img_prefix=dataset.data_prefix['img'],
                score_thr=score_thr)


def _write_inputs(out_dir: Path, test_set: dict, images: List[dict], annotations: List[dict],
                  boxes: List[dict], copies: int) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    ann_file, bbox_file = out_dir / 'test_boxes.json', out_dir / 'dets_boxes.json'
    ann_file.write_text(json.dumps(dict(test_set['coco'], images=images,
                                        annotations=annotations)))
    bbox_file.write_text(json.dumps(boxes))
    return dict(ann_file=str(ann_file), bbox_file=str(bbox_file),
                data_root=test_set['data_root'], img_prefix=test_set['img_prefix'],
                score_thr=test_set['score_thr'], boxes=len(boxes), images=len(images),
                copies=copies)


def replicate_detections(num_boxes: int, out_dir: Path) -> dict:
    """The sample config's test images and detections, copied to ``num_boxes`` boxes.

    Every copy of the images gets new image ids (same files), of their annotations
    new ids, and of the detections (persons above the config's score threshold, as
    the datasets keep them) the copy's image ids; the last copy is cut at
    ``num_boxes``.

    Returns:
        dict: ``ann_file``, ``bbox_file``, ``data_root``, ``img_prefix``,
        ``score_thr``, ``boxes``, ``images`` (used) and ``copies``
    """
    test_set = _sample_test_set()
    coco, dets = test_set['coco'], test_set['dets']
    copies = math.ceil(num_boxes / len(dets))
    img_stride = max(im['id'] for im in coco['images']) + 1
    ann_stride = max((a['id'] for a in coco['annotations']), default=0) + 1
    images, annotations, boxes = [], [], []
    for c in range(copies):
        images += [dict(im, id=im['id'] + c * img_stride) for im in coco['images']]
        annotations += [dict(a, id=a['id'] + c * ann_stride,
                             image_id=a['image_id'] + c * img_stride)
                        for a in coco['annotations']]
        boxes += [dict(d, image_id=d['image_id'] + c * img_stride) for d in dets]
    boxes = boxes[:num_boxes]
    used = {d['image_id'] for d in boxes}
    return _write_inputs(out_dir, test_set, [im for im in images if im['id'] in used],
                         [a for a in annotations if a['image_id'] in used], boxes, copies)


def one_image_detections(num_boxes: int, out_dir: Path, seed: int = 0) -> dict:
    """``num_boxes`` detections on one sample image: a dense image.

    The test-set image with the most detections above the score threshold; each
    box is one of them with x, y, w, h jittered by 10 % of its size and a score
    drawn above the threshold, as a detector run with a low threshold gives many
    boxes per person.

    Returns:
        dict: as :func:`replicate_detections`
    """
    test_set = _sample_test_set()
    ids = [d['image_id'] for d in test_set['dets']]
    image_id = max(set(ids), key=ids.count)
    dets = [d for d in test_set['dets'] if d['image_id'] == image_id]
    rng = np.random.default_rng(seed)
    boxes = []
    for b in range(num_boxes):
        x, y, w, h = dets[b % len(dets)]['bbox']
        dx, dy, dw, dh = 0.1 * rng.standard_normal(4)
        boxes.append(dict(image_id=image_id, category_id=1,
                          bbox=[x + dx * w, y + dy * h, w * (1 + dw), h * (1 + dh)],
                          score=float(rng.uniform(max(test_set['score_thr'], 0.3), 1.0))))
    coco = test_set['coco']
    return _write_inputs(out_dir, test_set, [im for im in coco['images'] if im['id'] == image_id],
                         [a for a in coco['annotations'] if a['image_id'] == image_id], boxes,
                         0)


def _drop_picture_hooks(cfg: Config) -> None:
    """Remove the picture-drawing hooks (a val-scale run draws no pictures)."""
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if 'Visualization' not in h.get('type', '')]
    for name, hook in list(cfg.get('default_hooks', {}).items()):
        if hook is not None and 'Visualization' in str(hook.get('type', '')):
            cfg.default_hooks[name] = dict(hook, enable=False) if 'enable' in hook else None


def build_config(model: str, inputs: dict, work_dir: Path, checkpoint: Optional[str],
                 batch_size: int, pictures: bool, progress: bool) -> Config:
    """The model's config, testing on the replicated detections with the timed loop."""
    cfg = Config.fromfile(CONFIGS[model])
    dataset = cfg.test_dataloader.dataset
    if model == 'stock':
        # the stock twin tests on GT boxes of coco_mini: the same stock dataset
        # class on the detections instead
        dataset = dict(type='CocoDataset', data_mode='topdown', test_mode=True,
                       pipeline=copy.deepcopy(dataset.pipeline))
        cfg.test_evaluator = dict(type='CocoMetric')
    dataset.update(data_root=inputs['data_root'], ann_file=inputs['ann_file'],
                   bbox_file=inputs['bbox_file'], data_prefix=dict(img=inputs['img_prefix']),
                   filter_cfg=dict(bbox_score_thr=inputs['score_thr']))
    cfg.test_dataloader.dataset = dataset
    cfg.test_dataloader.batch_size = batch_size
    cfg.test_evaluator.update(ann_file=inputs['ann_file'], nms_mode='oks_nms', nms_thr=0.9,
                              outfile_prefix=str(work_dir / 'results'))
    cfg.test_cfg = dict(type='TimedTestLoop', progress=progress)
    cfg.work_dir = str(work_dir)
    cfg.load_from = checkpoint
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**9)  # the bar reports
    if not pictures:
        _drop_picture_hooks(cfg)
    return cfg


def run_model(model: str, inputs: dict, work_dir: Path, device: torch.device,
              checkpoint: Optional[str], batch_size: int, pictures: bool,
              progress: bool = True) -> dict:
    """One model through the Runner's test loop; its times split into phases."""
    from mmpose.evaluation.metrics import coco_metric

    from mipnet_mmpose.evaluation.metrics import multi_instance_coco_metric
    cfg = build_config(model, inputs, work_dir, checkpoint, batch_size, pictures, progress)
    runner = Runner.from_cfg(cfg)
    runner.model.to(device)  # the Runner picks CUDA when present; --device decides
    nms_seconds: Dict[str, float] = defaultdict(float)
    nms_targets = [(module, name) for module in (coco_metric, multi_instance_coco_metric)
                   for name in ('oks_nms', 'soft_oks_nms')]
    with timed_attribute(nms_targets, nms_seconds, 'nms'), \
            contextlib.redirect_stdout(io.StringIO()):  # xtcocotools' summary
        metrics = runner.test()
    loop: TimedTestLoop = runner.test_loop
    s = dict(loop.seconds)
    seconds = dict(pipeline=s['pipeline'], network=s['network'],
                   metric=s['metric_process'] + s['metric_evaluate'])
    seconds['hooks_and_loop'] = s['total'] - sum(seconds.values())
    seconds['metric_nms'] = nms_seconds['nms']
    seconds['total'] = s['total']
    boxes = len(loop.box_ids)
    return dict(
        model=model, boxes=boxes, poses=loop.poses,
        box_ids_sha1=hashlib.sha1(json.dumps(sorted(loop.box_ids)).encode()).hexdigest(),
        seconds=seconds,
        per_10k_boxes={k: v * 10_000 / boxes for k, v in seconds.items()},
        ap=metrics.get('coco/AP'), checkpoint=checkpoint)


def format_rows(rows: List[dict], meta: dict) -> str:
    """The table of seconds per 10,000 boxes."""
    lines = [f'Test-time cost, {meta["boxes"]} detector boxes on {meta["images"]} image(s) '
             f'({meta["copies"]} copies of the sample test set), device {meta["device"]}, '
             f'{meta["threads"]} torch thread(s), batch {meta["batch_size"]}; '
             f's per 10,000 boxes:',
             f'{"model":<8} {"poses":>7} ' + ' '.join(f'{p:>14}' for p in PHASES) +
             f' {"(of it NMS)":>11} {"total":>8} {"AP":>6}']
    for r in rows:
        p = r['per_10k_boxes']
        ap = '-' if r['ap'] is None else f'{r["ap"]:.3f}'
        lines.append(f'{r["model"]:<8} {r["poses"]:>7} ' +
                     ' '.join(f'{p[k]:>14.2f}' for k in PHASES) +
                     f' {p["metric_nms"]:>11.2f} {p["total"]:>8.2f} {ap:>6}')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--boxes', type=int, default=10_000,
                        help='detector boxes in all (COCO val with detections: ~100,000)')
    parser.add_argument('--models', nargs='+', choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument('--device', default='auto',
                        help="'auto' (the Runner's choice: CUDA if present), 'cpu', 'cuda', "
                        "'cuda:1', ...")
    parser.add_argument('--checkpoint', help='MIPNet weights (else initial weights)')
    parser.add_argument('--stock-checkpoint', help='stock model weights (else initial)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--threads', type=int,
                        help='torch CPU threads (default: torch\'s; 1 on a shared machine)')
    parser.add_argument('--pictures', action='store_true',
                        help='keep the picture hook of the MIPNet config (off: no pictures)')
    parser.add_argument('--one-image', action='store_true',
                        help='all boxes on one image (jittered copies of its detections): '
                        'a dense image, as for `mim test` with 10,000 boxes on one image')
    parser.add_argument('--work-dir', help='keep the inputs, logs and results here')
    parser.add_argument('--json', help='write the rows and the settings to this file')
    parser.add_argument('--no-progress', action='store_true')
    args = parser.parse_args(argv)
    if args.boxes < 1:
        parser.error('--boxes must be at least 1')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    from mmengine.device import get_device
    from mmengine.registry import init_default_scope
    init_default_scope('mmpose')
    import mipnet_mmpose  # noqa: F401
    logger = MMLogger.get_instance('test_time_cost', log_level='INFO')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(get_device() if args.device == 'auto' else args.device)
    checkpoints = dict(stock=args.stock_checkpoint, mipnet=args.checkpoint)
    with contextlib.ExitStack() as stack:
        root = (Path(args.work_dir) if args.work_dir else
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix='test_time_'))))
        if args.one_image:
            inputs = one_image_detections(args.boxes, root / 'inputs')
        else:
            inputs = replicate_detections(args.boxes, root / 'inputs')
        logger.info(f'{inputs["boxes"]} detector boxes on {inputs["images"]} image(s) '
                    f'({inputs["copies"]} copies of the sample test set) in {root}')
        rows = []
        for model in args.models:
            if checkpoints[model] is None:
                logger.warning(f'{model}: no checkpoint, initial weights')
            logger.info(f'{model}: testing on {device}')
            rows.append(run_model(model, inputs, root / model, device, checkpoints[model],
                                  args.batch_size, args.pictures, not args.no_progress))
    meta = dict(date=time.strftime('%Y-%m-%d'), device=str(device),
                threads=torch.get_num_threads(), batch_size=args.batch_size,
                **{k: inputs[k] for k in ('boxes', 'images', 'copies')})
    logger.info('\n' + format_rows(rows, meta))
    report = dict(meta=meta, rows=rows)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return report


if __name__ == '__main__':
    main()
