import copy

import pytest
import torch
from mmengine.hub import get_config
from mmengine.utils import import_modules_from_strings
from mmpose.registry import MODELS

from mipnet_mmpose.models import encode_lambdas
from tests.conftest import REPO, small_hrnet_extra

STOCK_HRNET_W32 = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                   'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')


def _spread_mimbs(backbone) -> None:
    """Widen MIMB weights (authors' init std 0.001) so λ visibly changes outputs."""
    torch.manual_seed(1)
    for name, p in backbone.named_parameters():
        if 'mimb' in name:
            torch.nn.init.normal_(p, std=0.5)


def _hrnet(num_instances=2, **kwargs):
    return MODELS.build(dict(type='MIPHRNet', extra=small_hrnet_extra(),
                             num_instances=num_instances, **kwargs))


def _resnet(num_instances=2, **kwargs):
    return MODELS.build(dict(type='MIPResNet', depth=18, num_instances=num_instances,
                             **kwargs))


def test_registry_builds_mimb_backbones():
    backbone = _hrnet(num_instances=3, lambda_encoding='binary')
    assert type(backbone).__name__ == 'MIPHRNet'
    assert len(backbone.mimb_stage4_inputs) == 4 and len(backbone.mimb_output) == 1
    assert backbone.mip_meta.tolist() == [3, 1]
    resnet = _resnet()
    assert hasattr(resnet, 'mimb_layer3') and hasattr(resnet, 'mimb_layer4')
    assert not hasattr(resnet, 'mimb_layer2')


def test_stock_mmpose_config_with_backbone_type_switched_runs():
    cfg = get_config(STOCK_HRNET_W32)
    cfg.model.backbone.type = 'MIPHRNet'
    cfg.model.backbone.init_cfg = None  # the stock config downloads ImageNet weights
    cfg.custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)
    import_modules_from_strings(**cfg.custom_imports)
    model = MODELS.build(cfg.model)
    model.eval()
    assert type(model.backbone).__name__ == 'MIPHRNet'
    with torch.no_grad():
        heatmaps = model(torch.randn(1, 3, 256, 192), None, mode='tensor')
    assert heatmaps.shape == (1, 17, 64, 48)


@pytest.mark.parametrize('build', [_hrnet, _resnet])
@pytest.mark.parametrize('n', [2, 3])
def test_shared_trunk_equals_separate_lambdas_in_eval(build, n):
    backbone = build(num_instances=n)
    _spread_mimbs(backbone)
    backbone.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        shared = backbone(x, num_instances=n)
        for lam in range(n):
            single = backbone(x, lambdas=torch.full((2, ), lam))
            for s, f in zip(shared, single):
                torch.testing.assert_close(s[lam::n], f, rtol=1e-4, atol=1e-5)
        # The different λ really give different features.
        assert not torch.allclose(shared[0][0::n], shared[0][1::n])


@pytest.mark.parametrize('build', [_hrnet, _resnet])
def test_shared_trunk_equals_duplicated_batch_in_train(build):
    n = 2
    backbone = build(num_instances=n)
    _spread_mimbs(backbone)
    backbone.train()
    reference = copy.deepcopy(backbone)  # BN running stats move in train mode
    x = torch.randn(3, 3, 64, 64)
    shared = backbone(x, num_instances=n)
    duplicated = reference(x.repeat_interleave(n, 0), lambdas=torch.arange(n).repeat(3))
    for s, d in zip(shared, duplicated):
        torch.testing.assert_close(s, d, rtol=1e-4, atol=1e-5)


def test_deepcopy_keeps_hooks_on_the_copy():
    backbone = _hrnet()
    _spread_mimbs(backbone)
    backbone.eval()
    clone = copy.deepcopy(backbone)
    with torch.no_grad():
        clone.mimb_output[0].lambda_gate[3].bias.add_(3.0)  # only the copy changes
        x = torch.randn(1, 3, 64, 64)
        a = backbone(x, lambdas=torch.tensor([1]))[0]
        b = clone(x, lambdas=torch.tensor([1]))[0]
    assert not torch.allclose(a, b)


def test_lambda_none_means_zero_and_validation():
    backbone = _hrnet().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(backbone(x)[0], backbone(x, lambdas=torch.zeros(2).long())[0])
    with pytest.raises(ValueError, match='lie in'):
        backbone(x, lambdas=torch.tensor([0, 2]))
    with pytest.raises(ValueError, match='shape \\(2,\\)'):
        backbone(x, lambdas=torch.tensor([0]))
    with pytest.raises(ValueError, match='outside \\[1, 2\\]'):
        backbone(x, num_instances=3)
    with pytest.raises(ValueError, match='not both'):
        backbone(x, lambdas=torch.tensor([0, 1]), num_instances=2)


def test_num_instances_one_is_exactly_stock():
    stock = MODELS.build(dict(type='HRNet', extra=small_hrnet_extra()))
    ours = _hrnet(num_instances=1)
    assert list(ours.state_dict()) == list(stock.state_dict())
    ours.load_state_dict(stock.state_dict())
    stock.eval()
    ours.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], stock(x)[0])
    resnet_stock = MODELS.build(dict(type='ResNet', depth=18))
    assert list(_resnet(num_instances=1).state_dict()) == list(resnet_stock.state_dict())


def test_stock_hrnet_w32_checkpoint_loads_with_only_mimb_keys_missing():
    stock_cfg = get_config(STOCK_HRNET_W32)
    stock_cfg.model.backbone.init_cfg = None
    stock = MODELS.build(stock_cfg.model)
    mip_cfg = copy.deepcopy(stock_cfg.model)
    mip_cfg.backbone.type = 'MIPHRNet'
    mip = MODELS.build(mip_cfg)
    result = mip.load_state_dict(stock.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert result.missing_keys, 'the MIMB parameters must be reported missing'
    assert all('mimb' in k or k.endswith('mip_meta') for k in result.missing_keys), \
        result.missing_keys
    for key, value in stock.state_dict().items():
        torch.testing.assert_close(mip.state_dict()[key], value)


def test_stock_resnet_checkpoint_loads():
    stock = MODELS.build(dict(type='ResNet', depth=50))
    mip = MODELS.build(dict(type='MIPResNet', depth=50))
    result = mip.load_state_dict(stock.state_dict(), strict=False)
    assert result.unexpected_keys == []
    assert all('mimb' in k or k == 'mip_meta' for k in result.missing_keys)


@pytest.mark.parametrize('other', [dict(num_instances=3), dict(lambda_encoding='binary')])
def test_checkpoint_of_other_n_or_encoding_is_refused(other):
    trained = _hrnet(**{'num_instances': 2, **other})
    target = _hrnet(num_instances=2)
    with pytest.raises(ValueError, match='checkpoint was trained with num_instances'):
        target.load_state_dict(trained.state_dict(), strict=False)
    stock_n1 = _hrnet(num_instances=1)
    with pytest.raises(ValueError, match='config builds num_instances=1'):
        stock_n1.load_state_dict(trained.state_dict(), strict=False)


@pytest.mark.parametrize('build', [_hrnet, _resnet])
@pytest.mark.parametrize('n, encoding', [(2, 'one_hot'), (2, 'binary'), (4, 'binary')])
def test_code_table_is_a_constant_outside_checkpoints(build, n, encoding):
    """The λ code table is a non-persistent buffer: checkpoints keep their keys."""
    backbone = build(num_instances=n, lambda_encoding=encoding)
    torch.testing.assert_close(backbone.lambda_code_table,
                               encode_lambdas(torch.arange(n), n, encoding))
    assert 'lambda_code_table' in dict(backbone.named_buffers())
    keys = list(backbone.state_dict())
    assert not any('lambda_code_table' in k for k in keys)
    stock = MODELS.build(dict(type='HRNet', extra=small_hrnet_extra()) if build is _hrnet
                         else dict(type='ResNet', depth=18))
    assert set(keys) - set(stock.state_dict()) == {
        k for k in keys if 'mimb' in k or k == 'mip_meta'}
    # A checkpoint of today's keys loads strictly into a fresh model.
    fresh = build(num_instances=n, lambda_encoding=encoding)
    fresh.load_state_dict(backbone.state_dict(), strict=True)
    assert 'lambda_code_table' not in dict(_hrnet(num_instances=1).named_buffers())


def test_weights_and_outputs_match_the_code_before_the_generic_sites():
    """MIPHRNet built by the generic MIMB-site mechanism gives the same weights (same
    seed) and the same outputs as the code before it (stored by commit 37e69bf), and
    a checkpoint of that code loads strictly."""
    from mmengine.config import Config

    from mipnet_mmpose.models import MIPHRNet
    stored = torch.load(REPO / 'tests' / 'data' / 'mip_hrnet_sample_pre_generic.pth')
    extra = Config.fromfile(str(REPO / 'configs' / 'mipnet_sample_hrnet-w16_coco-mini-128x96.py')
                            ).model.backbone.extra
    torch.manual_seed(0)
    model = MIPHRNet(extra=extra.to_dict(), num_instances=2)
    model.init_weights()
    state = model.state_dict()
    assert list(state) == list(stored['state_dict'])
    assert all(torch.equal(state[k], stored['state_dict'][k]) for k in state)
    model.load_state_dict(stored['state_dict'], strict=True)
    with torch.no_grad():
        outputs = model.eval()(stored['input'], num_instances=2)
    # Weights are compared bit for bit above; outputs to float rounding only, since the
    # CPU's convolution kernels (chosen per machine) sum in different orders: a fresh
    # machine differed from the one that stored the fixture by 3e-15.
    for ours, theirs in zip(outputs, stored['outputs']):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-9)


def _mimb_linears(backbone):
    return [m for name, m in backbone.named_modules()
            if 'mimb' in name and isinstance(m, torch.nn.Linear)]


def test_mimb_init_per_family_is_the_authors():
    """ResNet family: PyTorch's default Linear init (pose_resnet_se_lambda.py
    init_weights never touches Linear layers); HRNet: normal(0.001), bias 0
    (pose_hrnet_se_lambda.py lines 540-544)."""
    torch.manual_seed(0)
    resnets = [_resnet(), MODELS.build(dict(type='MultiInstanceBackbone',
                                            backbone=dict(type='ResNetV1d', depth=18)))]
    for backbone in resnets:
        assert backbone.mimb_init_std is None
        for layer in _mimb_linears(backbone):
            assert float(layer.weight.std()) > 0.01
            if layer.bias is not None:
                assert torch.count_nonzero(layer.bias) > 0
    hrnet = _hrnet()
    assert hrnet.mimb_init_std == 0.001
    for layer in _mimb_linears(hrnet):
        assert float(layer.weight.std()) < 0.002
        if layer.bias is not None:
            assert torch.count_nonzero(layer.bias) == 0
    # Either family takes an explicit init.
    assert all(float(layer.weight.std()) < 0.002
               for layer in _mimb_linears(_resnet(mimb_init_std=0.001)))
    with pytest.raises(ValueError, match='mimb_init_std'):
        _resnet(mimb_init_std=-1.0)
