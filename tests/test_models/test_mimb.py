import pytest
import torch

from mipnet_mmpose.models import MIMB, encode_lambdas, lambda_code_size, lambda_code_table


def _spread_weights(mimb: MIMB) -> MIMB:
    """The authors' init (std 0.001) makes λ's effect tiny; widen it so tests see it."""
    torch.manual_seed(0)
    for p in mimb.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return mimb


def test_lambda_encodings():
    lambdas = torch.arange(4)
    assert torch.equal(encode_lambdas(lambdas[:2], 2, 'one_hot'),
                       torch.tensor([[1., 0.], [0., 1.]]))
    # The authors' 2-bit code for N=3/4.
    assert torch.equal(encode_lambdas(lambdas, 4, 'binary'),
                       torch.tensor([[0., 0.], [1., 0.], [0., 1.], [1., 1.]]))
    assert lambda_code_size(3, 'binary') == 2
    assert lambda_code_size(3, 'one_hot') == 3
    with pytest.raises(ValueError, match='lambda_encoding'):
        lambda_code_size(2, 'gray')


def test_lambda_code_tables():
    """Every code, pinned: trained checkpoints depend on these values."""
    assert lambda_code_table(2, 'one_hot').tolist() == [[1., 0.], [0., 1.]]
    assert lambda_code_table(3, 'one_hot').tolist() == [[1., 0., 0.], [0., 1., 0.],
                                                        [0., 0., 1.]]
    assert lambda_code_table(2, 'binary').tolist() == [[0.], [1.]]
    assert lambda_code_table(3, 'binary').tolist() == [[0., 0.], [1., 0.], [0., 1.]]
    assert lambda_code_table(4, 'binary').tolist() == [[0., 0.], [1., 0.], [0., 1.], [1., 1.]]
    table = lambda_code_table(4, 'binary')
    assert table.dtype == torch.float32
    lambdas = torch.tensor([3, 0, 2, 2, 1])
    assert torch.equal(encode_lambdas(lambdas, 4, 'binary'), table[lambdas])
    assert torch.equal(encode_lambdas(lambdas, 4, 'binary', table), table[lambdas])
    assert torch.equal(encode_lambdas(lambdas.int(), 4, 'binary'), table[lambdas])


def test_mimb_scales_by_product_of_two_sigmoid_gates():
    mimb = _spread_weights(MIMB(16, num_instances=2)).eval()
    x = torch.randn(3, 16, 5, 4)
    lambdas = torch.tensor([0, 1, 1])
    out = mimb(x, lambdas)

    # The facts sheet's formula, written out with the module's own layers.
    w1, w2 = mimb.se_gate[0].weight, mimb.se_gate[2].weight
    e = torch.sigmoid(torch.relu(x.mean((2, 3)) @ w1.T) @ w2.T)
    l1, bn, l2 = mimb.lambda_gate[0], mimb.lambda_gate[1], mimb.lambda_gate[3]
    code = torch.nn.functional.one_hot(lambdas, 2).float()
    z = torch.sigmoid(l2(torch.relu(bn(l1(code)))))
    torch.testing.assert_close(out, x * (e * z)[:, :, None, None])

    # λ changes the output for the same features.
    same_x = x[:1].repeat(2, 1, 1, 1)
    out01 = mimb(same_x, torch.tensor([0, 1]))
    assert not torch.allclose(out01[0], out01[1])


def test_mimb_gradients_reach_lambda_embedding():
    mimb = _spread_weights(MIMB(8, num_instances=3, lambda_encoding='binary')).train()
    x = torch.randn(4, 8, 3, 3, requires_grad=True)
    mimb(x, torch.tensor([0, 1, 2, 1])).square().sum().backward()
    for name, p in mimb.lambda_gate.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert x.grad is not None


def test_mimb_init_matches_authors():
    mimb = MIMB(32, num_instances=2)
    assert mimb.lambda_gate[0].weight.std() < 0.01
    assert torch.count_nonzero(mimb.lambda_gate[3].bias) == 0


@pytest.mark.parametrize('lambdas, error', [
    (torch.tensor([0, 2]), 'lie in \\[0, 1\\]'),
    (torch.tensor([-1, 0]), 'lie in'),
    (torch.tensor([0, 1, 0]), 'shape \\(2,\\)'),
    (torch.tensor([0.0, 1.0]), 'integer'),
])
def test_mimb_rejects_bad_lambdas(lambdas, error):
    mimb = MIMB(8, num_instances=2).eval()
    with pytest.raises((ValueError, TypeError), match=error):
        mimb(torch.randn(2, 8, 2, 2), lambdas)


def test_mimb_rejects_wrong_channels():
    with pytest.raises(ValueError, match='expects \\(B, 8, H, W\\)'):
        MIMB(8, 2)(torch.randn(2, 4, 2, 2), torch.tensor([0, 1]))


def test_mimb_init_none_keeps_pytorch_default_linear_init():
    """The authors' ResNet models leave their SE-λ Linear layers at PyTorch's default
    (uniform within ±1/sqrt(fan_in), with a bias), not normal(0.001)."""
    torch.manual_seed(0)
    mimb = MIMB(256, num_instances=2, init_std=None)
    for layer in (mimb.se_gate[0], mimb.se_gate[2], mimb.lambda_gate[0], mimb.lambda_gate[3]):
        bound = layer.in_features ** -0.5
        assert layer.weight.abs().max() <= bound
        # Uniform on ±bound has std bound/sqrt(3): far from normal(0.001).
        assert abs(float(layer.weight.std()) - bound / 3 ** 0.5) < 0.2 * bound
        if layer.bias is not None:
            assert torch.count_nonzero(layer.bias) == layer.out_features
            assert layer.bias.abs().max() <= bound
