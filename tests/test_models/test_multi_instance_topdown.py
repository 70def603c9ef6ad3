"""The estimator and head on real sample batches (OCHuman sample, val pipeline)."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpose.registry import DATASETS, MODELS

from tests.conftest import REPO, stock_model_cfg

SAMPLE_CONFIG = REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-mini-128x96.py'


@pytest.fixture(scope='module')
def cfg():
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.val_dataloader.dataset.data_root = str(REPO / 'data' / 'sample')
    cfg.train_dataloader.dataset.data_root = str(REPO / 'data' / 'sample')
    return cfg


def _batch(dataset_cfg, model, n_items=None):
    dataset = DATASETS.build(dataset_cfg)
    items = [dataset[i] for i in range(n_items or len(dataset))]
    return model.data_preprocessor(pseudo_collate(items), training=False)


def _build(model_cfg, num_instances):
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.num_instances = num_instances
    torch.manual_seed(0)
    return MODELS.build(model_cfg)


def test_prediction_holds_n_poses_per_box_with_lambdas_and_decayed_scores(cfg):
    model = _build(cfg.model, 2).eval()
    batch = _batch(cfg.val_dataloader.dataset, model)
    with torch.no_grad():
        samples = model.predict(batch['inputs'], batch['data_samples'])
    assert len(samples) == 5  # the OCHuman sample's 5 persons
    for sample in samples:
        pred = sample.pred_instances
        assert pred.keypoints.shape == (2, 17, 2)
        assert pred.keypoint_scores.shape == (2, 17)
        assert pred.lambdas.tolist() == [0, 1]
        box_score = float(sample.gt_instances.bbox_scores[0])
        np.testing.assert_allclose(pred.bbox_scores, [box_score, 0.5 * box_score])
        np.testing.assert_allclose(pred.bboxes, np.repeat(sample.gt_instances.bboxes, 2, 0))
        # Keypoints are in image space, inside the box's crop (MMPose's decoder
        # puts a keypoint whose heatmap maximum is <= 0 at -1: skip those).
        center, scale = sample.metainfo['input_center'], sample.metainfo['input_scale']
        found = pred.keypoint_scores > 0
        assert found.any()
        assert (np.abs(pred.keypoints[found] - center) <= scale / 2 + 1e-3).all()
        # The ground truth box of the sample is left as it was.
        assert len(sample.gt_instances) == 1


def test_test_time_n_chooses_fewer_instances_and_rejects_more(cfg):
    model = _build(cfg.model, 2).eval()
    batch = _batch(cfg.val_dataloader.dataset, model, 2)
    model.set_test_time(num_instances=1)
    with torch.no_grad():
        samples = model.predict(batch['inputs'], batch['data_samples'])
    assert [len(s.pred_instances) for s in samples] == [1, 1]
    with pytest.raises(ValueError, match='test-time num_instances=3'):
        model.set_test_time(num_instances=3)
    assert model.test_num_instances == 1  # a refused value changes nothing


def test_shared_trunk_prediction_equals_per_lambda_runs(cfg):
    """Each λ's pose equals what a forward with that λ alone gives."""
    model = _build(cfg.model, 2).eval()
    for name, p in model.backbone.named_parameters():
        if 'mimb' in name:
            torch.nn.init.normal_(p, std=0.5)
    model.test_cfg['flip_test'] = False
    batch = _batch(cfg.val_dataloader.dataset, model, 3)
    inputs = batch['inputs']
    with torch.no_grad():
        samples = model.predict(inputs, copy.deepcopy(batch['data_samples']))
        for lam in range(2):
            feats = model.backbone(inputs, lambdas=torch.full((3, ), lam))
            rows = model.head.decode(model.head.forward(feats))
            for sample, row in zip(samples, rows):
                np.testing.assert_allclose(sample.pred_instances.keypoint_scores[lam],
                                           row.keypoint_scores[0], rtol=1e-4, atol=1e-6)
        # λ matters: the two instances of a box differ.
        assert not np.allclose(samples[0].pred_instances.keypoint_scores[0],
                               samples[0].pred_instances.keypoint_scores[1])


def test_num_instances_one_equals_stock_topdown_estimator(cfg):
    ours = _build(cfg.model, 1).eval()
    stock = MODELS.build(stock_model_cfg(cfg.model)).eval()
    assert list(ours.state_dict()) == list(stock.state_dict())
    stock.load_state_dict(ours.state_dict())
    batch = _batch(cfg.val_dataloader.dataset, ours)
    with torch.no_grad():
        a = ours.predict(batch['inputs'], copy.deepcopy(batch['data_samples']))
        b = stock.predict(batch['inputs'], copy.deepcopy(batch['data_samples']))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.pred_instances.keypoints, y.pred_instances.keypoints)
        np.testing.assert_array_equal(x.pred_instances.keypoint_scores,
                                      y.pred_instances.keypoint_scores)
        np.testing.assert_array_equal(x.pred_instances.bbox_scores, y.pred_instances.bbox_scores)
        assert x.pred_instances.lambdas.tolist() == [0]


def test_training_step_gives_loss_for_every_lambda(cfg):
    model = _build(cfg.model, 2).train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(4)]),
                                    training=True)
    losses = model.loss(batch['inputs'], batch['data_samples'])
    assert set(losses) == {'loss_kpt', 'acc_pose', 'loss_kpt_lambda0', 'loss_kpt_lambda1',
                           'acc_pose_lambda0', 'acc_pose_lambda1'}
    # Equal-size λ groups: the all-N loss is the mean of the per-λ losses.
    torch.testing.assert_close(losses['loss_kpt'].detach(),
                               (losses['loss_kpt_lambda0'] + losses['loss_kpt_lambda1']) / 2)
    # The per-λ entries are logged (averaged as mmengine averages the losses), not summed
    # into the total.
    total, log_vars = model.parse_losses(losses)
    torch.testing.assert_close(total, losses['loss_kpt'])
    assert list(log_vars) == ['loss', 'loss_kpt', 'acc_pose', 'loss_kpt_lambda0',
                              'acc_pose_lambda0', 'loss_kpt_lambda1', 'acc_pose_lambda1']
    losses['loss_kpt'].backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None for g in grads.values()), \
        [n for n, g in grads.items() if g is None]  # DDP needs every parameter used


def test_head_rejects_mismatched_targets(cfg):
    model = _build(cfg.model, 2).train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(2)]),
                                    training=True)
    model.head.num_instances = 3
    with pytest.raises(ValueError, match='must name the same N'):
        model.head.loss(model.extract_feat(batch['inputs'], 2), batch['data_samples'])


@pytest.mark.parametrize('part', ['backbone', 'head'])
def test_n_outside_the_estimator_is_an_error(cfg, part):
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg[part].num_instances = 2
    with pytest.raises(ValueError, match=f'model.{part}.num_instances is set'):
        MODELS.build(model_cfg)


def test_short_training_lowers_the_loss_of_every_lambda(cfg):
    """A few Adam steps on a fixed batch of real sample crops lower every λ's loss."""
    model = _build(cfg.model, 2).train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    torch.manual_seed(0)
    np.random.seed(0)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(8)]),
                                    training=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    history = []
    for _ in range(30):
        losses = model.loss(batch['inputs'], batch['data_samples'])
        history.append({k: float(v) for k, v in losses.items()})
        optimizer.zero_grad()
        losses['loss_kpt'].backward()
        optimizer.step()
    for key in ('loss_kpt_lambda0', 'loss_kpt_lambda1'):
        first = np.mean([h[key] for h in history[:3]])
        last = np.mean([h[key] for h in history[-3:]])
        assert last < 0.7 * first, (key, first, last)


@pytest.mark.parametrize('decay', [2.0, -0.1, 'half'])
def test_score_decay_is_checked_where_it_is_set(cfg, decay):
    from mipnet_mmpose.engine.hooks import MultiInstanceTestHook
    with pytest.raises(ValueError, match=rf'lambda_score_decay={decay!r} must be a '
                       r'number in \[0, 1\]'):
        MultiInstanceTestHook(lambda_score_decay=decay)
    model = _build(cfg.model, 2).eval()
    with pytest.raises(ValueError, match='lambda_score_decay'):
        model.set_test_time(lambda_score_decay=decay)
    assert model.lambda_score_decay == 0.5


def test_non_finite_loss_stops_training_naming_the_samples(cfg):
    from mmengine.logging import MessageHub

    from mipnet_mmpose.models.pose_estimators.multi_instance_topdown import NonFiniteLossError
    model = _build(cfg.model, 2).train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(3)]),
                                    training=True)
    MessageHub.get_current_instance().update_info('iter', 41)
    inputs = batch['inputs'].clone()
    inputs[1, 0, 5, 5] = float('nan')  # one pixel of the second sample
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    bad = batch['data_samples'][1].metainfo
    with pytest.raises(NonFiniteLossError,
                       match=rf"(?s)iteration 41: loss_kpt is not finite \(the samples with "
                       rf"non-finite input or targets: image id {bad['img_id']} annotation id "
                       rf"{bad['id']} .*no checkpoint of it is written"):
        model.loss(inputs, batch['data_samples'])
    # No step was taken: the weights are untouched (the run ends here, so the batch-norm
    # statistics of the failed forward are never saved).
    for key, value in model.named_parameters():
        torch.testing.assert_close(value.detach(), before[key])
    # A finite batch trains as before.
    assert torch.isfinite(model.loss(batch['inputs'], batch['data_samples'])['loss_kpt'])


def test_multi_instance_head_of_a_stock_type_is_its_named_class(cfg):
    from mipnet_mmpose.models import MultiInstanceHeatmapHead
    head = MODELS.build(dict(type='MultiInstanceHead', head=cfg.model.head, num_instances=2))
    assert type(head) is MultiInstanceHeatmapHead and head.num_instances == 2
    assert type(_build(cfg.model, 2).head) is MultiInstanceHeatmapHead


def test_visibility_head_trains_both_forwards_on_every_lambda(cfg):
    """VisPredictHead's loss runs two forwards (its own and its pose head's): both
    are answered from the one forward over all rows; the pose loss is the heatmap
    head's loss of the same weights."""
    vis_cfg = copy.deepcopy(cfg.model)
    vis_cfg.head = dict(type='VisPredictHead', pose_cfg=cfg.model.head,
                        loss=dict(type='BCELoss', use_target_weight=True, use_sigmoid=True))
    vis = _build(vis_cfg, 2).train()
    plain = _build(cfg.model, 2).train()
    plain.backbone.load_state_dict(vis.backbone.state_dict())
    plain.head.load_state_dict(vis.head.pose_head.state_dict())
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = vis.data_preprocessor(pseudo_collate([dataset[i] for i in range(3)]),
                                  training=True)
    losses = vis.loss(batch['inputs'], batch['data_samples'])
    assert set(losses) == {
        'loss_vis', 'acc_vis', 'loss_kpt', 'acc_pose', 'loss_vis_lambda0', 'loss_vis_lambda1',
        'acc_vis_lambda0', 'acc_vis_lambda1', 'loss_kpt_lambda0', 'loss_kpt_lambda1',
        'acc_pose_lambda0', 'acc_pose_lambda1'}
    expected = plain.loss(batch['inputs'], batch['data_samples'])
    for key in ('loss_kpt', 'loss_kpt_lambda0', 'loss_kpt_lambda1'):
        torch.testing.assert_close(losses[key], expected[key])
    (losses['loss_vis'] + losses['loss_kpt']).backward()
    assert vis.head.vis_head[2].weight.grad.abs().sum() > 0
    assert vis.head.pose_head.final_layer.weight.grad.abs().sum() > 0
    with torch.no_grad():
        samples = vis.eval().predict(batch['inputs'], batch['data_samples'])
    assert [s.pred_instances.lambdas.tolist() for s in samples] == [[0, 1]] * 3
