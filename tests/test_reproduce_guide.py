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
