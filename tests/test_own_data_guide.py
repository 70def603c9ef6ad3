"""docs/own_data.md and docs/any_model.md run as written.

The own-data guide's "Try it on the bundled sample first" commands (convert a stock MMPose
config with --data-root, `mim train`, `mim test`) and its Python snippet run on the bundled
coco_mini sample, as the page shows them; any_model.md's Python snippet runs too.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from tests.conftest import REPO

GUIDE = REPO / 'docs' / 'own_data.md'


def code_blocks(page: Path, language: str, section: str = '') -> list:
    """The ```language blocks of a page (of the section whose heading starts with ``section``)."""
    text = page.read_text()
    if section:
        start = text.index('\n## ' + section)
        end = text.find('\n## ', start + 1)
        text = text[start:end if end > 0 else None]
    return re.findall(rf'```{language}\n(.*?)```', text, flags=re.S)


def shell_commands(block: str) -> list:
    """One command per line, backslash continuations joined; `.venv/bin/` is this venv."""
    joined = re.sub(r'\\\n\s*', '', block)
    bin_dir = str(Path(sys.executable).parent) + '/'
    return [line.strip().replace('.venv/bin/', bin_dir)
            for line in joined.splitlines() if line.strip()]


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A folder that looks like the checkout to the commands (tools/, data/), empty configs/."""
    for name in ('tools', 'data'):
        (tmp_path / name).symlink_to(REPO / name)
    return tmp_path


def run(command: str, cwd: Path) -> str:
    env = dict(os.environ, OMP_NUM_THREADS='2')
    done = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, f'{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}'
    return done.stdout + done.stderr


def test_guide_trains_and_tests_a_converted_stock_config_on_the_sample(checkout):
    block, = code_blocks(GUIDE, 'bash', 'Try it on the bundled sample first')
    convert, check, train, test = shell_commands(block)
    run(convert, checkout)
    assert 'all data files of the given configs are there' in run(check, checkout)
    written = checkout / 'configs' / 'my_mipnet_vipnas.py'
    text = written.read_text()
    # The data set is stated once; the base is the installed stock config by mmpose:: name.
    assert text.count("data_root = 'data/sample/coco_mini/'") == 1
    assert "_base_ = ['mmpose::body_2d_keypoint/" in text
    cfg = Config.fromfile(str(written))
    assert cfg.val_evaluator.ann_file == \
        'data/sample/coco_mini/annotations/person_keypoints_val2017.json'
    assert cfg.test_dataloader.dataset.bbox_file is None
    log = run(train, checkout)
    assert 'loss_kpt_lambda1' in log  # trained on both instance slots
    work_dir = checkout / 'work_dirs' / 'my_mipnet_vipnas'
    # The test command names the best checkpoint by a glob, as the page says: the run kept
    # exactly one, and the glob is what the command line gives.
    best, = work_dir.glob('best_coco_AP_epoch_*.pth')
    assert '--checkpoint work_dirs/my_mipnet_vipnas/best_coco_AP_epoch_*.pth' in test
    assert (work_dir / 'last_checkpoint').read_text().strip().endswith('epoch_1.pth')
    result = run(test, checkout)
    assert best.name in result  # mim test loaded the file the glob found
    ap = float(re.search(r'coco/AP: ([0-9.]+)', result).group(1))
    assert 0.0 <= ap <= 1.0


def test_guide_python_snippet_runs_as_written(checkout):
    snippet, = code_blocks(GUIDE, 'python')
    out = run(f'{sys.executable} -c {shlex.quote(snippet)}', checkout)
    assert 'MultiInstanceCocoDataset data/sample/coco_mini/annotations/' \
        'person_keypoints_val2017.json' in out


def test_any_model_python_snippet_runs_as_written(checkout):
    snippet, = code_blocks(REPO / 'docs' / 'any_model.md', 'python')
    run(f'{sys.executable} -c {shlex.quote(snippet)}', checkout)


def test_written_config_survives_being_copied_elsewhere(tmp_path):
    """A config converted from a stock config outside MMPose names it by absolute path."""
    from mipnet_mmpose.conversion import converted_config_text, resolve_config_path
    stock_path = tmp_path / 'stock' / 'my_stock.py'
    stock_path.parent.mkdir()
    stock_path.write_text(f"_base_ = ['{resolve_config_path('mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_vipnas-mbv3_8xb64-210e_coco-256x192.py')}']\n")  # noqa: E501
    text = converted_config_text(Config.fromfile(str(stock_path)),
                                 data=dict(data_root='somewhere/'))
    assert f"_base_ = ['{stock_path}']" in text
    elsewhere = tmp_path / 'a' / 'b' / 'mine.py'
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_text(text)
    moved = tmp_path / 'c' / 'mine.py'
    moved.parent.mkdir()
    shutil.copy(elsewhere, moved)
    cfg = Config.fromfile(str(moved))
    assert cfg.model.type == 'MultiInstanceTopdownPoseEstimator'
    assert cfg.train_dataloader.dataset.data_root == 'somewhere/'

