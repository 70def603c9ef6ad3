"""MIPNet on every top-down model family of MMPose's COCO body configs.

    python tools/analysis/conversion_coverage.py [--out docs/conversion_coverage.md]
        [--json coverage.json] [--families CSPNeXt/RTMCCHead/SimCCLabel ...] [--num-instances 2]

Walks MMPose's installed top-down COCO body configs
(``mmpose/.mim/configs/body_2d_keypoint/{topdown_heatmap,rtmpose,simcc,
topdown_regression}/coco/``), groups them into families (backbone, head, codec) and
takes each family's first config by name. For each it points the training data at
the bundled coco_mini sample and the validation data at the OCHuman sample (real
images; each training sample carries its image's other persons), converts the config
with ``mipnet_mmpose.convert_config``, builds the model, runs one training step
through the converted pipeline (a finite loss, and a loss term per λ) and one
prediction (N poses per box with their λ), and writes the table of families:
converted / trained / predicts N poses / refused with the reason.
"""
import argparse
import copy
import glob
import json
import os
import os.path as osp
import re
import sys
import time
import traceback
from collections import OrderedDict
from importlib.util import find_spec
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(REPO, 'data', 'sample')
GROUPS = ('topdown_heatmap', 'rtmpose', 'simcc', 'topdown_regression')
#: Training augmentations whose package this plugin does not install.
OPTIONAL_TRANSFORMS = {'Albumentation': 'albumentations'}


def mmpose_coco_configs() -> List[str]:
    """MMPose's installed top-down COCO body configs, sorted."""
    import mmpose
    root = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs', 'body_2d_keypoint')
    return sorted(p for group in GROUPS for p in glob.glob(osp.join(root, group, 'coco', '*.py')))


def _type(cfg) -> str:
    kind = cfg.get('type', '') if isinstance(cfg, dict) else type(cfg).__name__
    return str(kind)


def family_of(cfg: Config) -> str:
    """``backbone/head/codec`` of a top-down config."""
    codec = cfg.get('codec')
    # Multi-stage models list one codec per stage: the family is the codec type.
    codec_type = '+'.join(sorted({_type(c) for c in codec})) if isinstance(codec, list) \
        else _type(codec)
    return f'{_type(cfg.model.backbone)}/{_type(cfg.model.head)}/{codec_type}'


def _checked_first(path: str) -> tuple:
    """COCO-only configs before mixed-data ones, then the smallest input, then by name."""
    name = osp.basename(path)
    mixed = any(tag in name for tag in ('aic', 'merge', 'combine'))
    size = re.search(r'(\d+)x(\d+)\.py$', name)
    area = int(size.group(1)) * int(size.group(2)) if size else 0
    return mixed, area, name


def families(paths: Sequence[str]) -> Dict[str, List[str]]:
    """Family -> its config files (the one to check first), in the order first met."""
    found: Dict[str, List[str]] = OrderedDict()
    for path in paths:
        found.setdefault(family_of(Config.fromfile(path)), []).append(path)
    return OrderedDict((f, sorted(p, key=_checked_first)) for f, p in found.items())


def stock_on_sample(path: str) -> Config:
    """A stock config whose data are the bundled samples (stock data set types).

    Training: the coco_mini train images with their keypoints; validation: the
    OCHuman sample with GT boxes. Pipelines stay the config's own (a transform of
    :data:`OPTIONAL_TRANSFORMS` whose package is missing is an error: it would
    train with other transforms than the stock config). The backbone's
    pretrained ``init_cfg`` is dropped (nothing is downloaded).
    """
    cfg = Config.fromfile(path)
    root = SAMPLE + '/'
    train_pipeline = cfg.train_dataloader.dataset.pipeline
    for transform in train_pipeline:
        if _missing_package(transform):
            raise ImportError(
                f'{osp.basename(path)}: its {_type(transform)} transform needs '
                f'{OPTIONAL_TRANSFORMS[_type(transform)]}, which is not installed; install '
                'the version pinned in requirements.txt (tools/setup.sh does)')
    cfg.train_dataloader.dataset = dict(
        type='CocoDataset', data_root=root, data_mode='topdown',
        ann_file='coco_mini/annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='coco_mini/train2017/'), pipeline=train_pipeline)
    val = dict(type='OCHumanDataset', data_root=root, data_mode='topdown',
               ann_file='ochuman/test_ochuman.json', data_prefix=dict(img='ochuman/'),
               test_mode=True, pipeline=cfg.val_dataloader.dataset.pipeline)
    cfg.val_dataloader.dataset = val
    cfg.test_dataloader.dataset = copy.deepcopy(val)
    for key in ('val_evaluator', 'test_evaluator'):
        cfg[key] = dict(type='CocoMetric', ann_file=root + 'ochuman/test_ochuman.json')
    cfg.model.backbone.pop('init_cfg', None)
    return cfg


def _missing_package(transform: dict) -> bool:
    package = OPTIONAL_TRANSFORMS.get(_type(transform))
    return package is not None and find_spec(package) is None


def check_family(path: str, num_instances: int = 2, batch: int = 2) -> dict:
    """Convert, build, train one step and predict once; the row of the table."""
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS, MODELS

    from mipnet_mmpose import ConversionError, convert_config

    row = dict(config=osp.basename(path), converted=False, trained=False, predicts=False,
               reason='')
    start = time.perf_counter()
    try:
        try:
            # First as a user converts it (its own data sets: a refusal is reported as
            # such), then pointed at the bundled sample for the training step.
            convert_config(Config.fromfile(path), num_instances=num_instances)
            cfg = convert_config(stock_on_sample(path), num_instances=num_instances)
        except ConversionError as e:
            row['reason'] = f'refused: {e}'
            return row
        row['converted'] = True
        torch.manual_seed(0)
        np.random.seed(0)
        try:
            model = MODELS.build(cfg.model)
        except (ImportError, KeyError) as e:
            scope = _type(cfg.model.backbone).split('.')[0]
            if '.' in _type(cfg.model.backbone) and find_spec(scope) is None:
                row['reason'] = f'needs {scope}, not installed here (pip install {scope})'
            else:
                row['reason'] = f'cannot be built here: {str(e).splitlines()[0][:200]}'
            return row
        row['sites'] = [f'{s.module}:{s.on}' for s in getattr(model.backbone, 'mimb_sites', ())]
        stock_params = sum(p.numel() for n, p in model.named_parameters() if 'mimb' not in n)
        row['mimb_params'] = sum(p.numel() for n, p in model.named_parameters() if 'mimb' in n)
        row['params'] = stock_params
        train = DATASETS.build(cfg.train_dataloader.dataset)
        data = model.data_preprocessor(pseudo_collate([train[i] for i in range(batch)]),
                                       training=True)
        losses = model.train().loss(data['inputs'], data['data_samples'])
        total = sum(v for k, v in losses.items() if k.startswith('loss'))
        terms = [k[len('loss_'):] for k in losses if k.startswith('loss_')]
        per_lambda = all(f'lambda{i}_{t}' in losses for i in range(num_instances) for t in terms)
        row['loss'] = float(total)
        row['trained'] = bool(torch.isfinite(total)) and per_lambda
        if not row['trained']:
            row['reason'] = f'loss {float(total)} / per-λ terms {per_lambda}'
            return row
        total.backward()
        val = DATASETS.build(cfg.val_dataloader.dataset)
        data = model.data_preprocessor(pseudo_collate([val[i] for i in range(batch)]),
                                       training=False)
        with torch.no_grad():
            samples = model.eval().predict(data['inputs'], data['data_samples'])
        row['predicts'] = all(
            s.pred_instances.lambdas.tolist() == list(range(num_instances))
            and s.pred_instances.keypoints.shape[0] == num_instances for s in samples)
    except Exception as e:  # reported in the table: the sweep goes on
        row['reason'] = f'{type(e).__name__}: {str(e).splitlines()[0][:200]}'
        row['traceback'] = traceback.format_exc(limit=4)
    finally:
        row['seconds'] = round(time.perf_counter() - start, 1)
    return row


def format_table(rows: Dict[str, dict], num_instances: int) -> str:
    """Markdown table of the families."""
    yes = {True: 'yes', False: 'no'}
    lines = [
        f'| family (backbone / head / codec) | configs | checked config | converted | '
        f'training step (finite, loss per λ) | predicts {num_instances} poses with λ | '
        f'MIMB sites | MIMB params | note |',
        '|---|---|---|---|---|---|---|---|---|',
    ]
    for family, row in rows.items():
        sites = ', '.join(f'`{s}`' for s in row.get('sites', []))
        extra = f"{row['mimb_params']:,} ({row['mimb_params'] / row['params']:.2%})" \
            if row.get('params') else ''
        note = '; '.join(x for x in (row.get('reason', ''), row.get('note', '')) if x)
        lines.append(
            f"| {family.replace('/', ' / ')} | {row['num_configs']} | `{row['config']}` | "
            f"{yes[row['converted']]} | {yes[row['trained']]} | {yes[row['predicts']]} | "
            f'{sites} | {extra} | {note} |')
    done = sum(r['predicts'] for r in rows.values())
    refused = sum(r['reason'].startswith('refused') for r in rows.values())
    lines.append('')
    lines.append(f'{len(rows)} families: {done} trained and predicting, {refused} refused, '
                 f'{len(rows) - done - refused} other.')
    return '\n'.join(lines)


def write_table(path: str, table: str) -> None:
    """Write ``table`` to ``path``, keeping the page's text above its old table.

    The page (docs/conversion_coverage.md) opens with a hand-written header saying how
    the table was made; regenerating the table must not delete it.
    """
    header = ''
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            old = f.read()
        start = old.find('| family (backbone / head / codec)')
        header = old[:start] if start >= 0 else old.rstrip('\n') + '\n\n'
    with open(path, 'w', encoding='utf-8') as f:
        f.write(header + table + '\n')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--families', nargs='+', help='only these families (as in the table)')
    parser.add_argument('--num-instances', type=int, default=2)
    parser.add_argument('--out', help='write the markdown table to this file')
    parser.add_argument('--json', help='write all rows (with tracebacks) to this JSON file')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, dict]:
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    from mmengine.utils import ProgressBar

    import mipnet_mmpose  # noqa: F401 (registers the plugin)
    args = parse_args(argv)
    init_default_scope('mmpose')
    logger = MMLogger.get_instance('conversion_coverage')
    grouped = families(mmpose_coco_configs())
    if args.families:
        unknown = sorted(set(args.families) - set(grouped))
        if unknown:
            raise SystemExit(f'unknown families {unknown}; known: {list(grouped)}')
        grouped = OrderedDict((f, grouped[f]) for f in args.families)
    rows: Dict[str, dict] = OrderedDict()
    progress = ProgressBar(len(grouped))
    for family, paths in grouped.items():
        row = check_family(paths[0], args.num_instances)
        row['num_configs'] = len(paths)
        rows[family] = row
        progress.update()
        if row.get('traceback'):
            logger.warning(f'{family}: {row["reason"]}')
    table = format_table(rows, args.num_instances)
    print('\n' + table)
    if args.out:
        write_table(args.out, table)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == '__main__':
    main(sys.argv[1:])
