"""Converting the MIPNet authors' checkpoints and the HRNet releases they start
from (tools/convert_official_ckpt.py).

No checkpoint of the authors is downloaded: their state-dict names and shapes
are written down here as data (:func:`authors_hrnet_keys`,
:func:`authors_resnet_keys`), as read from their model definitions
(``lib/models/pose_hrnet_se_lambda.py`` and ``pose_resnet_se_lambda.py`` of
GitHub ``rawalkhirodkar/MIPNet``): the original HRNet / SimpleBaseline names,
plus ``{stage3,stage4}_se.se_layers.{i}`` (HRNet) or ``layer{3,4}_se.se_layers.0``
(ResNet) SE-λ blocks with ``fc`` (two bias-free Linear) and ``fc_lambda``
(Linear(2, C/4), BatchNorm1d, ReLU, Linear) submodules. These enumerations
model the authors' tree independently of MMPose's, so the shapes cross-check
the renaming rules. The HRNet releases (``pose_hrnet_w32_256x192.pth``,
``pose_hrnet_w48_384x288.pth``, the authors' start checkpoints) are HRNet's own
``lib/models/pose_hrnet.py`` state dict: the same tree without SE-λ blocks
(``authors_hrnet_keys(se_modules=(False,) * 4)``).
"""
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpose.registry import MODELS

from mipnet_mmpose.models.utils.official_ckpt import (
    HRNET_RULES,
    RESNET_RULES,
    OfficialCheckpointError,
    convert_official_state_dict,
    extract_state_dict,
    is_single_person_release,
    load_official_state_dict,
    map_official_key,
    release_model_cfg,
)
from tests.conftest import (
    REPO,
    SAMPLE_CONFIG,
    SAMPLE_TEST_EPOCHS,
    load_tool,
    small_hrnet_extra,
    stock_model_cfg,
)

Shape = Tuple[int, ...]
KeyList = List[Tuple[str, Shape]]

W48_CONFIG = REPO / 'configs' / 'mipnet_hrnet-w48_4xb10-110e_coco-384x288.py'
W32_CONFIG = REPO / 'configs' / 'mipnet_hrnet-w32_3xb32-110e_coco-256x192.py'
#: HRNet's own model (pose_hrnet.py) has no SE-λ block.
NO_SE = (False, False, False, False)
RES50_CONFIG = REPO / 'configs' / 'mipnet_res50_4xb32-140e_coco-256x192.py'


# ----------------------------------------------------------------------------------------
# The authors' state-dict names and shapes, as data.
# ----------------------------------------------------------------------------------------
def _bn(prefix: str, c: int) -> KeyList:
    return [(f'{prefix}.weight', (c, )), (f'{prefix}.bias', (c, )),
            (f'{prefix}.running_mean', (c, )), (f'{prefix}.running_var', (c, )),
            (f'{prefix}.num_batches_tracked', ())]


def _conv(prefix: str, c_out: int, c_in: int, k: int) -> KeyList:
    return [(f'{prefix}.weight', (c_out, c_in, k, k))]


def _conv_bn(prefix: str, c_out: int, c_in: int, k: int) -> KeyList:
    """A Sequential(conv, BN[, ReLU]) at ``prefix``: ``prefix.0`` and ``prefix.1``."""
    return _conv(f'{prefix}.0', c_out, c_in, k) + _bn(f'{prefix}.1', c_out)


def _bottleneck(prefix: str, c_in: int, planes: int) -> KeyList:
    keys = (_conv(f'{prefix}.conv1', planes, c_in, 1) + _bn(f'{prefix}.bn1', planes) +
            _conv(f'{prefix}.conv2', planes, planes, 3) + _bn(f'{prefix}.bn2', planes) +
            _conv(f'{prefix}.conv3', 4 * planes, planes, 1) + _bn(f'{prefix}.bn3', 4 * planes))
    if c_in != 4 * planes:
        keys += _conv_bn(f'{prefix}.downsample', 4 * planes, c_in, 1)
    return keys


def _basic(prefix: str, c: int) -> KeyList:
    return (_conv(f'{prefix}.conv1', c, c, 3) + _bn(f'{prefix}.bn1', c) +
            _conv(f'{prefix}.conv2', c, c, 3) + _bn(f'{prefix}.bn2', c))


def _se_lambda(prefix: str, channels: Sequence[int], code_size: int = 2) -> KeyList:
    """The authors' SELambdaModule: one SELambdaLayer (reduction 4) per channel count."""
    keys: KeyList = []
    for i, c in enumerate(channels):
        p, h = f'{prefix}.se_layers.{i}', c // 4
        keys += [(f'{p}.fc.0.weight', (h, c)), (f'{p}.fc.2.weight', (c, h)),
                 (f'{p}.fc_lambda.0.weight', (h, code_size)), (f'{p}.fc_lambda.0.bias', (h, ))]
        keys += _bn(f'{p}.fc_lambda.1', h)
        keys += [(f'{p}.fc_lambda.3.weight', (c, h)), (f'{p}.fc_lambda.3.bias', (c, ))]
    return keys


def _transition(prefix: str, pre: Sequence[int], cur: Sequence[int]) -> KeyList:
    keys: KeyList = []
    for i, c in enumerate(cur):
        if i < len(pre):
            if c != pre[i]:
                keys += _conv_bn(f'{prefix}.{i}', c, pre[i], 3)
        else:
            for j in range(i + 1 - len(pre)):
                c_in = pre[-1]
                c_out = c if j == i - len(pre) else c_in
                keys += _conv_bn(f'{prefix}.{i}.{j}', c_out, c_in, 3)
    return keys


def _hr_module(prefix: str, channels: Sequence[int], blocks: int, multi_scale: bool) -> KeyList:
    keys: KeyList = []
    for b, c in enumerate(channels):
        for k in range(blocks):
            keys += _basic(f'{prefix}.branches.{b}.{k}', c)
    for i in range(len(channels) if multi_scale else 1):
        for j in range(len(channels)):
            if j > i:  # 1x1 conv + BN, then nearest upsampling
                keys += _conv_bn(f'{prefix}.fuse_layers.{i}.{j}', channels[i], channels[j], 1)
            elif j < i:  # stride-2 3x3 convs; the last one maps to branch i's width
                for k in range(i - j):
                    c_out = channels[i] if k == i - j - 1 else channels[j]
                    keys += _conv_bn(f'{prefix}.fuse_layers.{i}.{j}.{k}', c_out, channels[j], 3)
    return keys


def authors_hrnet_keys(widths: Sequence[int] = (48, 96, 192, 384),
                       modules: Sequence[int] = (1, 4, 3),
                       blocks: int = 4,
                       layer1: Tuple[int, int] = (64, 4),
                       num_joints: int = 17,
                       se_modules: Sequence[bool] = (False, False, True, True)) -> KeyList:
    """The authors' ``pose_hrnet_se_lambda`` state dict (W48 by default).

    ``se_modules`` is their ``MODEL.SE_MODULES`` (the released models: only the
    stage-4 inputs and the stage-4 output). ``layer1`` (planes, blocks) is fixed
    to (64, 4) in their code; it is a parameter here for the small test models.
    """
    planes, n_layer1 = layer1
    keys = (_conv('conv1', 64, 3, 3) + _bn('bn1', 64) + _conv('conv2', 64, 64, 3) +
            _bn('bn2', 64))
    c_in = 64
    for k in range(n_layer1):
        keys += _bottleneck(f'layer1.{k}', c_in, planes)
        c_in = 4 * planes
    pre = [c_in]
    for s, n_modules in zip((2, 3, 4), modules):
        cur = list(widths[:s])
        keys += _transition(f'transition{s - 1}', pre, cur)
        for m in range(n_modules):
            last = s == 4 and m == n_modules - 1  # only the last module fuses to 1 output
            keys += _hr_module(f'stage{s}.{m}', cur, blocks, multi_scale=not last)
        pre = cur
    keys += [('final_layer.weight', (num_joints, widths[0], 1, 1)),
             ('final_layer.bias', (num_joints, ))]
    se_channels = [widths[:2], widths[:3], widths[:4], widths[:1]]
    for s, (on, channels) in enumerate(zip(se_modules, se_channels), start=1):
        if on:
            keys += _se_lambda(f'stage{s}_se', channels)
    return keys


def authors_resnet_keys(layers: Sequence[int] = (3, 4, 6, 3),
                        num_joints: int = 17,
                        se_modules: Sequence[bool] = (False, False, True, True)) -> KeyList:
    """The authors' ``pose_resnet_se_lambda`` state dict (ResNet-50, 3 deconvs of 256)."""
    keys = _conv('conv1', 64, 3, 7) + _bn('bn1', 64)
    c_in = 64
    for i, (n, planes) in enumerate(zip(layers, (64, 128, 256, 512)), start=1):
        for k in range(n):
            keys += _bottleneck(f'layer{i}.{k}', c_in, planes)
            c_in = 4 * planes
    for i in range(3):  # ConvTranspose2d (in, out, 4, 4) without bias, BN, ReLU
        keys += [(f'deconv_layers.{3 * i}.weight', (c_in, 256, 4, 4))]
        keys += _bn(f'deconv_layers.{3 * i + 1}', 256)
        c_in = 256
    keys += [('final_layer.weight', (num_joints, 256, 1, 1)),
             ('final_layer.bias', (num_joints, ))]
    for i, (on, c) in enumerate(zip(se_modules, (64, 256, 512, 1024)), start=1):
        if on:
            keys += _se_lambda(f'layer{i}_se', [c])
    return keys


def random_state_dict(keys: KeyList, seed: int = 0) -> Dict[str, torch.Tensor]:
    """Distinct random values per tensor (positive running_var, integer counters)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in keys:
        if name.endswith('num_batches_tracked'):
            state[name] = torch.randint(1, 1000, shape, generator=gen)
        elif name.endswith('running_var'):
            state[name] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[name] = torch.empty(shape).uniform_(-0.1, 0.1, generator=gen)
    return state


# ----------------------------------------------------------------------------------------
# Models.
# ----------------------------------------------------------------------------------------
def build_from_config(config: Path) -> torch.nn.Module:
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model).eval()


def small_hrnet_model() -> torch.nn.Module:
    """A narrow N=2 MIPHRNet estimator (stage-4 widths 8/16/32/64)."""
    return MODELS.build(dict(
        type='MultiInstanceTopdownPoseEstimator',
        num_instances=2,
        backbone=dict(type='HRNet', in_channels=3, extra=small_hrnet_extra(8)),
        head=dict(type='HeatmapHead', in_channels=8,
                  out_channels=17, deconv_out_channels=None))).eval()


SMALL_HRNET_KEYS = dict(widths=(8, 16, 32, 64), modules=(1, 1, 1), blocks=1, layer1=(16, 1))


# ----------------------------------------------------------------------------------------
# Tests.
# ----------------------------------------------------------------------------------------
def test_rule_tables_rename_as_documented():
    hrnet = {
        'conv1.weight': 'backbone.conv1.weight',
        'bn2.running_var': 'backbone.bn2.running_var',
        'layer1.0.downsample.1.weight': 'backbone.layer1.0.downsample.1.weight',
        'transition3.3.0.0.weight': 'backbone.transition3.3.0.0.weight',
        'stage2.0.branches.0.0.conv1.weight': 'backbone.stage2.0.branches.0.0.conv1.weight',
        'stage4.2.fuse_layers.0.3.1.running_mean':
        'backbone.stage4.2.fuse_layers.0.3.1.running_mean',
        'final_layer.bias': 'head.final_layer.bias',
        'stage3_se.se_layers.3.fc.0.weight': 'backbone.mimb_stage4_inputs.3.se_gate.0.weight',
        'stage3_se.se_layers.0.fc.2.weight': 'backbone.mimb_stage4_inputs.0.se_gate.2.weight',
        'stage3_se.se_layers.1.fc_lambda.1.num_batches_tracked':
        'backbone.mimb_stage4_inputs.1.lambda_gate.1.num_batches_tracked',
        'stage4_se.se_layers.0.fc_lambda.3.bias': 'backbone.mimb_output.0.lambda_gate.3.bias',
        # Not built by MIPHRNet (SE_MODULES[0]/[1]) and no parameter-free layers.
        'stage1_se.se_layers.0.fc.0.weight': None,
        'stage3_se.se_layers.0.fc.1.weight': None,
        'stage3_se.se_layers.0.fc_lambda.2.weight': None,
        'module.conv1.weight': None,
    }
    resnet = {
        'conv1.weight': 'backbone.conv1.weight',
        'bn1.bias': 'backbone.bn1.bias',
        'layer4.2.bn3.running_var': 'backbone.layer4.2.bn3.running_var',
        'deconv_layers.6.weight': 'head.deconv_layers.6.weight',
        'deconv_layers.7.running_mean': 'head.deconv_layers.7.running_mean',
        'final_layer.weight': 'head.final_layer.weight',
        'layer3_se.se_layers.0.fc.0.weight': 'backbone.mimb_layer3.0.se_gate.0.weight',
        'layer4_se.se_layers.0.fc_lambda.0.weight': 'backbone.mimb_layer4.0.lambda_gate.0.weight',
        'conv2.weight': None,
        'stage2.0.branches.0.0.conv1.weight': None,
    }
    for table, rules in ((hrnet, HRNET_RULES), (resnet, RESNET_RULES)):
        for theirs, ours in table.items():
            assert map_official_key(theirs, rules) == ours, theirs


def test_hrnet_w48_n2_converts_and_loads_strictly():
    """The released model's layout: every tensor lands on its counterpart."""
    model = build_from_config(W48_CONFIG)
    keys = authors_hrnet_keys()
    source = random_state_dict(keys)
    assert len(source) == len(keys)  # no name enumerated twice

    converted = convert_official_state_dict(source, model)
    assert list(converted) == list(model.state_dict())
    assert converted['backbone.mip_meta'].tolist() == [2, 0]  # N=2, one-hot
    model.load_state_dict(converted, strict=True)

    ours = model.state_dict()
    for name in source:
        assert torch.equal(ours[map_official_key(name, HRNET_RULES)], source[name]), name
    backbone = model.backbone
    assert torch.equal(backbone.mimb_stage4_inputs[2].lambda_gate[3].weight,
                       source['stage3_se.se_layers.2.fc_lambda.3.weight'])
    assert torch.equal(backbone.mimb_stage4_inputs[3].se_gate[0].weight,
                       source['stage3_se.se_layers.3.fc.0.weight'])
    assert torch.equal(backbone.mimb_output[0].lambda_gate[1].running_var,
                       source['stage4_se.se_layers.0.fc_lambda.1.running_var'])
    assert torch.equal(backbone.stage4[2].fuse_layers[0][3][1].running_mean,
                       source['stage4.2.fuse_layers.0.3.1.running_mean'])
    assert torch.equal(model.head.final_layer.weight, source['final_layer.weight'])
    assert torch.equal(backbone.conv1.weight, source['conv1.weight'])
    assert sum(v.numel() for v in source.values()) == \
        sum(v.numel() for k, v in ours.items() if k != 'backbone.mip_meta')

    # The authors' SE-λ layer computed from their tensors: x · σ(fc(avgpool x)) ·
    # σ(fc_lambda(code)). Their training pairs the code [1, 0] with the box's own
    # person and [0, 1] with the nearest other one (whose score their evaluation
    # decays): our λ=0 and λ=1. Our MIMB with the converted weights gives the same gate.
    def their_gate(prefix: str, x: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        p = {k[len(prefix):]: v for k, v in source.items() if k.startswith(prefix)}
        se = torch.sigmoid(torch.relu(x.mean((2, 3)) @ p['fc.0.weight'].T) @ p['fc.2.weight'].T)
        h = code @ p['fc_lambda.0.weight'].T + p['fc_lambda.0.bias']
        h = (h - p['fc_lambda.1.running_mean']) / torch.sqrt(
            p['fc_lambda.1.running_var'] + 1e-5) * p['fc_lambda.1.weight'] + \
            p['fc_lambda.1.bias']
        z = torch.sigmoid(torch.relu(h) @ p['fc_lambda.3.weight'].T + p['fc_lambda.3.bias'])
        return se * z

    x = torch.randn(2, 192, 6, 5)
    lambdas = torch.tensor([0, 1])
    code = torch.tensor([[1., 0.], [0., 1.]])
    with torch.no_grad():
        torch.testing.assert_close(backbone.mimb_stage4_inputs[2].gates(x, lambdas),
                                   their_gate('stage3_se.se_layers.2.', x, code))


def test_resnet50_converts_and_loads_strictly():
    model = build_from_config(RES50_CONFIG)
    source = random_state_dict(authors_resnet_keys(), seed=1)
    converted = convert_official_state_dict(source, model)
    model.load_state_dict(converted, strict=True)
    ours = model.state_dict()
    for name in source:
        assert torch.equal(ours[map_official_key(name, RESNET_RULES)], source[name]), name
    assert torch.equal(model.backbone.mimb_layer4[0].lambda_gate[0].bias,
                       source['layer4_se.se_layers.0.fc_lambda.0.bias'])
    assert torch.equal(model.head.deconv_layers[3].weight, source['deconv_layers.3.weight'])


@pytest.fixture(scope='module')
def small_model_and_source():
    return small_hrnet_model(), random_state_dict(authors_hrnet_keys(**SMALL_HRNET_KEYS))


def test_small_hrnet_round_trip(small_model_and_source):
    model, source = small_model_and_source
    model.load_state_dict(convert_official_state_dict(source, model), strict=True)


def _error(source: dict, model) -> str:
    with pytest.raises(OfficialCheckpointError) as info:
        convert_official_state_dict(source, model)
    return str(info.value)


def test_missing_key_is_named(small_model_and_source):
    model, source = small_model_and_source
    source = dict(source)
    del source['stage3_se.se_layers.1.fc_lambda.0.bias']
    message = _error(source, model)
    assert '1 keys of the model the checkpoint does not fill' in message
    assert 'backbone.mimb_stage4_inputs.1.lambda_gate.0.bias (4,)' in message


def test_misshapen_key_is_named_with_both_shapes(small_model_and_source):
    model, source = small_model_and_source
    # A 3-value code of λ (e.g. one-hot N=3) against a 2-value model.
    source = dict(source, **{'stage4_se.se_layers.0.fc_lambda.0.weight': torch.zeros(2, 3)})
    message = _error(source, model)
    assert ('stage4_se.se_layers.0.fc_lambda.0.weight (2, 3) -> '
            'backbone.mimb_output.0.lambda_gate.0.weight (2, 2)') in message
    assert 'does not fill' not in message  # not reported twice


def test_unknown_keys_are_errors_and_all_problems_are_listed(small_model_and_source):
    model, source = small_model_and_source
    source = dict(source)
    # SE_MODULES[1]: an SE-λ block on the stage-3 inputs, which MIPHRNet does not build.
    source['stage2_se.se_layers.0.fc.0.weight'] = torch.zeros(2, 8)
    source['some_head.weight'] = torch.zeros(3)
    source['final_layer.weight'] = torch.zeros(14, 8, 1, 1)  # a 14-keypoint model
    del source['bn1.running_mean']
    message = _error(source, model)
    assert '2 keys of the checkpoint that no rule maps' in message
    assert 'stage2_se.se_layers.0.fc.0.weight (2, 8)' in message
    assert 'some_head.weight (3,)' in message
    assert 'final_layer.weight (14, 8, 1, 1) -> head.final_layer.weight (17, 8, 1, 1)' in message
    assert 'backbone.bn1.running_mean (64,)' in message


def test_checkpoint_containers_and_prefixes(tmp_path):
    state = {'conv1.weight': torch.ones(1), 'bn1.weight': torch.zeros(1)}
    wrapped = {f'module.{k}': v for k, v in state.items()}
    # The authors' training checkpoint: their test script reads latest_state_dict.
    training = dict(epoch=103, model='pose_hrnet_se_lambda', state_dict=wrapped,
                    latest_state_dict=state, best_state_dict=state, perf=0.0,
                    optimizer=dict(state={}, param_groups=[dict(lr=1e-5, params=[0, 1])]))
    got, where = extract_state_dict(training)
    assert where == 'latest_state_dict' and got.keys() == state.keys()
    got, where = extract_state_dict(dict(state_dict=wrapped))
    assert where == 'state_dict' and got.keys() == state.keys()
    got, where = extract_state_dict(wrapped)  # final_state.pth of a wrapped model
    assert where == '<root>' and got.keys() == state.keys()
    with pytest.raises(OfficialCheckpointError, match='no tensors'):
        extract_state_dict(dict(epoch=3))
    # Their PyTorch 1.1 wrote the legacy (non-zip) format; it loads without pickle.
    path = tmp_path / 'checkpoint_103.pth'
    torch.save(training, path, _use_new_zipfile_serialization=False)
    got, where = load_official_state_dict(str(path))
    assert where == 'latest_state_dict' and torch.equal(got['conv1.weight'], torch.ones(1))
    # A truncated download is a clear error, not a traceback from torch.
    broken = tmp_path / 'broken.pth'
    broken.write_bytes(path.read_bytes()[:100])
    with pytest.raises(OfficialCheckpointError, match='cannot read'):
        load_official_state_dict(str(broken))


def _load_tool():
    return load_tool(REPO / 'tools' / 'convert_official_ckpt.py', 'convert_official_ckpt')


def test_cli_converts_for_the_sample_config(tmp_path, capsys):
    tool = _load_tool()
    # The sample config's HRNet: stage-1 bottleneck of 32 planes, one block per branch.
    source = random_state_dict(authors_hrnet_keys(
        widths=(16, 32, 64, 128), modules=(1, 1, 1), blocks=1, layer1=(32, 1)))
    src = tmp_path / 'theirs.pth'
    torch.save(dict(epoch=1, state_dict={f'module.{k}': v for k, v in source.items()}), src)
    dst = tmp_path / 'out' / 'mipnet_converted.pth'
    assert tool.main([str(src), str(dst), '--config', str(SAMPLE_CONFIG)]) == 0
    assert 'num_instances=2' in capsys.readouterr().out
    assert sorted(p.name for p in dst.parent.iterdir()) == [dst.name]  # no temp file left

    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    assert checkpoint['meta']['mipnet_converted_from'] == str(src)
    assert checkpoint['meta']['num_instances'] == 2
    assert checkpoint['meta']['lambda_encoding'] == 'one_hot'
    assert checkpoint['state_dict']['backbone.mip_meta'].tolist() == [2, 0]
    model = build_from_config(SAMPLE_CONFIG)
    load_checkpoint(model, str(dst), map_location='cpu', strict=True)
    assert torch.equal(model.backbone.mimb_output[0].se_gate[2].weight,
                       source['stage4_se.se_layers.0.fc.2.weight'])

    # A checkpoint of another architecture: exit code 1, the problems on stderr,
    # and the earlier DST untouched.
    bad = tmp_path / 'bad.pth'
    torch.save(dict(source, **{'extra.weight': torch.zeros(1)}), bad)
    before = dst.read_bytes()
    assert tool.main([str(bad), str(dst), '--config', str(SAMPLE_CONFIG)]) == 1
    assert 'extra.weight (1,)' in capsys.readouterr().err
    assert dst.read_bytes() == before


@pytest.mark.parametrize('config, widths', [(W32_CONFIG, (32, 64, 128, 256)),
                                            (W48_CONFIG, (48, 96, 192, 384))],
                         ids=['w32_256x192', 'w48_384x288'])
def test_hrnet_release_converts_onto_mmpose_hrnet_and_heatmap_head(config, widths):
    """HRNet's pose_hrnet_w{32,48} release onto MMPose's stock HRNet + HeatmapHead of
    the config (strictly, every tensor on its counterpart); the config's MIPNet
    model then starts from it with only the MIMB weights missing."""
    cfg = Config.fromfile(str(config))
    cfg.model.backbone.init_cfg = None
    source = random_state_dict(authors_hrnet_keys(widths=widths, se_modules=NO_SE), seed=2)
    assert is_single_person_release(source)

    stock = MODELS.build(stock_model_cfg(cfg.model))
    assert type(stock).__name__ == 'TopdownPoseEstimator'
    assert type(stock.backbone).__name__ == 'HRNet'
    assert type(stock.head).__name__ == 'HeatmapHead'
    converted = convert_official_state_dict(source, stock)
    stock.load_state_dict(converted, strict=True)
    ours = stock.state_dict()
    for name in source:
        assert torch.equal(ours[map_official_key(name, HRNET_RULES)], source[name]), name
    assert sum(v.numel() for v in source.values()) == sum(v.numel() for v in ours.values())

    # What the tool's --release writes: the config's model with N=1, the same keys.
    single = MODELS.build(release_model_cfg(cfg.model))
    assert list(convert_official_state_dict(source, single)) == list(converted)

    mipnet = MODELS.build(cfg.model)
    result = mipnet.load_state_dict(converted, strict=False)
    assert not result.unexpected_keys
    assert result.missing_keys and all(
        '.mimb_' in k or k == 'backbone.mip_meta' for k in result.missing_keys)
    assert torch.equal(mipnet.backbone.stage4[0].fuse_layers[0][1][0].weight,
                       source['stage4.0.fuse_layers.0.1.0.weight'])
    # Converting a release for the N=2 model says what to do.
    message = _error(source, mipnet)
    assert 'single-person release' in message and '--release' in message


def test_cli_converts_an_hrnet_release_for_load_from(tmp_path, capsys):
    tool = _load_tool()
    source = random_state_dict(authors_hrnet_keys(
        widths=(16, 32, 64, 128), modules=(1, 1, 1), blocks=1, layer1=(32, 1),
        se_modules=NO_SE), seed=3)
    src = tmp_path / 'pose_hrnet_small.pth'
    torch.save(source, src)  # the releases are bare state dicts
    dst = tmp_path / 'pose_hrnet_small_mmpose.pth'
    assert tool.main([str(src), str(dst), '--config', str(SAMPLE_CONFIG)]) == 1
    assert '--release' in capsys.readouterr().err
    assert not dst.exists()
    assert tool.main([str(src), str(dst), '--config', str(SAMPLE_CONFIG), '--release']) == 0
    assert 'num_instances=1' in capsys.readouterr().out
    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    assert checkpoint['meta']['num_instances'] == 1
    # MMPose's own estimator of the sample config loads it strictly ...
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    stock = MODELS.build(stock_model_cfg(cfg.model))
    load_checkpoint(stock, str(dst), map_location='cpu', strict=True)
    assert torch.equal(stock.head.final_layer.bias, source['final_layer.bias'])
    # ... and the sample's MIPNet model starts from it (load_from is not strict).
    mipnet = build_from_config(SAMPLE_CONFIG)
    load_checkpoint(mipnet, str(dst), map_location='cpu', strict=False)
    assert torch.equal(mipnet.backbone.conv1.weight, source['conv1.weight'])


def test_release_without_batch_norm_counters_gets_a_fresh_models(tmp_path, capsys):
    """A release saved before PyTorch 0.4.1 has no num_batches_tracked at all
    (SimpleBaseline's 2018 files; HRNet's 2019 ones could not be checked): --release
    fills them as a fresh model has them (0) and takes every other tensor from the file.
    A checkpoint that has counters must have all; any other missing key stays an error."""
    tool = _load_tool()
    full = random_state_dict(authors_hrnet_keys(
        widths=(16, 32, 64, 128), modules=(1, 1, 1), blocks=1, layer1=(32, 1),
        se_modules=NO_SE), seed=4)
    source = {k: v for k, v in full.items() if not k.endswith('num_batches_tracked')}
    assert len(source) < len(full)
    src, dst = tmp_path / 'pose_resnet_2018_style.pth', tmp_path / 'converted.pth'
    torch.save(source, src)
    assert tool.main([str(src), str(dst), '--config', str(SAMPLE_CONFIG), '--release']) == 0
    stock = MODELS.build(stock_model_cfg(Config.fromfile(str(SAMPLE_CONFIG)).model))
    fresh = stock.state_dict()
    counters = [k for k in fresh if k.endswith('num_batches_tracked')]
    assert len(counters) == len(full) - len(source)
    assert f'{len(counters)} num_batches_tracked set to 0' in capsys.readouterr().out
    checkpoint = torch.load(dst, map_location='cpu', weights_only=True)
    assert checkpoint['meta']['mipnet_filled_counters'] == len(counters)
    state = checkpoint['state_dict']
    for key in counters:
        assert torch.equal(state[key], fresh[key]) and int(state[key]) == 0, key
    for name, tensor in source.items():
        assert torch.equal(state[map_official_key(name, HRNET_RULES)], tensor), name
    load_checkpoint(stock, str(dst), map_location='cpu', strict=True)

    # Counters in the file: every one is required.
    partial = dict(full)
    del partial['bn1.num_batches_tracked']
    message = _error(partial, stock)
    assert '1 keys of the model the checkpoint does not fill' in message
    assert 'backbone.bn1.num_batches_tracked ()' in message
    # Without counters, any other missing key is named (the counters are not listed).
    del source['bn1.running_mean']
    message = _error(source, stock)
    assert '1 keys of the model the checkpoint does not fill' in message
    assert 'backbone.bn1.running_mean (64,)' in message
    # A full file records no filled counter.
    full_src, full_dst = tmp_path / 'full.pth', tmp_path / 'full_converted.pth'
    torch.save(full, full_src)
    assert tool.main([str(full_src), str(full_dst), '--config', str(SAMPLE_CONFIG),
                      '--release']) == 0
    assert 'num_batches_tracked' not in capsys.readouterr().out
    assert torch.load(full_dst, map_location='cpu',
                      weights_only=True)['meta']['mipnet_filled_counters'] == 0


def test_cli_never_writes_over_its_input_or_a_foreign_file(tmp_path, capsys):
    tool = _load_tool()
    source = random_state_dict(authors_hrnet_keys(
        widths=(16, 32, 64, 128), modules=(1, 1, 1), blocks=1, layer1=(32, 1)))
    src = tmp_path / 'theirs.pth'
    torch.save(dict(state_dict=source), src)
    src_bytes = src.read_bytes()
    # DST = SRC, also through a symlink: refused, SRC unchanged.
    link = tmp_path / 'link.pth'
    link.symlink_to(src)
    for dst in (src, link):
        assert tool.main([str(src), str(dst), '--config', str(SAMPLE_CONFIG)]) == 1
        assert 'would destroy the input' in capsys.readouterr().err
    assert src.read_bytes() == src_bytes
    # DST = the config: refused, the config unchanged.
    config_copy = tmp_path / 'config.py'
    config_copy.write_text(SAMPLE_CONFIG.read_text())
    assert tool.main([str(src), str(config_copy), '--config', str(config_copy)]) == 1
    assert config_copy.read_text() == SAMPLE_CONFIG.read_text()
    capsys.readouterr()
    # A file this tool did not write: refused; its own earlier output: replaced.
    foreign = tmp_path / 'someone_elses.pth'
    torch.save(dict(state_dict=dict(w=torch.zeros(1))), foreign)
    foreign_bytes = foreign.read_bytes()
    assert tool.main([str(src), str(foreign), '--config', str(SAMPLE_CONFIG)]) == 1
    assert 'was not written by this tool' in capsys.readouterr().err
    assert foreign.read_bytes() == foreign_bytes
    ours = tmp_path / 'ours.pth'
    assert tool.main([str(src), str(ours), '--config', str(SAMPLE_CONFIG)]) == 0
    assert tool.main([str(src), str(ours), '--config', str(SAMPLE_CONFIG)]) == 0


def test_the_model_zoo_command_converts_the_released_layout(tmp_path, monkeypatch, capsys):
    """The one command the model table and the metafile give for the authors' release
    (tools/mipnet_tools/metafile.py), run as written from a checkout, on a file of the
    released layout (their training checkpoint: ``module.`` names, ``latest_state_dict``)."""
    import shlex

    from mipnet_tools.metafile import (
        AUTHORS_W48_CONVERTED,
        AUTHORS_W48_FILE,
        authors_convert_command,
    )
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'configs').symlink_to(REPO / 'configs')
    source = random_state_dict(authors_hrnet_keys(), seed=5)
    (tmp_path / 'checkpoints').mkdir()
    wrapped = {f'module.{k}': v for k, v in source.items()}
    torch.save(dict(epoch=110, state_dict=wrapped, latest_state_dict=wrapped), AUTHORS_W48_FILE)
    python, script, *args = shlex.split(authors_convert_command())
    assert (python, script) == ('python', 'tools/convert_official_ckpt.py')
    assert _load_tool().main(args) == 0
    assert "(latest_state_dict) for MIPHRNet num_instances=2 lambda_encoding='one_hot'" in \
        capsys.readouterr().out
    model = build_from_config(W48_CONFIG)
    load_checkpoint(model, AUTHORS_W48_CONVERTED, map_location='cpu', strict=True)
    assert torch.equal(model.backbone.mimb_output[0].lambda_gate[3].weight,
                       source['stage4_se.se_layers.0.fc_lambda.3.weight'])


def _save_stock_mmpose_checkpoint(path: Path) -> None:
    """A real stock MMPose checkpoint: MMPose's TopdownPoseEstimator (HRNet + HeatmapHead)
    built from the sample config's stock model config, saved as MMPose's model-zoo files
    are (``state_dict`` and ``meta``)."""
    stock = MODELS.build(stock_model_cfg(Config.fromfile(str(SAMPLE_CONFIG)).model))
    assert type(stock).__name__ == 'TopdownPoseEstimator'
    torch.save(dict(state_dict=stock.state_dict(), meta=dict(mmpose_version='1.3.2')), path)


@pytest.mark.parametrize('release', [False, True], ids=['plain', 'release'])
def test_cli_recognises_a_stock_mmpose_checkpoint_in_one_line(tmp_path, capsys, release):
    """Not 500 lines of unmapped keys and advice to use --release (which gave 500 more)."""
    src, dst = tmp_path / 'stock.pth', tmp_path / 'out.pth'
    _save_stock_mmpose_checkpoint(src)
    argv = [str(src), str(dst), '--config', str(SAMPLE_CONFIG)] + ['--release'] * release
    assert _load_tool().main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f'error: {src} is already in the MMPose layout (state_dict keys backbone.*, head.*): '
        'a stock MMPose checkpoint (no MIMB weights): a MIPNet run starts from it as it is, '
        "as the config's `load_from`. It needs no conversion; this tool converts the MIPNet "
        "authors' checkpoints and the HRNet/SimpleBaseline releases."]
    assert not dst.exists()


def test_cli_recognises_a_training_checkpoint_of_this_plugin(sample_training, tmp_path, capsys):
    """A training checkpoint of this plugin (mmengine's message hub, optimizer state, numpy
    metadata) is recognised as already converted, with or without --allow-pickle."""
    work_dir, _ = sample_training
    src = work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth'
    for extra in ([], ['--allow-pickle']):
        argv = [str(src), str(tmp_path / 'out.pth'), '--config', str(SAMPLE_CONFIG)] + extra
        assert _load_tool().main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert err[0].startswith(f'error: {src} is already in the MMPose layout')
        assert 'a MIPNet checkpoint of this plugin (it has MIMB weights): test it or run ' \
            f'inference with it as it is (`mim test mmpose CONFIG --checkpoint {src}`' in err[0]
    assert not (tmp_path / 'out.pth').exists()


@pytest.mark.parametrize('damage', ['empty', 'text', 'truncated'])
def test_cli_names_an_empty_text_or_truncated_file(tmp_path, capsys, damage):
    src = tmp_path / 'theirs.pth'
    if damage == 'text':  # what a Git LFS checkout without LFS leaves
        src.write_text('version https://git-lfs.github.com/spec/v1\n'
                       'oid sha256:' + '4d7a2146' * 8 + '\n'
                       'size 255207488\n')
    else:
        _save_stock_mmpose_checkpoint(src)
        content = src.read_bytes()
        src.write_bytes(b'' if damage == 'empty' else content[:len(content) // 2])
    size = src.stat().st_size
    assert _load_tool().main([str(src), str(tmp_path / 'out.pth'), '--config',
                              str(SAMPLE_CONFIG)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    expected = {
        'empty': f'{src} is empty (0 bytes): it is no checkpoint; download or copy it again.',
        'text': f"{src} ({size} bytes) is no PyTorch checkpoint (neither a zip archive nor a "
                "pickle; it starts with 'version https://git-lfs.github.com/spec/v1'): give the "
                '.pth file itself.',
        'truncated': f"{src} ({size} bytes) is a truncated zip archive (torch's checkpoint "
                     'format without its end): download or copy it again.',
    }[damage]
    assert err == [f'error: {expected}']


def test_problem_lists_are_capped(small_model_and_source):
    model, source = small_model_and_source
    source = dict(source, **{f'other_model.layer{i}.weight': torch.zeros(1) for i in range(40)})
    message = _error(source, model)
    assert '40 keys of the checkpoint that no rule maps' in message
    assert '  ... and 28 more' in message
    assert len(message.splitlines()) < 20
