"""The authors' N=3 loss and N=4 per-λ optimizer updates, on real sample batches.

The model options come from the N=3/N=4 reproduction configs (N, λ code,
``loss_lambdas``, ``optimizer_step_per_lambda``); they are applied to the sample
config's narrow HRNet so the tests run on CPUs. The batches are real COCO-mini
samples through the sample config's training pipeline.
"""
import copy
import random
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmpose.registry import DATASETS, MODELS

from tests.conftest import REPO, SAMPLE_CONFIG

N3 = REPO / 'configs' / 'mipnet-n3_hrnet-w32_3xb20-110e_coco-256x192.py'
N3_ALL = REPO / 'configs' / 'mipnet-n3_hrnet-w32_3xb20-110e_coco-256x192_all-slots.py'
N4 = REPO / 'configs' / 'mipnet-n4_hrnet-w48_3xb16-110e_coco-384x288.py'
N4_ALL = REPO / 'configs' / 'mipnet-n4_hrnet-w48_3xb16-110e_coco-384x288_all-slots.py'
OPTIONS = ('num_instances', 'lambda_encoding', 'loss_lambdas', 'optimizer_step_per_lambda',
           'forward_per_lambda')


@pytest.fixture(scope='module')
def sample_cfg():
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.train_dataloader.dataset.data_root = str(REPO / 'data' / 'sample')
    return cfg


def _model(sample_cfg, config, seed=0):
    """The sample model with the training options of a reproduction config."""
    built = Config.fromfile(str(config))
    model_cfg = copy.deepcopy(sample_cfg.model)
    for key in OPTIONS:
        if key in built.model:
            model_cfg[key] = built.model[key]
    torch.manual_seed(seed)
    return MODELS.build(model_cfg).train()


def _batch(sample_cfg, num_instances, n_items=4):
    """Real training samples with N instance slots (seeded augmentation)."""
    dataset_cfg = copy.deepcopy(sample_cfg.train_dataloader.dataset)
    dataset_cfg.pipeline = [dict(t, num_instances=num_instances)
                            if t['type'] == 'BuildInstanceSlots' else t
                            for t in dataset_cfg.pipeline]
    dataset = DATASETS.build(dataset_cfg)
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)
    return pseudo_collate([dataset[i] for i in range(n_items)])


def _with_slot_targets_replaced(data, slot, num_instances):
    """The batch with slot ``slot``'s heatmaps and keypoint weights replaced."""
    data = copy.deepcopy(data)
    gen = torch.Generator().manual_seed(7)
    for sample in data['data_samples']:
        heatmaps = sample.gt_fields.heatmaps
        k = heatmaps.shape[0] // num_instances
        heatmaps[slot * k:(slot + 1) * k] = torch.rand(
            heatmaps[slot * k:(slot + 1) * k].shape, generator=gen)
        weights = sample.gt_instance_labels.keypoint_weights
        weights[slot] = 1.0
    return data


def _loss(model, data):
    batch = model.data_preprocessor(data, True)
    with torch.no_grad():
        return model.loss(batch['inputs'], batch['data_samples'])


def test_n3_reproduction_loss_leaves_the_lambda2_slot_out(sample_cfg):
    model = _model(sample_cfg, N3)
    assert model.num_instances == 3 and model.lambda_encoding == 'binary'
    assert model.loss_lambdas == (0, 1) and model.head.loss_lambdas == (0, 1)
    data = _batch(sample_cfg, 3)
    base = _loss(model, data)
    # The λ = 2 targets do not enter the loss ...
    other2 = _loss(model, _with_slot_targets_replaced(data, 2, 3))
    assert torch.equal(other2['loss_kpt'], base['loss_kpt'])
    # ... but they are still logged (the λ = 2 rows are computed)
    assert not torch.equal(other2['lambda2_kpt'], base['lambda2_kpt'])
    # ... and the λ = 1 targets do.
    other1 = _loss(model, _with_slot_targets_replaced(data, 1, 3))
    assert not torch.equal(other1['loss_kpt'], base['loss_kpt'])
    # The loss is the mean over the rows of λ = 0 and 1: the mean of their two losses
    # (each over the same B boxes).
    torch.testing.assert_close(base['loss_kpt'],
                               (base['lambda0_kpt'] + base['lambda1_kpt']) / 2)

    # One λ code per forward (the authors' one λ per GPU): in training, the λ gate's
    # BatchNorm1d normalises a constant and gives its bias, so every λ gives the same
    # prediction; in eval its running statistics tell the λ apart.
    assert model.forward_per_lambda
    wide = copy.deepcopy(model)
    torch.manual_seed(1)
    for name, p in wide.named_parameters():
        if 'mimb' in name:  # widened from std 0.001 so that λ visibly matters
            torch.nn.init.normal_(p, std=0.5)
    batch = wide.data_preprocessor(data, True)

    def spread(feats):
        return max(float((f[0] - feats[0][0]).abs().max()) for f in feats)

    with torch.no_grad():
        train_spread = spread([wide._features_of_lambda(batch['inputs'], i) for i in range(3)])
        wide.eval()
        eval_spread = spread([wide._features_of_lambda(batch['inputs'], i) for i in range(3)])
    assert train_spread < 1e-4 < 1e-2 < eval_spread

    # The all-slots sibling trains λ = 2 as well, all λ in one forward.
    every = _model(sample_cfg, N3_ALL)
    assert every.loss_lambdas is None and every.trained_lambdas == (0, 1, 2)
    assert not every.forward_per_lambda
    assert not torch.equal(_loss(every, _with_slot_targets_replaced(data, 2, 3))['loss_kpt'],
                           _loss(every, data)['loss_kpt'])


@contextmanager
def _counting_steps(optimizer):
    calls = []
    handle = optimizer.register_step_post_hook(lambda opt, args, kwargs: calls.append(1))
    try:
        yield calls
    finally:
        handle.remove()


def test_n4_reproduction_train_step_makes_one_update_per_lambda(sample_cfg):
    model = _model(sample_cfg, N4)
    assert model.num_instances == 4 and model.optimizer_step_per_lambda
    data = _batch(sample_cfg, 4, n_items=3)
    reference = copy.deepcopy(model)
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with _counting_steps(optim.optimizer) as steps:
        log_vars = model.train_step(copy.deepcopy(data), optim)
    assert len(steps) == 4
    # Adam's own counter: four updates of every parameter in one train_step.
    assert {int(s['step']) for s in optim.optimizer.state.values()} == {4}
    assert all(f'lambda{i}_kpt' in log_vars for i in range(4))
    torch.testing.assert_close(log_vars['loss'],
                               sum(log_vars[f'lambda{i}_loss'] for i in range(4)))
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any('mimb' in k for k in changed) and any('head.final_layer' in k for k in changed)

    # The same four updates made by hand, as the authors' loop: per λ, a forward of
    # every box with that λ, the loss of its slot, backward, step.
    adam = torch.optim.Adam(reference.parameters(), lr=1e-3)
    batch = reference.data_preprocessor(copy.deepcopy(data), True)
    for lam in range(4):
        loss = reference.loss(batch['inputs'], batch['data_samples'], train_lambda=lam)
        adam.zero_grad()
        loss['loss_kpt'].backward()
        adam.step()
    ours, theirs = model.state_dict(), reference.state_dict()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], msg=key)


def test_n4_all_slots_sibling_makes_one_update(sample_cfg):
    model = _model(sample_cfg, N4_ALL)
    assert model.num_instances == 4 and not model.optimizer_step_per_lambda
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    with _counting_steps(optim.optimizer) as steps:
        model.train_step(_batch(sample_cfg, 4, n_items=2), optim)
    assert len(steps) == 1


def test_per_lambda_model_refuses_a_single_step_loss(sample_cfg):
    model = _model(sample_cfg, N4)
    batch = model.data_preprocessor(_batch(sample_cfg, 4, n_items=1), True)
    with pytest.raises(RuntimeError, match='MultiInstanceDistributedDataParallel'):
        model.loss(batch['inputs'], batch['data_samples'])
    with pytest.raises(ValueError, match='accumulative_counts=2'):
        model.train_step(_batch(sample_cfg, 4, n_items=1),
                         OptimWrapper(torch.optim.Adam(model.parameters()),
                                      accumulative_counts=2))


@pytest.mark.parametrize('loss_lambdas, message', [
    ((0, 3), r'\[0, 2\]'), ((), 'distinct'), ((1, 1), 'distinct'), ([0.0], 'distinct')])
def test_loss_lambdas_are_checked(sample_cfg, loss_lambdas, message):
    model_cfg = copy.deepcopy(sample_cfg.model)
    model_cfg.update(num_instances=3, lambda_encoding='binary', loss_lambdas=loss_lambdas)
    with pytest.raises(ValueError, match=message):
        MODELS.build(model_cfg)


def test_distributed_wrapper_makes_the_same_per_lambda_updates(sample_cfg, tmp_path):
    """MultiInstanceDistributedDataParallel (the N=4 config's model_wrapper_cfg) makes the
    four updates through the DDP forward; one gloo process, so the result equals the
    estimator's own train_step."""
    import torch.distributed as dist

    from mipnet_mmpose.models.pose_estimators import MultiInstanceDistributedDataParallel
    built = Config.fromfile(str(N4))
    assert built.model_wrapper_cfg.type == 'MultiInstanceDistributedDataParallel'
    data = _batch(sample_cfg, 4, n_items=2)
    model, reference = _model(sample_cfg, N4), _model(sample_cfg, N4)
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "rendezvous"}',
                            rank=0, world_size=1)
    try:
        wrapper = MultiInstanceDistributedDataParallel(module=model)
        optim = OptimWrapper(torch.optim.Adam(wrapper.parameters(), lr=1e-3))
        with _counting_steps(optim.optimizer) as steps:
            log_vars = wrapper.train_step(copy.deepcopy(data), optim)
        assert len(steps) == 4 and all(f'lambda{i}_loss' in log_vars for i in range(4))
    finally:
        dist.destroy_process_group()
    reference.train_step(copy.deepcopy(data),
                         OptimWrapper(torch.optim.Adam(reference.parameters(), lr=1e-3)))
    ours, theirs = model.state_dict(), reference.state_dict()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], msg=key)
