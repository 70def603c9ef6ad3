"""Every shipped config loads with MMPose's base configs and builds its model and pipelines."""
import re
from importlib.util import find_spec

import pytest
from mmengine.config import Config
from mmpose.registry import MODELS, TRANSFORMS

from tests.conftest import REPO, reproduction_configs

CONFIGS = sorted((REPO / 'configs').glob('*.py'))
REPRODUCTION = set(reproduction_configs())
#: The name users are told to run, and what MMPose's naming scheme would call it.
MAIN_CONFIG = 'mipnet_hrnet_w32_ochuman'
MAIN_CONFIG_MMPOSE_NAME = 'mipnet_hrnet-w32_3xb32-110e_ochuman-256x192'


def _unscoped(cfg: dict) -> dict:
    """A config dict without the ``_scope_`` key mmengine adds to some entries."""
    return {k: v for k, v in cfg.items() if k != '_scope_'}


def test_required_configs_exist():
    names = {p.name for p in CONFIGS}
    assert f'{MAIN_CONFIG}.py' in names
    main_header = (REPO / 'configs' / f'{MAIN_CONFIG}.py').read_text().split('_base_')[0]
    assert MAIN_CONFIG_MMPOSE_NAME in main_header.replace('\n# ', '')
    for expected in ('hrnet-w32_3xb32-110e_coco-256x192', 'hrnet-w48_4xb10-110e_coco-384x288',
                     'hrnet-w32_3xb32-210e_crowdpose-256x192',
                     'hrnet-w48_3xb10-210e_crowdpose-384x288', 'res50_4xb32-140e_coco-256x192',
                     'res101_4xb32-140e_coco-256x192', 'hrnet-w48_4xb10-110e_ochuman-384x288'):
        assert f'mipnet_{expected}.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.stem)
def test_config_builds(path):
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports.imports == ['mipnet_mmpose']
    assert cfg.model.type == 'MultiInstanceTopdownPoseEstimator'
    # N has one owner in the model (the estimator) and one in the pipeline, both
    # read from the file's num_instances variable; nothing else states it.
    n = cfg.model.num_instances
    assert n == cfg.num_instances
    for part in (cfg.model.backbone, cfg.model.head, cfg.model.get('test_cfg', {})):
        assert 'num_instances' not in part
    slots = [t for t in cfg.train_pipeline if t['type'] == 'BuildInstanceSlots']
    targets = [t for t in cfg.train_pipeline if t['type'] == 'GenerateTarget']
    assert slots[0]['num_instances'] == n
    assert targets[0]['encoder']['type'] == 'MultiInstanceCodec'
    assert 'num_instances' not in targets[0]['encoder']
    # The test-time hook is addressed by name, and is the only one.
    assert cfg.default_hooks.multi_instance_test.type == 'MultiInstanceTestHook'
    assert not [h for h in cfg.get('custom_hooks', []) if h['type'] == 'MultiInstanceTestHook']
    # Checkpoint safety is the config's, not an import effect: atomic writes, and a
    # broken checkpoint to load is an error naming it.
    assert cfg.default_hooks.checkpoint.backend_args == dict(backend='atomic_local')
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'WorkDirLockHook' in hooks and 'CheckpointFileCheckHook' in hooks
    # Slots come right after the stock affine warp.
    types = [t['type'] for t in cfg.train_pipeline]
    assert types.index('BuildInstanceSlots') == types.index('TopdownAffine') + 1
    affine = [t for t in cfg.val_dataloader.dataset.pipeline if t['type'] == 'TopdownAffine'][0]
    assert tuple(affine['input_size']) == tuple(cfg.codec['input_size'])
    train_affine = [t for t in cfg.train_pipeline if t['type'] == 'TopdownAffine'][0]
    assert tuple(train_affine['input_size']) == tuple(cfg.codec['input_size'])
    codecs = [targets[0]['encoder']['encoder'], cfg.codec, cfg.model.head.decoder]
    assert all(_unscoped(c) == _unscoped(cfg.codec) for c in codecs)
    assert cfg.train_dataloader.dataset.pipeline == cfg.train_pipeline
    assert cfg.train_dataloader.dataset.type.startswith('MultiInstance')
    assert cfg.test_dataloader.dataset.type.startswith('MultiInstance')
    # COCO-style AP: every (box, λ) pose merged (COCO-WholeBody: its whole-body counterpart).
    assert cfg.val_evaluator.type in ('MultiInstanceCocoMetric', 'MultiInstanceCocoWholeBodyMetric')
    if path in REPRODUCTION:
        # The MIPNet runtime block comes from its one owner, configs/_base_/mipnet_runtime.py.
        runtime = Config.fromfile(str(REPO / 'configs' / '_base_' / 'mipnet_runtime.py'))
        assert cfg.custom_hooks == runtime.mipnet_custom_hooks
        for name, hook in runtime.mipnet_default_hooks.items():
            assert {k: cfg.default_hooks[name][k] for k in hook} == hook
        # One start: a COCO pose checkpoint (load_from, the backbone's own init off) or
        # ImageNet weights through the backbone's init_cfg (load_from unset), never both.
        if cfg.load_from is None:
            assert cfg.model.backbone.init_cfg.type == 'Pretrained'
        else:
            assert cfg.model.backbone.init_cfg is None
            assert cfg.load_from.startswith('checkpoints/')
        # The config name states the authors' GPUs x boxes per GPU and the epochs (the
        # project's main config, mipnet_hrnet_w32_ochuman*, says so in its header).
        name = path.name.replace(MAIN_CONFIG, MAIN_CONFIG_MMPOSE_NAME)
        gpus, boxes, epochs = map(int, re.search(r'_(\d+)xb(\d+)-(\d+)e_', name).groups())
        assert cfg.train_dataloader.batch_size == boxes
        assert cfg.auto_scale_lr.base_batch_size == gpus * boxes
        assert cfg.train_cfg.max_epochs == epochs == cfg.param_scheduler[-1].end
        assert cfg.optim_wrapper.optimizer.type == 'Adam' and cfg.optim_wrapper.optimizer.lr == 1e-3
    if 'crowdpose' in path.name and path in REPRODUCTION:
        assert cfg.model.head.out_channels == 14
        assert cfg.val_evaluator.iou_type == 'keypoints_crowd'
        if path.stem.endswith('_trainval-test'):
            # MMPose's CrowdPose protocol: detector boxes and its OKS-NMS.
            assert cfg.val_evaluator.nms_mode == 'oks_nms'
            assert cfg.val_evaluator.nms_thr == 0.9
            assert cfg.test_dataloader.dataset.bbox_file is not None
        else:
            # The authors' protocol: GT boxes, every pose submitted.
            assert cfg.val_evaluator.nms_mode == 'none'
            assert cfg.test_dataloader.dataset.bbox_file is None
        # Every CrowdPose config starts from ImageNet, as the authors.
        assert cfg.load_from is None
    if path in REPRODUCTION:
        # The other persons of a box are chosen with the authors' rule (nearest,
        # replaced by the own person with <= 3 keypoints in the crop), in the
        # pipeline the data loader runs; only the *_paper-selection config uses the paper's.
        slots = [t for t in cfg.train_dataloader.dataset.pipeline
                 if t['type'] == 'BuildInstanceSlots'][0]
        rule = ('paper', 3) if path.stem.endswith('_paper-selection') else ('authors', 4)
        assert (slots['selection'], slots['min_keypoints']) == rule
    if 'ochuman' in path.name:
        # Trained and validated on COCO; OCHuman is a test set only.
        assert cfg.train_dataloader.dataset.type == 'MultiInstanceCocoDataset'
        assert cfg.val_dataloader.dataset.type == 'MultiInstanceCocoDataset'
        assert cfg.val_evaluator.ann_file.endswith('person_keypoints_val2017.json')
        assert cfg.default_hooks.checkpoint.save_best == 'coco/AP'
        test_ann = cfg.test_dataloader.dataset.ann_file
        assert cfg.test_dataloader.dataset.type == 'MultiInstanceOCHumanDataset'
        assert cfg.test_evaluator.ann_file == cfg.test_dataloader.dataset.data_root + test_ann
        split = 'test' if '_test' in path.name else 'val'
        assert f'ochuman_coco_format_{split}_' in test_ann
        bbox_file = cfg.test_dataloader.dataset.get('bbox_file')
        assert (bbox_file is not None) == path.stem.endswith('-det')
        if bbox_file is not None:
            assert f'OCHuman_{split}2017_detections' in bbox_file
    if 'w48' in path.name:
        assert cfg.model.backbone.extra.stage4.num_channels == (48, 96, 192, 384)
        assert tuple(cfg.codec['input_size']) == (288, 384)
    MODELS.build(cfg.model)
    for transform in cfg.train_pipeline:
        if transform['type'] == 'Albumentation' and find_spec('albumentations') is None:
            continue  # RTMPose's augmentation: an optional package, not ours to install
        TRANSFORMS.build(transform)

