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
    assert not torch.equal(other2['loss_kpt_lambda2'], base['loss_kpt_lambda2'])
    # ... and the λ = 1 targets do.
    other1 = _loss(model, _with_slot_targets_replaced(data, 1, 3))
    assert not torch.equal(other1['loss_kpt'], base['loss_kpt'])
    # The loss is the mean over the rows of λ = 0 and 1: the mean of their two losses
    # (each over the same B boxes).
    torch.testing.assert_close(base['loss_kpt'],
                               (base['loss_kpt_lambda0'] + base['loss_kpt_lambda1']) / 2)

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


def _buffers(model):
    return {name: buf.clone() for name, buf in model.named_buffers()}


def _step_with_every_pass_updating(model, data):
    """One N=3 step made by hand, every λ pass updating the buffers (as the
    estimator did before only λ=0 did): its losses, logged values and update."""
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    per_lambda = [model._features_of_lambda(batch['inputs'], i) for i in range(3)]
    feats = tuple(torch.stack(parts, dim=1).flatten(0, 1) for parts in zip(*per_lambda))
    losses = model.head.loss(feats, batch['data_samples'], train_cfg=model.train_cfg)
    parsed, log_vars = model.parse_losses(losses)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    adam.zero_grad()
    parsed.backward()
    adam.step()
    return log_vars


def test_n3_step_updates_batch_norm_as_the_lambda0_pass_alone(sample_cfg):
    """The authors' N=3 ran under DataParallel with one λ per GPU, and DataParallel
    keeps only the device-0 replica's buffers: every batch-norm statistic of a step
    comes from the λ=0 rows. The N=3 model's step leaves every buffer exactly as one
    λ=0 pass does; λ=1 and 2 still normalise with their batch statistics, so the
    losses, the logged values and the update are those of three ordinary passes."""
    model = _model(sample_cfg, N3)
    data = _batch(sample_cfg, 3)
    lambda0_only, every_pass = copy.deepcopy(model), copy.deepcopy(model)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    # The trunk's and the λ gates' BatchNorm1d.
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in norms) and len(norms) > 20
    before = _buffers(model)
    log_vars = model.train_step(copy.deepcopy(data),
                                OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3)))
    after = _buffers(model)

    batch = lambda0_only.data_preprocessor(copy.deepcopy(data), True)
    with torch.no_grad():
        lambda0_only._features_of_lambda(batch['inputs'], 0)
    expected = _buffers(lambda0_only)
    assert after.keys() == expected.keys()
    for key in after:
        assert torch.equal(after[key], expected[key]), key
    counters = [k for k in after if k.endswith('num_batches_tracked')]
    assert len(counters) == len(norms)
    assert all(int(after[k]) == int(before[k]) + 1 for k in counters)
    assert all(not torch.equal(after[k], before[k]) for k in after if k.endswith('running_var'))

    # The same step with every pass updating: the same losses, logs and weights ...
    reference_vars = _step_with_every_pass_updating(every_pass, data)
    assert {f'loss_kpt_lambda{i}' for i in range(3)} <= log_vars.keys()
    assert log_vars.keys() == reference_vars.keys()
    for key in log_vars:
        torch.testing.assert_close(log_vars[key], reference_vars[key], msg=key)
    ours, theirs = dict(model.named_parameters()), dict(every_pass.named_parameters())
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], msg=key)
    # ... but three updates of the statistics (momentum 1 - 0.9^3 = 0.271 a step).
    mixed = _buffers(every_pass)
    assert all(int(mixed[k]) == int(before[k]) + 3 for k in counters)
    assert all(not torch.equal(mixed[k], after[k]) for k in after if k.endswith('running_mean'))


def test_n3_step_under_distributed_training_keeps_the_lambda0_statistics(sample_cfg, tmp_path):
    """The same through mmengine's distributed wrapper (the N=3 config's default; one
    gloo process): the buffers are those of one λ=0 pass."""
    import torch.distributed as dist
    from mmengine.model import MMDistributedDataParallel

    assert 'model_wrapper_cfg' not in Config.fromfile(str(N3))
    model = _model(sample_cfg, N3)
    lambda0_only = copy.deepcopy(model)
    data = _batch(sample_cfg, 3, n_items=2)
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "rendezvous"}',
                            rank=0, world_size=1)
    try:
        wrapper = MMDistributedDataParallel(module=model)
        log_vars = wrapper.train_step(
            copy.deepcopy(data), OptimWrapper(torch.optim.Adam(wrapper.parameters(), lr=1e-3)))
    finally:
        dist.destroy_process_group()
    assert {f'loss_kpt_lambda{i}' for i in range(3)} <= log_vars.keys()
    batch = lambda0_only.data_preprocessor(copy.deepcopy(data), True)
    with torch.no_grad():
        lambda0_only._features_of_lambda(batch['inputs'], 0)
    ours, expected = _buffers(model), _buffers(lambda0_only)
    for key in ours:
        assert torch.equal(ours[key], expected[key]), key


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
    assert all(f'loss_kpt_lambda{i}' in log_vars for i in range(4))
    torch.testing.assert_close(log_vars['loss'],
                               sum(log_vars[f'loss_lambda{i}'] for i in range(4)))
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
        assert len(steps) == 4 and all(f'loss_lambda{i}' in log_vars for i in range(4))
    finally:
        dist.destroy_process_group()
    reference.train_step(copy.deepcopy(data),
                         OptimWrapper(torch.optim.Adam(reference.parameters(), lr=1e-3)))
    ours, theirs = model.state_dict(), reference.state_dict()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], msg=key)
