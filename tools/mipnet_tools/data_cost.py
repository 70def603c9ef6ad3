"""Cost of the data side at COCO scale: stock MMPose data sets and pipelines vs ours.

The measurements of ``tools/analysis/data_cost.py`` (its command line) and of the data
section of ``tools/benchmark.py`` (the ``--options`` named here are the command line's,
the arguments of :func:`measure`). Two measurements, each comparing a stock MMPose data
set with its multi-instance counterpart (which also attaches the other persons of every
sample's image):

1. ``load``: the bundled sample annotation file of ``--source`` (CrowdPose: 2 images,
   5 persons; COCO: ``coco_mini`` train, 80 images, 172 persons) is replicated with new
   image and annotation ids, and new image file names symlinked to the real sample
   images, to ``--persons`` person annotations (COCO train has 262,465, 149,813 of them
   with keypoints). Each data set class then loads it in a fresh subprocess, stock and
   ours alternating ``--repeats`` times, so that each peak RSS (VmHWM, reset just before
   the load, as ``tools/benchmark.py`` measures its training steps) belongs to one class
   alone. Each probe then starts ``--workers`` persistent DataLoader workers (fork, as
   mmengine's runner does), draws ``--worker-batches`` batches per worker of fetched
   samples, and sums the PSS (proportional set size: shared pages counted once over
   the processes that share them) and the RSS of the main process and its workers. The
   multi-instance probe finally checks that every replicated sample has exactly the
   neighbours of its original in the unscaled file.
2. ``pipeline``: the CPU cost per sample of the stock HRNet-W32 training pipeline on
   ``CocoDataset`` and of ours (``configs/mipnet_hrnet-w32_3xb32-110e_coco-256x192.py``
   on ``MultiInstanceCocoDataset``), on the real ``coco_mini`` train images, and the
   same for the validation pipelines (GT boxes, ``coco_mini`` val), one process, OpenCV
   without threads (as in mmengine's workers), the variants interleaved in every repeat,
   with the cost of every transform, so that the table says what dominates.
"""
import contextlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .formatting import fmt
from .memory import proc_status_mib, reset_peak_rss

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / 'data' / 'sample'
STOCK_CONFIG = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')
OURS_CONFIG = REPO / 'configs' / 'mipnet_hrnet-w32_3xb32-110e_coco-256x192.py'
# The COCO-scale file: 153,486 persons (CrowdPose val replicated).
DEFAULT_PERSONS = 153_486
# Our loading may cost this much of the stock loading (time, peak memory).
LOAD_LIMIT = 1.15
#: The command line; each load probe runs it with ``--probe`` in a fresh process.
CLI = REPO / 'tools' / 'analysis' / 'data_cost.py'


@dataclass(frozen=True)
class Source:
    """A bundled annotation file and its images, with the classes that load it.

    Attributes:
        ann_file (Path): The COCO-format annotation file.
        img_dir (Path): The folder of its images (``file_name`` is relative to it).
        stock (str): The stock MMPose data set class.
        ours (str): Its multi-instance counterpart.
    """

    ann_file: Path
    img_dir: Path
    stock: str
    ours: str


SOURCES: Dict[str, Source] = dict(
    crowdpose=Source(SAMPLE / 'crowdpose' / 'test_crowdpose.json', SAMPLE / 'crowdpose',
                     'CrowdPoseDataset', 'MultiInstanceCrowdPoseDataset'),
    coco=Source(SAMPLE / 'coco_mini' / 'annotations' / 'person_keypoints_train2017.json',
                SAMPLE / 'coco_mini' / 'train2017', 'CocoDataset', 'MultiInstanceCocoDataset'),
)


def _log(msg: str) -> None:
    from mmengine.logging import print_log
    print_log(msg, logger='current')


# ------------------------------------------------------------------------------------
# 1. the COCO-scale annotation file
# ------------------------------------------------------------------------------------


def scale_annotations(source: str, persons: int, out_dir: Path) -> dict:
    """Replicate a bundled annotation file to at least ``persons`` person annotations.

    Copy c of every image gets id ``id + c * img_stride`` and file name
    ``c{c:06d}_<file_name>``, a hard link to the real image (a plain file, as in a real
    data set; a symlink where ``out_dir`` is on another file system), only for images
    that exist in the sample (``coco_mini`` lists images it does not hold, as COCO lists
    images without persons); copy c of every annotation gets id ``id + c * ann_stride``
    and the copied image id. Everything else is unchanged, so every copy of an image holds the same
    persons as the original, and the data sets must give them the same neighbours.

    Args:
        source (str): A key of :data:`SOURCES`
        persons (int): The least number of person annotations to write
        out_dir (Path): Where to write ``annotations.json`` and ``images/``

    Returns:
        dict: ``ann_file``, ``img_dir``, ``copies``, ``images``, ``annotations``,
        ``img_stride``, ``ann_stride`` and ``source`` (the unscaled file)
    """
    from mmengine.utils import ProgressBar

    src = SOURCES[source]
    coco = json.loads(src.ann_file.read_text())
    copies = max(1, math.ceil(persons / len(coco['annotations'])))
    img_stride = max(im['id'] for im in coco['images']) + 1
    ann_stride = max(a['id'] for a in coco['annotations']) + 1
    out_dir = Path(out_dir)
    img_dir = out_dir / 'images'
    img_dir.mkdir(parents=True, exist_ok=True)
    present = {im['file_name'] for im in coco['images']
               if (src.img_dir / im['file_name']).is_file()}

    images, annotations = [], []
    progress = ProgressBar(copies, file=sys.stderr) if copies >= 1000 else None
    for c in range(copies):
        for im in coco['images']:
            name = f'c{c:06d}_{im["file_name"]}'
            images.append(dict(im, id=im['id'] + c * img_stride, file_name=name))
            link = img_dir / name
            if im['file_name'] in present and not os.path.lexists(link):
                target = (src.img_dir / im['file_name']).resolve()
                try:
                    os.link(target, link)
                except OSError:  # another file system, or no hard links there
                    link.symlink_to(target)
        annotations += [dict(a, id=a['id'] + c * ann_stride,
                             image_id=a['image_id'] + c * img_stride)
                        for a in coco['annotations']]
        if progress is not None and (c + 1) % 100 == 0:
            progress.update(100)
    if progress is not None:
        sys.stderr.write('\n')
    ann_file = out_dir / 'annotations.json'
    ann_file.write_text(json.dumps(dict(coco, images=images, annotations=annotations)))
    return dict(source=str(src.ann_file), ann_file=str(ann_file), img_dir=str(img_dir),
                copies=copies, images=len(images), annotations=len(annotations),
                img_stride=img_stride, ann_stride=ann_stride)


# ------------------------------------------------------------------------------------
# 2. one load, in a fresh process
# ------------------------------------------------------------------------------------


def _smaps_mib(pid: int) -> Dict[str, Optional[float]]:
    """PSS and RSS of a process in MiB, from /proc/<pid>/smaps_rollup (Linux >= 4.14)."""
    out: Dict[str, Optional[float]] = dict(pss=None, rss=None)
    try:
        for line in Path(f'/proc/{pid}/smaps_rollup').read_text().splitlines():
            key = line.split(':')[0]
            if key in ('Pss', 'Rss'):
                out[key.lower()] = int(line.split()[1]) / 1024  # in kB
    except OSError:
        pass
    return out


def _children(pid: int) -> List[int]:
    """The child processes of ``pid`` (of all its threads)."""
    kids: List[int] = []
    for task in Path(f'/proc/{pid}/task').iterdir():
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / 'children').read_text().split()]
    return kids


def _fetched(batch: List[dict]) -> int:
    """The collate function of the worker probe: drop each sample, count its neighbours.

    The samples are fetched data infos (the empty pipeline returns them as they are);
    the data set itself, under ``'dataset'``, must not be sent back to the main process.
    """
    return sum(len(info.get('neighbour_bboxes', ())) for info in batch)


def _measure_workers(dataset, workers: int, batches_per_worker: int,
                     batch_size: int = 16) -> dict:
    """Total PSS and RSS of this process and ``workers`` DataLoader workers.

    The workers are persistent and forked, as mmengine's runner starts them; they are
    measured while alive, after each drew ``batches_per_worker`` batches of fetched
    samples in a seeded random order.
    """
    import torch
    from torch.utils.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                        persistent_workers=True, collate_fn=_fetched,
                        generator=torch.Generator().manual_seed(0),
                        multiprocessing_context='fork')
    start = time.perf_counter()
    batches = iter(loader)
    count = neighbours = 0
    for neighbours_in_batch in batches:
        neighbours += neighbours_in_batch
        count += 1
        if count >= workers * batches_per_worker:
            break
    wall = time.perf_counter() - start
    kids = _children(os.getpid())
    parent = _smaps_mib(os.getpid())
    per_worker = [_smaps_mib(k) for k in kids]
    del batches, loader  # stops the workers
    pss = [parent['pss']] + [w['pss'] for w in per_worker]
    rss = [parent['rss']] + [w['rss'] for w in per_worker]
    return dict(workers=len(kids), batches=count, batch_size=batch_size,
                neighbours_drawn=neighbours, wall_s=round(wall, 3),
                pss_total_mib=None if None in pss else round(sum(pss), 1),
                rss_total_mib=None if None in rss else round(sum(rss), 1),
                parent_pss_mib=parent['pss'],
                worker_pss_mib=[w['pss'] for w in per_worker])


def check_replicas(dataset, scaled: dict, source: str) -> dict:
    """Whether every sample of the scaled file has the neighbours of its original.

    Args:
        dataset: The multi-instance data set loaded from the scaled file
        scaled (dict): What :func:`scale_annotations` returned
        source (str): The key of :data:`SOURCES` it was made from

    Returns:
        dict: ``samples`` (checked), ``with_neighbours`` (samples with M > 0),
        ``identical`` (bool) and ``first_difference`` (a sample id, or None)
    """
    from mmpose.registry import DATASETS

    from mipnet_mmpose.datasets.multi_instance_dataset import NEIGHBOUR_KEYS

    src = SOURCES[source]
    original = DATASETS.build(dict(type=src.ours, ann_file=str(src.ann_file),
                                   data_prefix=dict(img=str(src.img_dir)), pipeline=[]))
    by_id = {info['id']: info for info in
             (original.get_data_info(i) for i in range(len(original)))}
    stride = scaled['ann_stride']
    with_neighbours, difference = 0, None
    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        orig = by_id.get(info['id'] % stride)
        same = orig is not None and all(
            info[k].dtype == orig[k].dtype and np.array_equal(info[k], orig[k])
            for k in NEIGHBOUR_KEYS)
        if not same:
            difference = info['id']
            break
        with_neighbours += int(len(info['neighbour_bboxes']) > 0)
    return dict(samples=len(dataset), with_neighbours=with_neighbours,
                identical=difference is None, first_difference=difference)


def probe_load(spec: dict) -> dict:
    """Load one data set class on the scaled file in this (fresh) process.

    ``baseline_mib`` is the RSS before the load (Python, torch, MMPose), ``peak_mib``
    the peak RSS during it (VmHWM reset just before, see :mod:`.memory`: ``ru_maxrss``
    would carry the parent's peak), ``after_mib`` the RSS once loaded, ``loaded_mib`` =
    peak - baseline.

    Args:
        spec (dict): ``cls``, ``scaled`` (see :func:`scale_annotations`), ``source``,
            ``workers``, ``worker_batches`` and ``check`` (bool: check the replicas)

    Returns:
        dict: The load's figures, ``workers`` (see :func:`_measure_workers`) and, with
        ``check``, ``replicas`` (see :func:`check_replicas`)
    """
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    import mipnet_mmpose  # noqa: F401 (registers the multi-instance data sets)
    init_default_scope('mmpose')
    scaled = spec['scaled']
    cfg = dict(type=spec['cls'], ann_file=scaled['ann_file'],
               data_prefix=dict(img=scaled['img_dir'] + os.sep), pipeline=[])
    with contextlib.redirect_stdout(sys.stderr):  # xtcocotools prints its progress
        reset = reset_peak_rss()
        baseline = proc_status_mib('VmRSS')
        wall, cpu = time.perf_counter(), time.process_time()
        dataset = DATASETS.build(cfg)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = proc_status_mib('VmHWM') if reset else None
        after = proc_status_mib('VmRSS')
        table = getattr(dataset, 'neighbour_table', None)
        out = dict(
            cls=spec['cls'], samples=len(dataset), wall_s=round(wall, 3), cpu_s=round(cpu, 3),
            baseline_mib=baseline, peak_mib=peak, after_mib=after,
            loaded_mib=None if peak is None else round(peak - baseline, 1),
            serialised_mib=round(dataset.data_bytes.nbytes / 2**20, 2),
            neighbour_table_mib=None if table is None else round(sum(
                getattr(table, k).nbytes for k in ('keypoints', 'keypoints_visible', 'bboxes',
                                                   'order')) / 2**20, 2))
        if spec.get('workers'):
            out['workers'] = _measure_workers(dataset, spec['workers'], spec['worker_batches'])
        if spec.get('check'):
            out['replicas'] = check_replicas(dataset, scaled, spec['source'])
    return out


def _run_probe(spec: dict) -> dict:
    """:func:`probe_load` in a fresh subprocess (its peak RSS is its own)."""
    proc = subprocess.run(
        [sys.executable, str(CLI), '--probe', json.dumps(spec)],
        cwd=REPO, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    if proc.returncode != 0:
        raise RuntimeError(f'load probe of {spec["cls"]} failed:\n{proc.stderr[-4000:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(values: Sequence[Optional[float]]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def measure_load(source: str, persons: int, repeats: int, workers: int,
                 worker_batches: int, work_dir: Path) -> dict:
    """Load the scaled file with the stock and our class, alternating, each in its own process.

    Returns:
        dict: ``scaled`` (the file), ``stock`` and ``ours`` (medians over the repeats
        and every probe), ``ratios`` (ours / stock) and ``replicas`` (the check)
    """
    from mmengine.utils import track_iter_progress

    src = SOURCES[source]
    started = time.perf_counter()
    scaled = scale_annotations(source, persons, work_dir)
    scaled['seconds'] = round(time.perf_counter() - started, 1)
    _log(f'data: {scaled["annotations"]} person annotations on {scaled["images"]} images '
         f'({scaled["copies"]} copies of {Path(scaled["source"]).name}) in '
         f'{scaled["seconds"]} s; loading each class {repeats} time(s) in fresh processes')
    # Alternate the order (stock first, then ours first) so that neither always runs
    # right after the file was written, or after the other.
    order = [(src.stock, src.ours) if r % 2 == 0 else (src.ours, src.stock)
             for r in range(repeats)]
    probes: Dict[str, List[dict]] = {src.stock: [], src.ours: []}
    jobs = [cls for pair in order for cls in pair]
    for i, cls in enumerate(track_iter_progress(jobs, file=sys.stderr)):
        probes[cls].append(_run_probe(dict(
            cls=cls, scaled=scaled, source=source, workers=workers,
            worker_batches=worker_batches,
            # the replica check once, in the last probe of ours
            check=cls == src.ours and i == max(j for j, c in enumerate(jobs) if c == cls))))
    sys.stderr.write('\n')

    def summary(runs: List[dict]) -> dict:
        keys = ('wall_s', 'cpu_s', 'baseline_mib', 'peak_mib', 'after_mib', 'loaded_mib',
                'serialised_mib', 'neighbour_table_mib')
        out = dict(cls=runs[0]['cls'], samples=runs[0]['samples'], runs=len(runs),
                   **{k: _median([r[k] for r in runs]) for k in keys},
                   wall_samples_s=[r['wall_s'] for r in runs],
                   cpu_samples_s=[r['cpu_s'] for r in runs])
        if all('workers' in r for r in runs):
            w = [r['workers'] for r in runs]
            out['workers'] = dict(
                workers=w[0]['workers'], batches=w[0]['batches'],
                batch_size=w[0]['batch_size'], neighbours_drawn=w[0]['neighbours_drawn'],
                **{k: _median([x[k] for x in w])
                   for k in ('wall_s', 'pss_total_mib', 'rss_total_mib', 'parent_pss_mib')})
        return out

    stock, ours = summary(probes[src.stock]), summary(probes[src.ours])
    ratios = {key: _ratio(ours[key], stock[key])
              for key in ('wall_s', 'cpu_s', 'peak_mib', 'loaded_mib', 'after_mib')}
    # The two loads of one repeat ran one after the other: their ratio sees about the
    # same machine load (other jobs change the times by several percent).
    for key in ('wall_s', 'cpu_s'):
        ratios[f'{key}_per_repeat'] = [round(o[key] / s[key], 4) for s, o in
                                       zip(probes[src.stock], probes[src.ours])]
    if 'workers' in stock and 'workers' in ours:
        for key in ('pss_total_mib', 'rss_total_mib'):
            ratios[f'workers_{key}'] = _ratio(ours['workers'][key], stock['workers'][key])
    replicas = next(r['replicas'] for r in probes[src.ours] if 'replicas' in r)
    return dict(source=source, scaled=scaled, stock=stock, ours=ours, ratios=ratios,
                replicas=replicas, limit=LOAD_LIMIT)


# ------------------------------------------------------------------------------------
# 3. the input pipelines
# ------------------------------------------------------------------------------------


class _Timed:
    """A pipeline transform that adds its time on ``now`` to ``totals[name]``."""

    def __init__(self, transform: Callable, name: str, totals: Dict[str, float],
                 now: Callable[[], float]):
        self.transform, self.name, self.totals, self.now = transform, name, totals, now

    def __call__(self, results: dict) -> Optional[dict]:
        start = self.now()
        out = self.transform(results)
        self.totals[self.name] += self.now() - start
        return out


def _pipeline_dataset(cfg, split: str, totals: Dict[str, float], now: Callable[[], float]):
    """The data set of a config's train or val data loader on ``coco_mini``, each
    transform of its pipeline timed on ``now`` into ``totals``."""
    import copy

    from mmpose.registry import DATASETS

    ds_cfg = copy.deepcopy((cfg.train_dataloader if split == 'train'
                            else cfg.val_dataloader).dataset)
    folder = 'train2017' if split == 'train' else 'val2017'
    ds_cfg.update(data_root=str(SAMPLE / 'coco_mini'),
                  ann_file=f'annotations/person_keypoints_{folder}.json',
                  data_prefix=dict(img=f'{folder}/'))
    if split == 'val':
        ds_cfg['bbox_file'] = None  # GT boxes for both: no detection file is bundled
    dataset = DATASETS.build(ds_cfg)
    timed = []
    for transform in dataset.pipeline.transforms:
        name = type(transform).__name__
        totals.setdefault(name, 0.0)
        timed.append(_Timed(transform, name, totals, now))
    dataset.pipeline.transforms = timed
    return dataset


def measure_pipelines(repeats: int, clock: str = 'cpu') -> dict:
    """CPU (or wall) time per sample of the stock and our pipelines, per transform.

    Every repeat runs every sample of ``coco_mini`` train (val) through both variants,
    in alternating order, after seeding ``random`` and numpy alike; the median repeat
    is reported. ``fetch`` is the rest of ``dataset.prepare_data``: reading the sample
    from the serialised data list (and, for ours, attaching its neighbours).

    Returns:
        dict: ``{split: {'stock'|'ours': {...}, 'ratio': float, 'dominant': [...]}}``
    """
    import cv2
    import torch
    from mmengine.config import Config
    from mmengine.hub import get_config

    now = time.process_time if clock == 'cpu' else time.perf_counter
    configs = dict(stock=get_config(STOCK_CONFIG), ours=Config.fromfile(str(OURS_CONFIG)))
    threads = cv2.getNumThreads(), torch.get_num_threads()
    # As in DataLoader workers: OpenCV without threads (mmengine), torch with one
    # (PyTorch); idle torch threads would otherwise spin on the process CPU clock.
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    out: dict = dict(clock=clock, repeats=repeats)
    try:
        for split in ('train', 'val'):
            totals = {v: {} for v in configs}
            with contextlib.redirect_stdout(sys.stderr):  # xtcocotools prints its progress
                datasets = {v: _pipeline_dataset(cfg, split, totals[v], now)
                            for v, cfg in configs.items()}
            per_repeat: Dict[str, List[dict]] = {v: [] for v in configs}
            for r in range(repeats + 1):  # the first pass warms caches and is dropped
                variants = list(configs) if r % 2 == 0 else list(configs)[::-1]
                for variant in variants:
                    dataset = datasets[variant]
                    for key in totals[variant]:
                        totals[variant][key] = 0.0
                    random.seed(r)
                    np.random.seed(r)
                    kept, start = 0, now()
                    for idx in range(len(dataset)):
                        kept += dataset.prepare_data(idx) is not None
                    elapsed = now() - start
                    if r == 0:
                        continue
                    transforms = dict(totals[variant])
                    per_repeat[variant].append(dict(
                        total=elapsed, samples=len(dataset), kept=kept,
                        transforms=transforms, fetch=elapsed - sum(transforms.values())))
            row: dict = {}
            for variant, runs in per_repeat.items():
                samples = runs[0]['samples']
                ms = [run['total'] / samples * 1e3 for run in runs]
                median = sorted(range(len(runs)), key=lambda i: ms[i])[len(runs) // 2]
                run = runs[median]
                row[variant] = dict(
                    dataset=type(datasets[variant]).__name__, samples=samples,
                    kept=run['kept'], ms_per_sample=ms[median], ms_samples=ms,
                    fetch_ms=run['fetch'] / samples * 1e3,
                    transforms_ms={k: v / samples * 1e3 for k, v in run['transforms'].items()})
            row['ratio'] = row['ours']['ms_per_sample'] / row['stock']['ms_per_sample']
            row['dominant'] = _differences(row['stock'], row['ours'])
            out[split] = row
    finally:
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])
    return out


def _differences(stock: dict, ours: dict) -> List[dict]:
    """Where ours spends more (or less) per sample than stock, largest first.

    Transforms of the same role are paired (``ClippedRandomBBoxTransform`` with
    ``RandomBBoxTransform``); one without a counterpart is compared with zero.
    ``share`` is the extra time as a fraction of the stock cost per sample.
    """
    pairs = {'ClippedRandomBBoxTransform': 'RandomBBoxTransform'}
    stages = dict(fetch=(stock['fetch_ms'], ours['fetch_ms']))
    for name, ms in ours['transforms_ms'].items():
        stages[name] = (stock['transforms_ms'].get(pairs.get(name, name), 0.0), ms)
    for name, ms in stock['transforms_ms'].items():
        if name not in stages and name not in pairs.values():
            stages[name] = (ms, 0.0)
    rows = [dict(stage=name, stock_ms=a, ours_ms=b, extra_ms=b - a,
                 share=(b - a) / stock['ms_per_sample'])
            for name, (a, b) in stages.items()]
    return sorted(rows, key=lambda row: -abs(row['extra_ms']))


# ------------------------------------------------------------------------------------
# the table
# ------------------------------------------------------------------------------------


def targets(result: dict, clock: str = 'cpu') -> List[dict]:
    """The load targets (ours / stock <= :data:`LOAD_LIMIT`) with PASS/MISS."""
    load = result.get('load')
    if not load:
        return []
    r = load['ratios']
    time_key = 'cpu_s' if clock == 'cpu' else 'wall_s'
    rows = [('data load time ours / stock (one process)', r[time_key]),
            ('data load peak RSS ours / stock (one process)', r['peak_mib']),
            (f'data total PSS ours / stock ({load["stock"].get("workers", {}).get("workers")} '
             'DataLoader workers)', r.get('workers_pss_total_mib'))]
    return [dict(target=name, measured=value, limit=load['limit'],
                 passed=None if value is None else value <= load['limit'])
            for name, value in rows]


def format_table(result: dict, clock: str = 'cpu', with_targets: bool = True) -> str:
    """The human-readable table of :func:`measure`'s result (or the benchmark's ``data``).

    Args:
        result (dict): What :func:`measure` returned
        clock (str): The clock of the targets, ``'cpu'`` or ``'wall'``
        with_targets (bool): End with the PASS/MISS lines of :func:`targets`
    """
    lines = []
    load = result.get('load')
    if load:
        s, o, r, sc = load['stock'], load['ours'], load['ratios'], load['scaled']
        lines += [
            f'Loading {sc["annotations"]:,} person annotations on {sc["images"]:,} images '
            f'({sc["copies"]:,} copies of {Path(sc["source"]).name}); each class in a fresh '
            f'process, median of {s["runs"]} load(s)',
            f'(stock: {s["cls"]}, ours: {o["cls"]})',
            f'{"":<34} {"stock":>10} {"ours":>10} {"ours/stock":>10}']
        for label, key, spec in (('samples', 'samples', ',d'),
                                 ('load time, wall (s)', 'wall_s', '.1f'),
                                 ('load time, CPU (s)', 'cpu_s', '.1f'),
                                 ('peak RSS (MiB)', 'peak_mib', ',.0f'),
                                 ('  of which the load (MiB)', 'loaded_mib', ',.0f'),
                                 ('RSS once loaded (MiB)', 'after_mib', ',.0f'),
                                 ('serialised data list (MiB)', 'serialised_mib', ',.1f'),
                                 ('neighbour table (MiB)', 'neighbour_table_mib', ',.1f')):
            ratio = r.get(key) if key != 'samples' else _ratio(o['samples'], s['samples'])
            lines.append(f'{label:<34} {fmt(s[key], spec):>10} {fmt(o[key], spec):>10} '
                         f'{fmt(ratio, ".3f"):>10}')
            if key in ('wall_s', 'cpu_s') and len(r[f'{key}_per_repeat']) > 1:
                lines.append(f'{"  ours/stock per repeat":<34} ' + ' '.join(
                    f'{v:.3f}' for v in r[f'{key}_per_repeat']))
        if 'workers' in s:
            sw, ow = s['workers'], o['workers']
            lines.append(f'{sw["workers"]} DataLoader workers (persistent, fork), '
                         f'{sw["batches"]} batches of {sw["batch_size"]}; main process + '
                         'workers:')
            for label, key in (('  total PSS (MiB)', 'pss_total_mib'),
                               ('  total RSS (MiB)', 'rss_total_mib')):
                lines.append(f'{label:<34} {fmt(sw[key], ",.0f"):>10} '
                             f'{fmt(ow[key], ",.0f"):>10} '
                             f'{fmt(r.get("workers_" + key), ".3f"):>10}')
            lines.append(f'{"  wall time of the batches (s)":<34} {sw["wall_s"]:>10.2f} '
                         f'{ow["wall_s"]:>10.2f}')
        rep = load['replicas']
        lines.append(f'Neighbours of all {rep["samples"]:,} samples identical to their '
                     f'original in the unscaled file: {"yes" if rep["identical"] else "NO"} '
                     f'({rep["with_neighbours"]:,} samples with neighbours)')
        lines.append('')
    for split in ('train', 'val'):
        row = result.get('pipeline', {}).get(split)
        if not row:
            continue
        p = result['pipeline']
        s, o = row['stock'], row['ours']
        lines += [f'{split.capitalize()} pipeline on coco_mini {split} ({s["samples"]} samples, '
                  f'real images): {p["clock"]} ms per sample, median of {p["repeats"]} '
                  'repeat(s)',
                  f'   stock ({s["dataset"]}) {s["ms_per_sample"]:.2f}, ours ({o["dataset"]}) '
                  f'{o["ms_per_sample"]:.2f}: ours / stock {row["ratio"]:.3f}',
                  f'   {"stage":<28} {"stock":>8} {"ours":>8} {"extra":>8} {"of stock":>8}']
        for d in row['dominant']:
            lines.append(f'   {d["stage"]:<28} {d["stock_ms"]:>8.3f} {d["ours_ms"]:>8.3f} '
                         f'{d["extra_ms"]:>+8.3f} {fmt(d["share"], "+.1%"):>8}')
        lines.append('')
    for t in targets(result, clock) if with_targets else []:
        mark = 'n/a ' if t['passed'] is None else ('PASS' if t['passed'] else 'MISS')
        lines.append(f'  {mark}  {t["target"]}: {fmt(t["measured"], ".3f")} '
                     f'(target <= {t["limit"]})')
    return '\n'.join(lines).rstrip()


# ------------------------------------------------------------------------------------
# the asked sections
# ------------------------------------------------------------------------------------


def measure(sections: Sequence[str], source: str = 'crowdpose', persons: int = DEFAULT_PERSONS,
            repeats: int = 3, workers: int = 8, worker_batches: int = 4,
            pipeline_repeats: int = 5, clock: str = 'cpu',
            keep: Optional[str] = None) -> dict:
    """Run the asked sections; the result :func:`format_table` prints (no ``meta``)."""
    result: dict = {}
    if 'load' in sections:
        with contextlib.ExitStack() as stack:
            work_dir = Path(keep) if keep else Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix='mipnet_data_cost_')))
            result['load'] = measure_load(source, persons, repeats, workers, worker_batches,
                                          work_dir)
    if 'pipeline' in sections:
        _log(f'data: the train and val pipelines, {pipeline_repeats} repeat(s)')
        result['pipeline'] = measure_pipelines(pipeline_repeats, clock)
    return result
