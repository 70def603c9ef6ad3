"""The Multi-Instance Modulation Block (MIMB) and the encodings of λ."""
from typing import Optional

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from ..utils import check_int_at_least

#: Std of the normal init of the MIMB Linear layers in the authors' HRNet.
AUTHORS_HRNET_INIT_STD = 0.001

#: Named encodings of the instance selector λ, and the integer each is recorded as in checkpoints.
LAMBDA_ENCODINGS = {'one_hot': 0, 'binary': 1}


def default_lambda_encoding(num_instances: int) -> str:
    """The λ code a model of N instances gets when its config names none.

    The authors' codes: one-hot for N=2 (their released model; the paper's
    code), the 2-bit ``'binary'`` code for their N=3 and N=4 models
    (``configs/mipnet-n3_*``, ``configs/mipnet-n4_*``). Every other N has no
    model of theirs and gets the paper's one-hot code.

    Args:
        num_instances (int): N.

    Returns:
        str: ``'binary'`` for N = 3 or 4, else ``'one_hot'``.
    """
    check_int_at_least('num_instances', num_instances, 1)
    return 'binary' if num_instances in (3, 4) else 'one_hot'


def lambda_code_size(num_instances: int, encoding: str) -> int:
    """Length D of the code of λ.

    ``one_hot`` uses D = N (the paper, and the authors' N=2 model). ``binary`` uses
    the smallest number of bits that tells N values apart; for N=3 and N=4 that is
    the authors' 2-bit code ``[0,0], [1,0], [0,1], [1,1]`` (least significant bit first).
    """
    check_lambda_encoding(encoding)
    check_int_at_least('num_instances', num_instances, 1)
    if encoding == 'one_hot':
        return num_instances
    return max(1, (num_instances - 1).bit_length())


def check_lambda_encoding(encoding: str) -> None:
    if encoding not in LAMBDA_ENCODINGS:
        raise ValueError(f'lambda_encoding must be one of {sorted(LAMBDA_ENCODINGS)}, '
                         f'got {encoding!r}')


def check_lambdas(lambdas: Tensor, num_instances: int, batch_size: int) -> None:
    """Raise a clear error unless ``lambdas`` is a (B,) integer tensor in [0, N)."""
    if not isinstance(lambdas, Tensor):
        raise TypeError(f'lambdas must be a (B,) torch.long tensor, got {type(lambdas).__name__}')
    if lambdas.dim() != 1 or lambdas.shape[0] != batch_size:
        raise ValueError(f'lambdas must have shape ({batch_size},) to match the batch, '
                         f'got {tuple(lambdas.shape)}')
    if lambdas.dtype.is_floating_point or lambdas.dtype == torch.bool:
        raise TypeError(f'lambdas must be an integer tensor, got {lambdas.dtype}')
    # One read of λ's values (a sync on a GPU; under torch.compile it splits the
    # graph of a call with explicit λ): the message's values are read only on failure.
    if batch_size and bool(((lambdas < 0) | (lambdas >= num_instances)).any()):
        raise ValueError(f'lambda values must lie in [0, {num_instances - 1}] for '
                         f'num_instances={num_instances}, got {lambdas.tolist()}')


def lambda_code_table(num_instances: int, encoding: str,
                      device: Optional[torch.device] = None) -> Tensor:
    """The codes of every λ value, one row per value.

    Built from Python numbers, so the table is a constant for every exporter and
    compiler (ONNX, TorchScript, ``torch.compile``): encoding λ is then one
    look-up by index (an ONNX ``Gather``), with no bit operation in the graph.

    Args:
        num_instances (int): N.
        encoding (str): ``'one_hot'`` or ``'binary'``.
        device (torch.device, optional): Where to put the table. Defaults to the CPU.

    Returns:
        Tensor: Float32 codes in shape (N, D), D = :func:`lambda_code_size`;
        row i is the code of λ=i (``one_hot``: the identity; ``binary``: the bits
        of i, least significant first).
    """
    size = lambda_code_size(num_instances, encoding)
    if encoding == 'one_hot':
        rows = [[float(i == j) for j in range(size)] for i in range(num_instances)]
    else:
        rows = [[float((i >> bit) & 1) for bit in range(size)] for i in range(num_instances)]
    return torch.tensor(rows, dtype=torch.float32, device=device)


def encode_lambdas(lambdas: Tensor,
                   num_instances: int,
                   encoding: str,
                   table: Optional[Tensor] = None) -> Tensor:
    """Encode λ values.

    Args:
        lambdas (Tensor): Instance selectors in shape (B,), integers in [0, N).
        num_instances (int): N.
        encoding (str): ``'one_hot'`` or ``'binary'``.
        table (Tensor, optional): The (N, D) :func:`lambda_code_table` of
            ``num_instances`` and ``encoding``, already on ``lambdas``' device
            (the backbones keep it as a buffer). Built here when not given.

    Returns:
        Tensor: Float codes in shape (B, D), D = :func:`lambda_code_size`.
    """
    if table is None:
        table = lambda_code_table(num_instances, encoding, lambdas.device)
    return table.index_select(0, lambdas.long())


class MIMB(BaseModule):
    """Multi-Instance Modulation Block.

    A squeeze-excite block whose channel gate is multiplied by a second gate
    computed from an embedding of the instance selector λ::

        e = sigmoid(W2 · relu(W1 · avgpool(x)))          # (B, C), no bias
        z = sigmoid(L2 · relu(BN1d(L1 · code(λ))))       # (B, C), with bias
        out = x * e * z                                  # no residual

    Args:
        channels (int): Channels C of the modulated feature map.
        num_instances (int): Number N of values λ can take.
        lambda_encoding (str, optional): ``'one_hot'`` or ``'binary'``; None
            (default): :func:`default_lambda_encoding` of N.
        reduction (int): Hidden width is ``channels // reduction``. Defaults to 4.
        init_std (float, optional): Std of the normal init of the linear
            layers (bias 0): 0.001, the authors' HRNet init
            (``pose_hrnet_se_lambda.py`` lines 540-544). None keeps PyTorch's
            default ``nn.Linear`` init (uniform, with bias), as the authors'
            ResNet models, whose ``init_weights`` does not touch their Linear
            layers (``pose_resnet_se_lambda.py`` lines 268-309).
        layout (str): ``'nchw'`` for (B, C, H, W) feature maps (default) or
            ``'nlc'`` for (B, L, C) tokens (transformer backbones): pooling is
            over H, W or L, the gate scales C either way. Not a weight: the same
            checkpoint serves both.
    """

    def __init__(self,
                 channels: int,
                 num_instances: int,
                 lambda_encoding: Optional[str] = None,
                 reduction: int = 4,
                 init_std: Optional[float] = AUTHORS_HRNET_INIT_STD,
                 layout: str = 'nchw',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        if layout not in ('nchw', 'nlc'):
            raise ValueError(f"MIMB layout must be 'nchw' or 'nlc', got {layout!r}")
        self.layout = layout
        if reduction < 1 or channels // reduction < 1:
            raise ValueError(f'MIMB reduction={reduction} leaves no hidden channels '
                             f'for {channels} channels')
        self.channels = channels
        if lambda_encoding is None:
            lambda_encoding = default_lambda_encoding(num_instances)
        self.num_instances = num_instances
        self.lambda_encoding = lambda_encoding
        hidden = channels // reduction
        code_size = lambda_code_size(num_instances, lambda_encoding)
        # Squeeze-excite gate e, from the pooled features.
        self.se_gate = nn.Sequential(
            nn.Linear(channels, hidden, bias=False), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels, bias=False))
        # λ gate z, from the code of λ. The BN1d is part of the authors' design
        # (their checkpoints carry its statistics).
        self.lambda_gate = nn.Sequential(
            nn.Linear(code_size, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, channels))
        for module in self.modules() if init_std is not None else ():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=init_std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def gates(self, x: Tensor, lambdas: Tensor) -> Tensor:
        """Per-channel scale ``e * z`` in shape (B, C) for x (B, C, H, W) and λ (B,)."""
        check_lambdas(lambdas, self.num_instances, x.shape[0])
        return self.gates_from_codes(
            x, encode_lambdas(lambdas, self.num_instances, self.lambda_encoding))

    def gates_from_codes(self, x: Tensor, codes: Tensor) -> Tensor:
        """Per-channel scale (B, C) for x (B, C, H, W) or (B, L, C) tokens and
        already encoded λ (B, D)."""
        nchw = self.layout == 'nchw'
        if x.dim() != (4 if nchw else 3) or x.shape[1 if nchw else 2] != self.channels:
            expected = f'(B, {self.channels}, H, W)' if nchw else f'(B, L, {self.channels})'
            raise ValueError(f'MIMB expects {expected} features, got {tuple(x.shape)}')
        if codes.shape[0] != x.shape[0]:
            raise ValueError(f'MIMB got {codes.shape[0]} λ codes for {x.shape[0]} feature rows')
        excitation = torch.sigmoid(self.se_gate(x.mean(dim=(2, 3) if nchw else 1)))
        modulation = torch.sigmoid(self.lambda_gate(codes.to(x.dtype)))
        return excitation * modulation

    def forward(self, x: Tensor, lambdas: Tensor) -> Tensor:
        """Modulate x (B, C, H, W) or (B, L, C) by λ (B,); returns the same shape."""
        return self._scale(x, self.gates(x, lambdas))

    def modulate(self, x: Tensor, codes: Tensor) -> Tensor:
        """Modulate x (B, C, H, W) by λ codes (B, D) that the caller encoded and checked.

        The backbones check and encode λ once per forward and call this for each
        of their MIMBs: a value check reads λ back from the device, which would
        stall a GPU five times per forward.
        """
        return self._scale(x, self.gates_from_codes(x, codes))

    def _scale(self, x: Tensor, gates: Tensor) -> Tensor:
        if self.layout == 'nchw':
            return x * gates[:, :, None, None]
        return x * gates[:, None, :]
