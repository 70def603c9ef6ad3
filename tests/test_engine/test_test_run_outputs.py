"""A real test run (Runner.test of the sample config, random weights saved as a checkpoint):
the checkpoint is unpickled once; images of the same name in two folders both get a picture;
the pictures reach the visualizer's backends; --show-dir gets our merged pictures."""
import json
import shutil
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpose.apis import init_model
from mmpose.engine.hooks import PoseVisualizationHook

from mipnet_mmpose.engine import MultiInstanceVisualizationHook
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


def count_loads_of(monkeypatch, path: Path) -> list:
    """Spy on torch.load (the real function runs): the calls that read ``path``."""
    real = torch.load
    calls = []

    def spy(f, *args, **kwargs):
        if str(f) == str(path):
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
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = str(ckpt)
    cfg.test_dataloader.dataset.update(data_root=str(tmp_path / 'data'), ann_file=str(ann),
                                       data_prefix=dict(img=''))
    cfg.test_evaluator = dict(cfg.test_evaluator, ann_file=str(ann))
    # As `mim test --show-dir show` sets MMPose's hook.
    cfg.default_hooks.visualization = dict(type='PoseVisualizationHook', enable=True,
                                           out_dir='show')
    cfg.visualizer = dict(type='PoseLocalVisualizer', name='test_run_outputs',
                          vis_backends=[dict(type='LocalVisBackend')])
    calls = count_loads_of(monkeypatch, ckpt)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    assert 'coco/AP' in metrics
    assert len(calls) == 1  # strict-fit check and loading share one read

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
    # The visualizer's backends got them too (here the local one).
    backend = sorted(p.name for p in (log_dir / 'vis_data' / 'vis_image').glob('*.png'))
    assert backend == ['test_003799_0.png', 'test_a__x_0.png', 'test_b__x_0.png']
    # The inputs are unchanged.
    for name, renamed in RENAMED.items():
        assert (tmp_path / 'data' / renamed).read_bytes() == (OCHUMAN / name).read_bytes()
