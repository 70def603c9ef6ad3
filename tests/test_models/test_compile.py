"""torch.compile of the MIMB backbones: λ handling adds no graph break, outputs match eager.

Inductor (the backend of mmengine's ``compile=True``) runs gcc once per generated
kernel, several seconds each on this two-core machine: a whole tiny backbone
takes 40-150 s to compile, so by default the backbone is compiled with the
``aot_eager`` backend (the same TorchDynamo graph capture and AOTAutograd
forward/backward graphs, eager kernels) and inductor compiles the λ part alone.
``MIPNET_TEST_INDUCTOR=1`` adds the whole backbone through inductor.
"""
import copy
import os

import pytest
import torch
from mmpose.registry import MODELS
from torch import Tensor, nn

from mipnet_mmpose.models import MIMB, encode_lambdas, lambda_code_table
from tests.conftest import small_hrnet_extra

# (backbone, N, λ encoding): both backbones, both codes (the same table look-up).
CASES = [('hrnet', 4, 'binary'), ('resnet', 2, 'one_hot')]


def _backbone(kind: str, num_instances: int, encoding: str) -> nn.Module:
    """A narrow MIPHRNet (stage-4 widths 4..32) or MIPResNet-18 (widths 8..64) with
    MIMB weights spread so that λ visibly changes the features."""
    torch.manual_seed(0)
    if kind == 'hrnet':
        cfg = dict(type='MIPHRNet', extra=small_hrnet_extra(4))
    else:
        cfg = dict(type='MIPResNet', depth=18, stem_channels=8, base_channels=8,
                   out_indices=(3, ))
    backbone = MODELS.build(dict(cfg, num_instances=num_instances, lambda_encoding=encoding))
    for name, p in backbone.named_parameters():
        if 'mimb' in name:
            nn.init.normal_(p, std=0.5)
    return backbone


def _images(batch_size: int = 2) -> Tensor:
    return torch.randn(batch_size, 3, 64, 64, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize('kind, n, encoding', CASES)
def test_lambda_handling_adds_no_graph_break(kind, n, encoding):
    backbone = _backbone(kind, n, encoding)
    x = _images()
    # All n instances (training, prediction, export) and λ=0 (stock callers): one graph.
    for train, call in ((True, dict(num_instances=n)), (False, dict())):
        backbone.train(train)
        torch._dynamo.reset()
        explanation = torch._dynamo.explain(backbone)(x, **call)
        assert explanation.graph_count == 1, (train, call, explanation.break_reasons)
        assert explanation.graph_break_count == 0, (train, call)
    # λ given by the caller is checked against [0, N): that reads its values, the
    # only break there is.
    torch._dynamo.reset()
    explanation = torch._dynamo.explain(backbone)(x, lambdas=torch.tensor([0, n - 1]))
    assert explanation.break_reasons
    for reason in explanation.break_reasons:
        assert reason.user_stack[-1].name == 'check_lambdas', reason
    torch._dynamo.reset()


@pytest.mark.parametrize('kind, n, encoding', CASES)
def test_compiled_backbone_matches_eager(kind, n, encoding):
    """Graph capture (fullgraph: a break fails) of a training and a prediction step."""
    eager = _backbone(kind, n, encoding)
    compiled_module = copy.deepcopy(eager)  # BN statistics move in training
    compiled = torch.compile(compiled_module, backend='aot_eager', fullgraph=True)
    x = _images()

    # Training: all n instances, forward and backward.
    outputs = [model(x, num_instances=n)[-1] for model in (eager, compiled)]
    torch.testing.assert_close(outputs[1], outputs[0])
    for out in outputs:
        out.square().mean().backward()
    for (name, p_eager), p_comp in zip(eager.named_parameters(), compiled_module.parameters()):
        torch.testing.assert_close(p_comp.grad, p_eager.grad, msg=name)
    torch.testing.assert_close(compiled_module.state_dict(), eager.state_dict())

    # Prediction of all n instances; each λ gives its own features.
    eager.eval()
    compiled_module.eval()
    with torch.no_grad():
        got = compiled(x, num_instances=n)[-1]
        torch.testing.assert_close(got, eager(x, num_instances=n)[-1])
    per_lambda = got.unflatten(0, (-1, n))
    scale = per_lambda.abs().max()
    assert (per_lambda[:, 0] - per_lambda[:, n - 1]).abs().max() > 0.01 * scale
    torch._dynamo.reset()


class _LambdaModulation(nn.Module):
    """What a backbone does with λ at its first MIMB site: repeat each row n times,
    look up the codes of λ = 0..n-1 in the constant table, modulate."""

    def __init__(self, channels: int, num_instances: int, encoding: str):
        super().__init__()
        self.num_instances = num_instances
        self.encoding = encoding
        self.mimb = MIMB(channels, num_instances, encoding)
        self.register_buffer('table', lambda_code_table(num_instances, encoding),
                             persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B*n, C, H, W), row b*n + i modulated by λ=i."""
        n = self.num_instances
        lambdas = torch.arange(n, device=x.device).repeat(x.shape[0])
        codes = encode_lambdas(lambdas, n, self.encoding, self.table)
        return self.mimb.modulate(x.repeat_interleave(n, dim=0), codes)


def test_inductor_compiles_the_lambda_code_and_mimb():
    torch.manual_seed(0)
    module = _LambdaModulation(8, 3, 'binary').eval()
    for p in module.parameters():
        nn.init.normal_(p, std=0.5)
    x = torch.randn(2, 8, 4, 4)
    with torch.no_grad():
        expected = module(x)
        got = torch.compile(module, fullgraph=True)(x)
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got[0], got[1])  # λ=0 and λ=1 of the same row differ
    torch._dynamo.reset()


@pytest.mark.skipif(os.environ.get('MIPNET_TEST_INDUCTOR') != '1',
                    reason='inductor compiles a backbone in 40-150 s here; '
                    'set MIPNET_TEST_INDUCTOR=1')
def test_inductor_compiled_backbone_matches_eager():
    eager = _backbone('hrnet', 3, 'binary')
    compiled_module = copy.deepcopy(eager)
    compiled = torch.compile(compiled_module, fullgraph=True)
    x = _images()
    outputs = [model(x, num_instances=3)[0] for model in (eager, compiled)]
    torch.testing.assert_close(outputs[1], outputs[0])
    for out in outputs:
        out.square().mean().backward()
    for (name, p_eager), p_comp in zip(eager.named_parameters(), compiled_module.parameters()):
        torch.testing.assert_close(p_comp.grad, p_eager.grad, msg=name)
    torch._dynamo.reset()
