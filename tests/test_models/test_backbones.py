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


def _outputs(backbone, x):
    with torch.no_grad():
        return backbone.eval()(x, num_instances=backbone.num_instances)


@pytest.mark.parametrize('named, stock', [
    (dict(type='MIPHRNet', extra=small_hrnet_extra()),
     dict(type='HRNet', extra=small_hrnet_extra())),
    (dict(type='MIPResNet', depth=18), dict(type='ResNet', depth=18)),
])
def test_named_class_and_multi_instance_backbone_of_the_stock_type_are_one_model(named, stock):
    """MIPHRNet/MIPResNet are what MultiInstanceBackbone and the estimator build for
    HRNet/ResNet: one class, the same weights from the same seed, the same outputs."""
    torch.manual_seed(0)
    ours = MODELS.build(dict(named, num_instances=3))
    torch.manual_seed(0)
    generic = MODELS.build(dict(type='MultiInstanceBackbone', backbone=stock, num_instances=3))
    assert type(generic) is type(ours)
    assert type(ours).__name__ == named['type']
    assert list(generic.state_dict()) == list(ours.state_dict())
    assert all(torch.equal(v, ours.state_dict()[k]) for k, v in generic.state_dict().items())
    _spread_mimbs(ours)
    generic.load_state_dict(ours.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    for a, b in zip(_outputs(ours, x), _outputs(generic, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # N=3 without a code: the authors' 2-bit code, recorded in the checkpoint.
    assert ours.lambda_encoding == 'binary' and ours.mip_meta.tolist() == [3, 1]


def test_estimator_builds_the_named_classes_from_stock_configs():
    cfg = get_config(STOCK_HRNET_W32).model
    cfg.backbone.init_cfg = None
    model = MODELS.build(dict(cfg, type='MultiInstanceTopdownPoseEstimator'))
    assert type(model.backbone).__name__ == 'MIPHRNet'
    assert type(model.head).__name__ == 'MultiInstanceHeatmapHead'
    # The paper's sites, under the names the checkpoints hold.
    assert {k.split('.')[0] for k in model.backbone.state_dict() if 'mimb' in k} == {
        'mimb_stage4_inputs', 'mimb_output'}


def test_named_arguments_choose_the_sites():
    hrnet = _hrnet(modulate_output=False)
    assert not hasattr(hrnet, 'mimb_output') and len(hrnet.mimb_stage4_inputs) == 4
    assert [s.module for s in _hrnet(mimb_sites=['stage3']).mimb_sites] == ['stage3']
    with pytest.raises(ValueError, match='not both'):
        _hrnet(modulate_output=False, mimb_sites=['stage3'])
    resnet = _resnet(mimb_before_layers=(4, ))
    assert hasattr(resnet, 'mimb_layer4') and not hasattr(resnet, 'mimb_layer3')
    with pytest.raises(ValueError, match='no sub-module .layer5.'):
        _resnet(mimb_before_layers=(5, ))
    with pytest.raises(ValueError, match='not both'):
        _resnet(mimb_before_layers=(4, ), mimb_sites=['layer4'])


def test_multi_instance_backbone_reads_the_scope_of_the_stock_type():
    """mmdet's CSPNeXt (``_scope_`` or a scoped name) and MMPose's are two classes."""
    arch = dict(arch='P5', deepen_factor=0.33, widen_factor=0.25, out_indices=(4, ))
    classes = {}
    for key, cfg in (('mmpose', dict(type='CSPNeXt')),
                     ('mmdet', dict(type='CSPNeXt', _scope_='mmdet')),
                     ('mmdet.CSPNeXt', dict(type='mmdet.CSPNeXt'))):
        backbone = MODELS.build(dict(type='MultiInstanceBackbone', backbone=dict(cfg, **arch)))
        stock = type(backbone).__mro__[2]
        classes[key] = type(backbone)
        assert type(backbone).__name__ == 'MultiInstanceCSPNeXt'
        assert stock.__module__.split('.')[0] == key.split('.')[0]
        assert [s.module for s in backbone.mimb_sites] == ['stage4']
    assert classes['mmdet'] is classes['mmdet.CSPNeXt'] is not classes['mmpose']


def test_built_models_pickle_into_a_fresh_process(tmp_path):
    """torch.save of whole backbones (a named class and a made one) loads where the
    made class was never made, with the same outputs."""
    import subprocess
    import sys
    models = [_hrnet().eval(),
              MODELS.build(dict(type='MultiInstanceBackbone',
                                backbone=dict(type='ShuffleNetV2', widen_factor=0.5))).eval()]
    for model in models:
        _spread_mimbs(model)
    x = torch.randn(1, 3, 64, 64)
    expected = [_outputs(m, x) for m in models]
    torch.save(dict(models=models, x=x, expected=expected), tmp_path / 'models.pt')
    code = (
        'import torch, mipnet_mmpose\n'
        f"d = torch.load({str(tmp_path / 'models.pt')!r}, weights_only=False)\n"
        'print([type(m).__name__ for m in d["models"]])\n'
        'for m, want in zip(d["models"], d["expected"]):\n'
        '    with torch.no_grad():\n'
        '        out = m(d["x"], num_instances=2)\n'
        '    for a, b in zip(out, want):\n'
        '        torch.testing.assert_close(a, b, rtol=0, atol=0)\n')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            cwd=str(REPO))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['MIPHRNet', 'MultiInstanceShuffleNetV2']"


def test_made_class_names_resolve_to_the_named_classes():
    """A model pickled as the made ``MultiInstanceHRNet`` (the generic path's class for
    HRNet before it was MIPHRNet) unpickles as MIPHRNet."""
    from mipnet_mmpose.models import MIPHRNet, MIPResNet
    from mipnet_mmpose.models.backbones import multi_instance_backbone
    assert multi_instance_backbone.MultiInstanceHRNet is MIPHRNet
    assert multi_instance_backbone.MultiInstanceResNet is MIPResNet


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
