"""A real test run (Runner.test of the sample config, random weights saved as a checkpoint):
the checkpoint is unpickled once; images of the same name in two folders both get a picture,
written once (the visualizer's backends that keep no files receive it too); --show-dir gets
our merged pictures, and is refused where a picture would replace a test image."""
import json
import shutil
from pathlib import Path
from typing import Any, List

import mmcv
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import VISBACKENDS
from mmengine.runner import Runner
from mmengine.visualization import BaseVisBackend
from mmpose.apis import init_model
from mmpose.engine.hooks import PoseVisualizationHook

from mipnet_mmpose.engine import MultiInstanceVisualizationHook
from mipnet_mmpose.utils.output_paths import OutputPathError
from tests.conftest import SAMPLE, SAMPLE_CONFIG

OCHUMAN = SAMPLE / 'ochuman'
#: The OCHuman sample images, two of them renamed x.jpg in two folders.
RENAMED = {'003896.jpg': 'a/x.jpg', '000817.jpg': 'b/x.jpg', '003799.jpg': '003799.jpg'}


def make_data(root: Path) -> Path:
    ann = json.loads((OCHUMAN / 'test_ochuman.json').read_text())
    for image in ann['images']:
        target = root / RENAMED[image['file_name']]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(OCHUMAN / image['file_name'], target)
        image['file_name'] = RENAMED[image['file_name']]
    path = root / 'ann.json'
    path.write_text(json.dumps(ann))
    return path


@VISBACKENDS.register_module(force=True)
class ReceivedImagesBackend(BaseVisBackend):
    """A backend that keeps no files (as TensorBoard or W&B): it lists the images it gets."""

    received: List[tuple] = []

    @property
    def experiment(self) -> Any:
        return self

    def _init_env(self) -> None:
        pass

    def add_image(self, name: str, image, step: int = 0, **kwargs) -> None:
        self.received.append((name, image.shape, step))


def sample_test_config(tmp_path: Path, ann: Path, data_root: Path, show_dir: str) -> Config:
    """The sample config testing on ``ann``'s images, as `mim test --show-dir` sets it."""
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.test_dataloader.dataset.update(data_root=str(data_root), ann_file=str(ann),
                                       data_prefix=dict(img=''))
    cfg.test_evaluator = dict(cfg.test_evaluator, ann_file=str(ann))
    cfg.default_hooks.visualization = dict(type='PoseVisualizationHook', enable=True,
                                           out_dir=show_dir)
    cfg.visualizer = dict(type='PoseLocalVisualizer', name=f'test_run_outputs_{tmp_path.name}',
                          vis_backends=[dict(type='LocalVisBackend'),
                                        dict(type='ReceivedImagesBackend')])
    return cfg


def count_loads_of(monkeypatch, path: Path) -> list:
    """Spy on torch.load (the real function runs): the calls that read ``path``'s tensors.

    The safety check before a run (weights-only, ``mmap=True``) maps the tensors
    without reading them; those calls are not counted.
    """
    real = torch.load
    calls = []

    def spy(f, *args, **kwargs):
        if str(f) == str(path) and not kwargs.get('mmap'):
            calls.append(f)
        return real(f, *args, **kwargs)
    monkeypatch.setattr(torch, 'load', spy)
    return calls


def test_test_run_reads_the_checkpoint_once_and_draws_every_image(tmp_path, monkeypatch):
    ann = make_data(tmp_path / 'data')
    torch.manual_seed(0)
    model = init_model(str(SAMPLE_CONFIG), None, device='cpu')
    ckpt = tmp_path / 'model.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(dataset_meta=model.dataset_meta)),
               ckpt)
    cfg = sample_test_config(tmp_path, ann, tmp_path / 'data', 'show')
    cfg.load_from = str(ckpt)
    ReceivedImagesBackend.received.clear()
    calls = count_loads_of(monkeypatch, ckpt)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert 'coco/AP' in metrics
    assert len(calls) == 1  # strict-fit check and loading share one read of the tensors

    (hook, ) = [h for h in runner.hooks if isinstance(h, MultiInstanceVisualizationHook)]
    assert sorted(hook.last_drawn) == ['003799.jpg', 'a/x.jpg', 'b/x.jpg']
    log_dir = Path(runner.log_dir)
    # --show-dir: the merged pictures of every image there (in place of the hook's
    # own folder), not MMPose's per-box ones.
    assert not (tmp_path / 'work' / 'pose_pictures').exists()
    (stock, ) = [h for h in runner.hooks if isinstance(h, PoseVisualizationHook)]
    assert not stock.enable
    shown = log_dir / 'show'
    assert sorted(str(p.relative_to(shown)) for p in shown.rglob('*.png')) == \
        ['003799.png', 'a/x.png', 'b/x.png']
    # One picture per image on disk: the local backend writes no second copy; a
    # backend that keeps no files receives each picture.
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob('*.png')) == \
        sorted(str(p.relative_to(tmp_path)) for p in shown.rglob('*.png'))
    assert not (log_dir / 'vis_data' / 'vis_image').exists()
    assert sorted((name, step) for name, _, step in ReceivedImagesBackend.received) == \
        [('test_003799', 0), ('test_a__x', 0), ('test_b__x', 0)]
    # The inputs are unchanged.
    for name, renamed in RENAMED.items():
        assert (tmp_path / 'data' / renamed).read_bytes() == (OCHUMAN / name).read_bytes()


def test_show_dir_over_a_png_data_set_is_refused_before_the_run(tmp_path):
    """`mim test --show-dir <the images' folder>` on PNG images: each picture would be
    <stem>.png, the test image itself; refused before the model runs, images unchanged."""
    images = tmp_path / 'images'
    images.mkdir()
    ann = json.loads((OCHUMAN / 'test_ochuman.json').read_text())
    for image in ann['images']:
        png = Path(image['file_name']).with_suffix('.png').name
        mmcv.imwrite(mmcv.imread(str(OCHUMAN / image['file_name'])), str(images / png))
        image['file_name'] = png
    (tmp_path / 'ann.json').write_text(json.dumps(ann))
    before = {p.name: p.read_bytes() for p in images.iterdir()}
    cfg = sample_test_config(tmp_path, tmp_path / 'ann.json', images, str(images))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(OutputPathError, match=rf'the picture {images}/\d+\.png is the image of '
                       rf'the run {images}/\d+\.png: writing it would destroy the input'):
        runner.test()
    assert {p.name: p.read_bytes() for p in images.iterdir()} == before
    (hook, ) = [h for h in runner.hooks if isinstance(h, MultiInstanceVisualizationHook)]
    assert hook.last_drawn == {}  # refused before any image ran
