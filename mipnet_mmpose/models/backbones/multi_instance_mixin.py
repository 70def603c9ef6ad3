"""What the MIMB backbones share: λ routing, trunk sharing and the N/encoding record."""
from typing import List, Optional, Sequence, Union

import torch
from torch import Tensor, nn

from ...utils import check_int_at_least
from ..mimb import (
    LAMBDA_ENCODINGS,
    MIMB,
    check_lambda_encoding,
    check_lambdas,
    encode_lambdas,
    lambda_code_table,
)

Features = Union[Tensor, List[Tensor]]


class MultiInstanceBackboneMixin:
    """Turns a stock MMPose backbone into a λ-conditioned one without touching its code.

    The stock ``forward`` runs unchanged. MIMBs are attached with forward hooks
    on named stock sub-modules ("sites"), so every stock parameter keeps its name
    and stock checkpoints load. While :meth:`forward` runs, the hooks read the λ of
    the current call. At the first site, a call with ``num_instances=N`` repeats
    each row N times (row ``b*N + i`` is sample b with λ=i): everything before
    the first MIMB is λ-independent and is computed once per sample.

    The model's ``num_instances`` and λ encoding are kept in the buffer
    ``mip_meta`` so that loading a checkpoint trained with other values fails
    with a clear error instead of mmengine's silent skip of misshapen keys.

    Exporters and compilers see one plain graph: λ is encoded by looking its
    rows up in the constant code table (the non-persistent buffer
    ``lambda_code_table``, (N, D), not in checkpoints), and the per-call λ is
    set and cleared around the stock forward with ``try``/``finally`` (which
    ``torch.compile`` traces through the hooks without a graph break, unlike a
    generator context manager). The subclass's ``forward`` is::

        self._begin_call(x, lambdas, num_instances)
        try:
            return super().forward(x)
        finally:
            self._end_call()
    """

    num_instances: int
    lambda_encoding: str

    def _init_multi_instance(self, num_instances: int, lambda_encoding: str,
                             mimb_reduction: int) -> None:
        num_instances = check_int_at_least('num_instances', num_instances, 1)
        check_lambda_encoding(lambda_encoding)
        self.num_instances = num_instances
        self.lambda_encoding = lambda_encoding
        self.mimb_reduction = mimb_reduction
        self._rows_expanded_at_a_site = False
        self._call_codes: Optional[Tensor] = None
        self._call_num_instances: Optional[int] = None
        if num_instances > 1:
            # With N=1 nothing is added: the backbone is exactly the stock one.
            self.register_buffer(
                'mip_meta',
                torch.tensor([num_instances, LAMBDA_ENCODINGS[lambda_encoding]]),
                persistent=True)
            # A constant of the code, not state: left out of checkpoints, so that
            # existing ones load with the same keys.
            self.register_buffer(
                'lambda_code_table', lambda_code_table(num_instances, lambda_encoding),
                persistent=False)

    def _build_mimbs(self, channels: Sequence[int]) -> nn.ModuleList:
        return nn.ModuleList(
            MIMB(c, self.num_instances, self.lambda_encoding, self.mimb_reduction)
            for c in channels)

    def _attach_mimbs(self, site: nn.Module, mimbs: nn.ModuleList, on: str) -> None:
        """Apply ``mimbs`` to the input (``on='input'``) or output of ``site``.

        Attach in forward order: the first input site is where the batch is
        expanded to B·N rows.
        """
        if on not in ('input', 'output'):
            raise ValueError(f"on must be 'input' or 'output', got {on!r}")
        expand = on == 'input' and not self._rows_expanded_at_a_site
        self._rows_expanded_at_a_site |= expand
        hook = _MIMBSiteHook(self, mimbs, expand)
        if on == 'input':
            site.register_forward_pre_hook(hook.on_input)
        else:
            site.register_forward_hook(hook.on_output)

    def _expand_rows(self, feats: Features) -> Features:
        n = self._call_num_instances
        if not n or n == 1:
            return feats
        if isinstance(feats, Tensor):
            return feats.repeat_interleave(n, dim=0)
        return [f.repeat_interleave(n, dim=0) for f in feats]

    def _modulate(self, feats: Features, mimbs: nn.ModuleList) -> Features:
        codes = self._call_codes
        if isinstance(feats, Tensor):
            return mimbs[0].modulate(feats, codes)
        # Branches beyond the MIMBs (e.g. a single-output stage) pass unchanged.
        return [m.modulate(f, codes) for m, f in zip(mimbs, feats)] + list(feats[len(mimbs):])

    def _begin_call(self, x: Tensor, lambdas: Optional[Tensor],
                    num_instances: Optional[int]) -> None:
        """Check and encode the λ of a forward call for the MIMB hooks to read.

        Args:
            x (Tensor): The call's images in shape (B, 3, H, W).
            lambdas (Tensor, optional): λ per row in shape (B,); None means λ=0.
            num_instances (int, optional): Run λ = 0..n-1 for every row instead.
        """
        if lambdas is not None and num_instances is not None:
            raise ValueError('pass either lambdas or num_instances to the backbone, not both')
        batch_size, device = x.shape[0], x.device
        if num_instances is not None:
            if not 1 <= num_instances <= self.num_instances:
                raise ValueError(f'num_instances={num_instances} is outside [1, '
                                 f'{self.num_instances}], the range this backbone was '
                                 f'built for (num_instances={self.num_instances})')
            lambdas = torch.arange(num_instances, device=device).repeat(batch_size)
        elif lambdas is None:
            # λ=0 (the box's own person): a stock estimator, mode='tensor' and
            # flops counting run the backbone without knowing about λ.
            lambdas = torch.zeros(batch_size, dtype=torch.long, device=device)
        else:
            # Only λ given by the caller needs checking (once per forward). The
            # check reads λ's values, so under torch.compile this path (and only
            # this one) has a graph break; num_instances and λ=0 have none.
            check_lambdas(lambdas, self.num_instances, batch_size)
        # With N=1 there is no MIMB to read a code.
        self._call_codes = None if self.num_instances == 1 else encode_lambdas(
            lambdas, self.num_instances, self.lambda_encoding, self.lambda_code_table)
        self._call_num_instances = num_instances

    def _end_call(self) -> None:
        """Forget the λ of the finished call (also when it raised)."""
        self._call_codes = None
        self._call_num_instances = None

    def train(self, mode: bool = True):
        """Set train/eval mode; returns self (MMPose's HRNet returns None, which
        breaks ``model.eval()`` chaining)."""
        super().train(mode)
        return self

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        recorded = state_dict.get(prefix + 'mip_meta')
        ours = (self.num_instances, self.lambda_encoding)
        if recorded is not None:
            names = {v: k for k, v in LAMBDA_ENCODINGS.items()}
            theirs = (int(recorded[0]), names.get(int(recorded[1]), f'code {int(recorded[1])}'))
            if theirs != ours:
                raise ValueError(
                    f'checkpoint was trained with num_instances={theirs[0]}, '
                    f"lambda_encoding='{theirs[1]}' but the config builds "
                    f"num_instances={ours[0]}, lambda_encoding='{ours[1]}': set "
                    f'model.backbone.num_instances / lambda_encoding (and the codec, '
                    f'head and transform N) to match the checkpoint')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class _MIMBSiteHook:
    """Forward hook applying a site's MIMBs with the λ of the owner's current call.

    A small object rather than a closure so that ``copy.deepcopy`` of the model
    (EMA, model averaging) re-points the copy's hooks at the copied modules.
    """

    def __init__(self, owner: MultiInstanceBackboneMixin, mimbs: nn.ModuleList,
                 expand: bool):
        self.owner = owner
        self.mimbs = mimbs
        self.expand = expand

    def on_input(self, module: nn.Module, args: tuple) -> tuple:
        feats = args[0]
        if self.expand:
            feats = self.owner._expand_rows(feats)
        return (self.owner._modulate(feats, self.mimbs), ) + tuple(args[1:])

    def on_output(self, module: nn.Module, args: tuple, output: Features) -> Features:
        return self.owner._modulate(output, self.mimbs)
