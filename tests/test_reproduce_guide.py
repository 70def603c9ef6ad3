"""docs/reproduce.md's settings table is what the reproduction configs build to.

Each row of the table names a config, a key of the built config and our value; the
test builds the config with mmengine (MMPose's ``mmpose::`` bases included) and
compares values, not file text, so a config that drifts from the guide fails here.
"""
import ast
import re
from functools import lru_cache
from typing import Any, List, Tuple

import pytest
from mmengine.config import Config

from tests.conftest import REPO, reproduction_configs

GUIDE = REPO / 'docs' / 'reproduce.md'
_START, _END = '<!-- settings-table', '<!-- end settings-table -->'
_MISSING = object()


def _rows() -> List[Tuple[str, str, str, str]]:
    """(setting, config file, key, our value as Python source) of every table row."""
    text = GUIDE.read_text(encoding='utf-8')
    table = text[text.index(_START):text.index(_END)]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) != 6 or not cells[1].startswith('`'):
            continue
        setting, config, key, ours = cells[:4]
        rows.append((setting, config.strip('`'), key.strip('`'), ours.strip('`')))
    return rows


@lru_cache(maxsize=None)
def _built(config: str) -> Config:
    return Config.fromfile(str(REPO / 'configs' / config))


def _lookup(cfg: Any, key: str) -> Any:
    """Follow ``a.b[type=X].c[0]`` through a built config; ``_MISSING`` when absent."""
    value = cfg
    for name, selector in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)?(\[[^\]]+\])?\.?', key):
        if not name and not selector:
            continue
        if name:
            value = value.get(name, _MISSING) if hasattr(value, 'get') else _MISSING
            if value is _MISSING:
                return _MISSING
        if selector:
            inner = selector[1:-1]
            if inner.startswith('type='):
                matches = [t for t in value if t.get('type') == inner[len('type='):]]
                if not matches:
                    return _MISSING
                assert len(matches) == 1, f'{key}: {len(matches)} entries of that type'
                value = matches[0]
            else:
                value = value[int(inner)]
    return value


def _plain(value: Any) -> Any:
    """Config values as plain Python (ConfigDict -> dict, lists stay lists)."""
    if hasattr(value, 'to_dict'):
        return value.to_dict()
    return value


ROWS = _rows()


def test_table_covers_every_reproduction_config():
    configs = {row[1] for row in ROWS}
    shipped = {p.name for p in reproduction_configs()}
    assert len(ROWS) > 60
    assert shipped == configs, f'configs without a row: {sorted(shipped - configs)}; ' \
        f'rows for missing configs: {sorted(configs - shipped)}'


@pytest.mark.parametrize('setting,config,key,ours', ROWS,
                         ids=[f'{r[1][:-3]}:{r[2]}' for r in ROWS])
def test_row_matches_built_config(setting, config, key, ours):
    expected = ast.literal_eval(ours)
    value = _lookup(_built(config), key)
    if expected is None:
        assert value is _MISSING or value is None, f'{setting}: {key} is {value!r}'
        return
    assert value is not _MISSING, f'{setting}: {config} has no {key}'
    value = _plain(value)
    if isinstance(expected, (tuple, list)):
        assert list(value) == list(expected), f'{setting}: {key} is {value!r}'
    else:
        assert value == expected and type(value) is type(expected) or (
            isinstance(expected, float) and value == expected), \
            f'{setting}: {key} is {value!r}, the guide says {expected!r}'


def test_table_states_the_authors_training_options():
    """The options that make the N=3/N=4 configs train as the authors', their neighbour
    rule and the CrowdPose detector-box NMS each have a row (checked above)."""
    keys = {(row[1], row[2]) for row in ROWS}
    n3, n4 = ('mipnet-n3_hrnet-w32_3xb20-110e_coco-256x192',
              'mipnet-n4_hrnet-w48_3xb16-110e_coco-384x288')
    for config, key in [
            (f'{n3}.py', 'model.loss_lambdas'), (f'{n3}.py', 'model.forward_per_lambda'),
            (f'{n3}.py', 'train_dataloader.drop_last'), (f'{n4}.py', 'train_dataloader.drop_last'),
            (f'{n3}_all-slots.py', 'model.loss_lambdas'),
            (f'{n4}.py', 'model.optimizer_step_per_lambda'),
            (f'{n4}.py', 'model_wrapper_cfg.type'),
            (f'{n4}_all-slots.py', 'model.optimizer_step_per_lambda'),
            ('mipnet_hrnet-w32_3xb32-210e_crowdpose-256x192_trainval-test.py',
             'test_evaluator.nms_mode'),
            ('mipnet_hrnet-w32_3xb32-110e_coco-256x192.py', 'load_from')]:
        assert (config, key) in keys, (config, key)
    selections = {row[1] for row in ROWS if row[2].endswith('[type=BuildInstanceSlots].selection')}
    assert {'mipnet_hrnet-w32_3xb32-110e_coco-256x192.py',
            'mipnet_res50_4xb32-140e_coco-256x192.py',
            'mipnet_hrnet-w32_3xb32-210e_crowdpose-256x192.py'} <= selections


# ----------------------------------------------------------------------------------------
# Iterations per epoch.
# ----------------------------------------------------------------------------------------
_ITER_START, _ITER_END = '<!-- iterations-table', '<!-- end iterations-table -->'
#: COCO train2017's person boxes that MMPose's CocoDataset keeps (and the authors' loader;
#: HRNet's loader logs "=> load 149813 samples"); COCO itself is not bundled.
COCO_TRAIN_BOXES = 149_813
COCO_TRAIN_FILE = 'annotations/person_keypoints_train2017.json'
#: The authors' training loaders: batches of GPUs x boxes in one process (DataParallel);
#: drop_last=True in the N=3 and N=4 scripts (tools/lambda_general/train_lambda_real_012.py
#: and train_lambda_real_0123.py line 200), not set in the N=2 one
#: (tools/lambda/train_lambda_real.py lines 187-193).
AUTHORS_DROP_LAST = {'mipnet-n3_': True, 'mipnet-n4_': True}


def _iteration_rows() -> List[Tuple[str, int, int, bool, int]]:
    """(config, GPUs, boxes per GPU, last batch dropped, iterations) of the iterations table."""
    text = GUIDE.read_text(encoding='utf-8')
    rows = []
    for line in text[text.index(_ITER_START):text.index(_ITER_END)].splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) != 4 or not cells[0].startswith('`'):
            continue
        gpus, boxes = (int(x) for x in cells[1].split('×'))
        assert cells[2] in ('kept', 'dropped'), cells
        rows.append((cells[0].strip('`'), gpus, boxes, cells[2] == 'dropped',
                     int(cells[3].replace(',', ''))))
    return rows


def _batches(samples: int, batch_size: int, drop_last: bool) -> int:
    """What torch's DataLoader counts for ``samples`` items."""
    from torch.utils.data import DataLoader
    return len(DataLoader(range(samples), batch_size=batch_size, drop_last=drop_last))


def test_iterations_table_covers_every_coco_trained_config():
    listed = {row[0] for row in _iteration_rows()}
    coco_trained = {p.name for p in reproduction_configs()
                    if _built(p.name).train_dataloader.dataset.ann_file == COCO_TRAIN_FILE}
    assert len(coco_trained) > 10 and listed == coco_trained


@pytest.mark.parametrize('config,gpus,boxes,dropped,iterations', _iteration_rows(),
                         ids=[row[0][:-3] for row in _iteration_rows()])
def test_iterations_per_epoch_equal_the_authors(config, gpus, boxes, dropped, iterations):
    """Ours: mmengine's DefaultSampler (round_up) gives each of the G GPUs ceil(n / G) boxes,
    batched by the config's batch size and drop_last. Theirs: one loader of G x b boxes a
    batch over all n, with their drop_last."""
    cfg = _built(config)
    loader = cfg.train_dataloader
    assert loader.dataset.ann_file == COCO_TRAIN_FILE
    assert loader.sampler.type == 'DefaultSampler' and loader.sampler.get('round_up', True)
    assert loader.batch_size == boxes and cfg.auto_scale_lr.base_batch_size == gpus * boxes
    drop_last = loader.get('drop_last', False)
    assert drop_last == dropped
    ours = _batches(-(-COCO_TRAIN_BOXES // gpus), boxes, drop_last)
    authors_drop_last = next((v for k, v in AUTHORS_DROP_LAST.items()
                              if config.startswith(k)), False)
    theirs = _batches(COCO_TRAIN_BOXES, gpus * boxes, authors_drop_last)
    assert ours == theirs == iterations
