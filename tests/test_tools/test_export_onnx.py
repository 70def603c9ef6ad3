"""ONNX export of a MIPNet estimator (tools/export_onnx.py), checked with onnxruntime."""
import json

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from mmengine.config import Config
from mmpose.registry import MODELS
from onnx import TensorProto, helper
from torch import nn

from mipnet_mmpose.models.utils.onnx_wrapper import MultiInstanceHeatmapExporter, export_onnx
from tests.conftest import REPO, SAMPLE, SAMPLE_CONFIG, load_tool, small_hrnet_extra

INPUT_W, INPUT_H = 96, 128  # the sample config's codec input_size


def build_sample_model() -> nn.Module:
    """The sample config's model with random weights and MIMBs that depend on λ.

    The MIMB init (std 0.001) makes both λ gates ≈ 0.5, so every λ would give
    the same heatmaps; larger weights make the λ outputs differ as after training.
    The final layer's init (std 0.001) gives heatmaps of about 0.01; a larger
    one brings them to about 1, where an absolute tolerance means something.
    """
    torch.manual_seed(0)
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    for name, module in model.backbone.named_modules():
        if name.startswith('mimb') and isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=2.0)
    nn.init.normal_(model.head.final_layer.weight, std=0.3)
    return model.eval()


def real_crops() -> np.ndarray:
    """Person crops of the OCHuman sample image 003896.jpg, normalised as the config.

    Returns:
        np.ndarray: (3, 3, H, W) float32: the two GT boxes of the image and the
        first one mirrored.
    """
    cfg = Config.fromfile(str(SAMPLE_CONFIG)).model.data_preprocessor
    ann = json.loads((SAMPLE / 'ochuman' / 'test_ochuman.json').read_text())
    image_id = next(i['id'] for i in ann['images'] if i['file_name'] == '003896.jpg')
    boxes = [a['bbox'] for a in ann['annotations'] if a['image_id'] == image_id]
    image = cv2.imread(str(SAMPLE / 'ochuman' / '003896.jpg'))  # BGR
    crops = []
    for x, y, w, h in boxes[:2]:
        crop = image[int(y):int(y + h), int(x):int(x + w)]
        crops.append(cv2.resize(crop, (INPUT_W, INPUT_H), interpolation=cv2.INTER_LINEAR))
    crops.append(crops[0][:, ::-1])
    batch = np.stack(crops).astype(np.float32)
    if cfg.bgr_to_rgb:
        batch = batch[..., ::-1]
    batch = (batch - np.array(cfg.mean, np.float32)) / np.array(cfg.std, np.float32)
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def _load_tool():
    return load_tool(REPO / 'tools' / 'export_onnx.py', 'export_onnx')


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """The sample model saved as a checkpoint and exported by the tool (once)."""
    tmp = tmp_path_factory.mktemp('onnx')
    model = build_sample_model()
    checkpoint = tmp / 'sample.pth'
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out = tmp / 'mipnet_sample.onnx'
    assert _load_tool().main([str(SAMPLE_CONFIG), '--checkpoint', str(checkpoint),
                              '--out', str(out), '--verify']) == 0
    return model, out


@pytest.mark.new_torch
def test_onnx_matches_pytorch_on_real_crops(exported):
    model, out = exported
    graph = onnx.load(str(out))
    onnx.checker.check_model(graph)
    assert [i.name for i in graph.graph.input] == ['input']
    assert [o.name for o in graph.graph.output] == ['heatmaps']

    crops = real_crops()
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    wrapper = MultiInstanceHeatmapExporter(model).eval()
    for batch in (crops[:2], crops):  # B=2, then B=3 through the dynamic axis
        (got, ) = session.run(None, {'input': batch})
        with torch.no_grad():
            expected = wrapper(torch.from_numpy(batch)).numpy()
        assert got.shape == expected.shape == (len(batch), 2, 17, 32, 24)
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    # Each λ gives its own heatmaps, far beyond the export tolerance.
    scale = np.abs(got).max()
    assert 0.1 < scale < 10
    assert np.abs(got[:, 0] - got[:, 1]).max() > 0.05 * scale

    # The wrapper is the estimator's own λ-expanded tensor path, regrouped per crop.
    with torch.no_grad():
        rows = model.head.forward(model.extract_feat(torch.from_numpy(crops), 2))
    np.testing.assert_allclose(got, rows.reshape(3, 2, 17, 32, 24).numpy(), atol=1e-6)


def test_wrapper_checks_num_instances():
    model = build_sample_model()
    assert MultiInstanceHeatmapExporter(model, 1).num_instances == 1
    with pytest.raises(ValueError, match=r'in \[1, 2\]'):
        MultiInstanceHeatmapExporter(model, 3)
    x = torch.from_numpy(real_crops()[:1])
    with torch.no_grad():
        one = MultiInstanceHeatmapExporter(model, 1)(x)
        both = MultiInstanceHeatmapExporter(model, 2)(x)
    assert one.shape == (1, 1, 17, 32, 24)
    torch.testing.assert_close(one[:, 0], both[:, 0])  # λ=0 does not depend on n


def build_tiny_model(num_instances: int, encoding: str) -> nn.Module:
    """A narrow MIPNet (stage-4 widths 4/8/16/32) with λ-dependent MIMBs (see
    :func:`build_sample_model`), random weights, eval mode."""
    torch.manual_seed(num_instances)
    model = MODELS.build(dict(
        type='MultiInstanceTopdownPoseEstimator',
        num_instances=num_instances,
        lambda_encoding=encoding,
        backbone=dict(type='HRNet', extra=small_hrnet_extra(4)),
        head=dict(type='HeatmapHead', in_channels=4,
                  out_channels=17, deconv_out_channels=None),
        test_cfg=dict(flip_test=False)))
    for name, module in model.backbone.named_modules():
        if name.startswith('mimb') and isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=2.0)
    nn.init.normal_(model.head.final_layer.weight, std=0.3)
    return model.eval()


@pytest.mark.parametrize('encoding', ['one_hot', 'binary'])
@pytest.mark.parametrize('num_instances', [2, 3, 4])
def test_every_lambda_code_exports_at_the_default_opset(tmp_path, encoding, num_instances):
    """Both λ codes, N = 2..4: the tool's default opset, onnxruntime = PyTorch for
    batches of 1, 3 and 5 real crops through the dynamic batch axis."""
    tool = _load_tool()
    opset = tool.parse_args(['config.py', '--out', 'model.onnx']).opset
    model = build_tiny_model(num_instances, encoding)
    out = tmp_path / f'{encoding}_{num_instances}.onnx'
    wrapper = export_onnx(model, str(out), (INPUT_W, INPUT_H), opset_version=opset,
                               batch_size=3)
    graph = onnx.load(str(out))
    onnx.checker.check_model(graph)
    # λ is encoded by looking its code up in a constant table: no bit operations.
    ops = {node.op_type for node in graph.graph.node}
    assert not ops & {'BitwiseAnd', 'BitShift', 'OneHot'}, ops

    crops = real_crops()
    crops = np.ascontiguousarray(np.concatenate([crops, crops[..., ::-1]]))  # 6 crops
    session = ort.InferenceSession(str(out), providers=['CPUExecutionProvider'])
    for batch_size in (1, 3, 5):
        batch = crops[:batch_size]
        (got, ) = session.run(None, {'input': batch})
        with torch.no_grad():
            expected = wrapper(torch.from_numpy(batch)).numpy()
        assert got.shape == (batch_size, num_instances, 17, 32, 24)
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    # Every λ has its own output (the code reached the graph), well above the tolerance.
    scale = np.abs(got).max()
    assert scale > 0.1
    for i in range(1, num_instances):
        assert np.abs(got[:, i] - got[:, 0]).max() > 0.01 * scale, i


def test_out_never_replaces_an_input_or_a_foreign_file(exported, tmp_path, capsys):
    """--out naming the checkpoint, the config, a file that is no ONNX export, another
    tool's ONNX model or an edited export: one-line refusals, files unchanged; an unchanged
    earlier export is replaced."""
    _, onnx_file = exported
    checkpoint = onnx_file.parent / 'sample.pth'
    before = checkpoint.read_bytes()
    tool = _load_tool()
    for out, message in ((checkpoint, 'is the file read by the export'),
                         (SAMPLE_CONFIG, 'is the file read by the export')):
        assert tool.main([str(SAMPLE_CONFIG), '--checkpoint', str(checkpoint),
                          '--out', str(out)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
    assert checkpoint.read_bytes() == before
    notes = tmp_path / 'notes.onnx'
    notes.write_text('mine\n')
    assert tool.main([str(SAMPLE_CONFIG), '--out', str(notes)]) == 1
    assert 'exists and was not written by this tool' in capsys.readouterr().err
    assert notes.read_text() == 'mine\n'
    # A real ONNX model another tool wrote (any parseable ONNX once passed for an export).
    other = tmp_path / 'other.onnx'
    graph = helper.make_graph([helper.make_node('Relu', ['x'], ['y'])], 'relu',
                              [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, producer_name='pytorch'), str(other))
    onnx.checker.check_model(onnx.load(str(other)))
    theirs = other.read_bytes()
    assert tool.main([str(SAMPLE_CONFIG), '--out', str(other)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: --out {other} exists and was not written by this tool; move it '
                   'away or give another output path']
    assert other.read_bytes() == theirs
    # An export edited since (its graph changed, e.g. by a simplifier) is kept.
    edited = onnx.load(str(onnx_file))
    edited.graph.doc_string = 'simplified'
    edited_file = tmp_path / 'edited.onnx'
    onnx.save(edited, str(edited_file))
    kept = edited_file.read_bytes()
    assert tool.main([str(SAMPLE_CONFIG), '--out', str(edited_file)]) == 1
    assert 'was changed since this tool wrote it, so it is kept' in capsys.readouterr().err
    assert edited_file.read_bytes() == kept
    again = tmp_path / 'again.onnx'
    again.write_bytes(onnx_file.read_bytes())  # an unchanged earlier export: replaced
    assert tool.main([str(SAMPLE_CONFIG), '--checkpoint', str(checkpoint),
                      '--out', str(again)]) == 0
    onnx.checker.check_model(onnx.load(str(again)))
    assert {p.key for p in onnx.load(str(again)).metadata_props} >= \
        {'mipnet_mmpose.written_by', 'mipnet_mmpose.graph_sha256'}


def test_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert _load_tool().main([str(SAMPLE_CONFIG), '--checkpoint', str(tmp_path / 'nope.pth'),
                              '--out', str(tmp_path / 'x.onnx')]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'error: --checkpoint not found: {tmp_path / "nope.pth"}']
    assert not (tmp_path / 'x.onnx').exists()


def test_stock_checkpoint_is_a_one_line_error(tmp_path, capsys):
    """A real MMPose checkpoint (the sample config's stock HRNet + HeatmapHead, no MIMBs):
    one sentence naming it and what it is, no traceback, nothing written."""
    from tests.conftest import stock_model_cfg
    stock = MODELS.build(stock_model_cfg(Config.fromfile(str(SAMPLE_CONFIG)).model))
    assert type(stock).__name__ == 'TopdownPoseEstimator'
    checkpoint = tmp_path / 'stock.pth'
    torch.save(dict(state_dict=stock.state_dict(), meta=dict()), checkpoint)
    assert _load_tool().main([str(SAMPLE_CONFIG), '--checkpoint', str(checkpoint),
                              '--out', str(tmp_path / 'x.onnx')]) == 1
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    err = [line for line in err.splitlines() if line.startswith('error:')]  # not MMPose's warnings
    assert len(err) == 1 and err[0].startswith(f'error: {checkpoint} does not fit the model')
    assert 'a stock model without MIMBs (N=1)' in err[0]
    assert not (tmp_path / 'x.onnx').exists()
