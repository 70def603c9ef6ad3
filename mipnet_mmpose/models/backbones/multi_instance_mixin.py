"""What every MIMB backbone shares: λ routing, trunk sharing, sites and the N/encoding record."""
import warnings
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor, nn

from ...utils import check_int_at_least
from ..mimb import (
    AUTHORS_HRNET_INIT_STD,
    LAMBDA_ENCODINGS,
    MIMB,
    check_lambda_encoding,
    check_lambdas,
    default_lambda_encoding,
    encode_lambdas,
    lambda_code_table,
)

Features = Union[Tensor, List[Tensor], Tuple[Tensor, ...]]


class MIMBSite(NamedTuple):
    """Where MIMBs modulate a backbone's features.

    Args:
        module (str): Dotted name of a stock sub-module that the stock forward
            calls (e.g. ``'stage4'``, ``'layers.2'``).
        on (str): ``'input'`` (its first positional argument) or ``'output'``.
        name (str, optional): Attribute that holds the site's MIMBs. Defaults to
            ``mimb_<module>_<on>`` (dots as underscores).
        max_branches (int, optional): Modulate only the first this many tensors
            of a multi-branch feature list; the others pass unchanged.
    """
    module: str
    on: str = 'input'
    name: Optional[str] = None
    max_branches: Optional[int] = None

    @property
    def attribute(self) -> str:
        return self.name or f"mimb_{self.module.replace('.', '_')}_{self.on}"

    @classmethod
    def parse(cls, spec: Union['MIMBSite', str, dict, Sequence]) -> 'MIMBSite':
        """A site from ``'stage4'``, ``'stage4:output'``, a dict or a tuple."""
        if isinstance(spec, MIMBSite):
            site = spec
        elif isinstance(spec, str):
            module, _, on = spec.partition(':')
            site = cls(module, on or 'input')
        elif isinstance(spec, dict):
            site = cls(**spec)
        else:
            site = cls(*spec)
        if site.on not in ('input', 'output'):
            raise ValueError(f"MIMB site {site.module!r}: on must be 'input' or 'output', "
                             f'got {site.on!r}')
        return site


#: Share of the backbone's parameters that the automatic site puts after it
#: (λ-dependent). HRNet's stage 4 and ResNet's layer3-4 (the paper's sites)
#: hold 60-95 % of theirs; half keeps most capacity λ-aware while the trunk
#: before it is shared.
AUTO_SITE_SHARE = 0.5


def hrnet_sites(modulate_output: bool = True) -> List[MIMBSite]:
    """The paper's HRNet sites: each stage-4 input branch, and the final
    high-resolution output (stage 4 returns it first)."""
    sites = [MIMBSite('stage4', 'input', name='mimb_stage4_inputs')]
    if modulate_output:
        sites.append(MIMBSite('stage4', 'output', name='mimb_output', max_branches=1))
    return sites


def resnet_sites(before_layers: Sequence[int]) -> List[MIMBSite]:
    """MIMBs on the inputs of the given 1-based ResNet layers (``mimb_layer<i>``)."""
    layers = sorted(set(before_layers))
    if not layers or not all(isinstance(i, int) and i >= 1 for i in layers):
        raise ValueError(f'mimb_before_layers must name ResNet layers 1, 2, ..., got '
                         f'{tuple(before_layers)}')
    return [MIMBSite(f'layer{i}', 'input', name=f'mimb_layer{i}') for i in layers]


def family_mimb_init_std(backbone: nn.Module) -> Optional[float]:
    """The MIMB Linear init of the authors' model of this backbone's family.

    ResNet and its variants: None, PyTorch's default ``nn.Linear`` init (their
    ``pose_resnet_se_lambda.init_weights``, lines 268-309, initialises only
    convolutions, BN and deconvolutions). Every other family: normal(0.001),
    bias 0 (their HRNet, ``pose_hrnet_se_lambda.py`` lines 540-544).
    """
    from mmpose.models.backbones import ResNet
    return None if isinstance(backbone, ResNet) else AUTHORS_HRNET_INIT_STD


def check_mimb_init_std(value) -> Optional[float]:
    """``mimb_init_std`` as given, or a clear error."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"mimb_init_std={value!r} must be 'family', None (PyTorch's "
                         'default Linear init) or a positive std of a normal init')
    return float(value)


class MultiInstanceBackboneMixin:
    """Turns a stock MMPose backbone into a λ-conditioned one without touching its code.

    ``MultiInstance<Name>`` (this mixin first, then the stock class) is built
    from the stock config plus the arguments below: the stock ``__init__`` runs
    unchanged, then the MIMBs are attached with forward hooks on named stock
    sub-modules (:class:`MIMBSite`), so every stock parameter keeps its name and
    stock checkpoints load. The stock ``forward`` runs unchanged; while
    :meth:`forward` runs, the hooks read the λ of the current call. At the first
    site the stock forward reaches, a call with ``num_instances=N`` repeats each
    row N times (row ``b*N + i`` is sample b with λ=i): everything before it is
    λ-independent and is computed once per sample.

    The channels and layout ((B, C, H, W) maps or (B, L, C) tokens) of each
    site are read from one forward of a small dummy image when the sites are
    attached, so any backbone whose sites carry such tensors works.

    The model's ``num_instances`` and λ encoding are kept in the buffer
    ``mip_meta`` so that loading a checkpoint trained with other values fails
    with a clear error instead of mmengine's silent skip of misshapen keys.

    Exporters and compilers see one plain graph: λ is encoded by looking its
    rows up in the constant code table (the non-persistent buffer
    ``lambda_code_table``, (N, D), not in checkpoints), and the per-call λ is
    set and cleared around the stock forward with ``try``/``finally`` (which
    ``torch.compile`` traces through the hooks without a graph break, unlike a
    generator context manager).

    Args:
        *args, **kwargs: The stock backbone's arguments.
        num_instances (int): N, the values λ takes. With 1 no MIMB is built and
            the backbone is exactly the stock one. Defaults to 2.
        lambda_encoding (str, optional): ``'one_hot'`` or ``'binary'``; None
            (default): :func:`default_lambda_encoding` of N.
        mimb_reduction (int): MIMB hidden width divisor r. Defaults to 4.
        mimb_init_std (float | None | str): Init of the MIMB Linear layers: a
            normal std, None for PyTorch's default, or ``'family'`` (default):
            the authors' init for the family (:func:`family_mimb_init_std`).
        mimb_sites (Sequence[str | dict | MIMBSite], optional): Where the MIMBs
            go, e.g. ``['stage4']`` (input), ``['stage4:output']`` or
            ``[dict(module='stage4', on='input')]``. Defaults to
            :meth:`default_mimb_sites`.
    """

    num_instances: int
    lambda_encoding: str

    def __init__(self,
                 *args,
                 num_instances: int = 2,
                 lambda_encoding: Optional[str] = None,
                 mimb_reduction: int = 4,
                 mimb_init_std: Union[float, None, str] = 'family',
                 mimb_sites: Optional[Sequence[Union[MIMBSite, str, dict]]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        num_instances = check_int_at_least('num_instances', num_instances, 1)
        if lambda_encoding is None:
            lambda_encoding = default_lambda_encoding(num_instances)
        check_lambda_encoding(lambda_encoding)
        self.num_instances = num_instances
        self.lambda_encoding = lambda_encoding
        self.mimb_reduction = mimb_reduction
        self.mimb_init_std = family_mimb_init_std(self) if mimb_init_std == 'family' \
            else check_mimb_init_std(mimb_init_std)
        self.mimb_sites: Tuple[MIMBSite, ...] = ()
        self._outputs_before_sites: Tuple[int, ...] = ()
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
        self._attach_sites(self.default_mimb_sites() if mimb_sites is None else mimb_sites)

    def default_mimb_sites(self) -> List[MIMBSite]:
        """The paper's rule, "the last stage(s) before the head", per family.

        HRNet (and HRFormer, its subclass): every stage-4 input branch and the
        high-resolution output; ResNet and its variants (ResNetV1d, ResNeXt,
        SEResNet, ResNeSt, SCNet): the inputs of the last two layers, as the
        authors; CSPNeXt (RTMPose; MMPose's and mmdet's): the input of its last
        stage (downsampling conv, SPPF, CSP layer), as HRNet's stage 4. Any
        other backbone: the input of the latest stage-like module (called once,
        on the main path: a child of the backbone or of one of its containers)
        after which at least :data:`AUTO_SITE_SHARE` of the parameters run;
        found from one forward of a dummy image.
        """
        from mmpose.models.backbones import HRNet, ResNet
        if isinstance(self, HRNet):
            return hrnet_sites()
        if isinstance(self, ResNet):
            n = len(self.res_layers)
            return resnet_sites([i for i in (n - 1, n) if i >= 1])
        if any(cls.__name__ == 'CSPNeXt' for cls in type(self).__mro__):
            # ``layers`` holds the names of the stem and stages, in order.
            return [MIMBSite(self.layers[-1])]
        return [MIMBSite(self._automatic_site())]

    def _automatic_site(self) -> str:
        """Name of the stage-like module from which AUTO_SITE_SHARE of the params run."""
        first_call: Dict[str, int] = {}
        calls: Dict[str, int] = {}
        feature_input: Dict[str, bool] = {}
        handles = []

        def record(name, args):
            calls[name] = calls.get(name, 0) + 1
            if name not in first_call:
                first_call[name] = len(first_call)
                feat = args[0] if args else None
                feats = [feat] if isinstance(feat, torch.Tensor) else (
                    list(feat) if isinstance(feat, (list, tuple)) else [])
                feature_input[name] = bool(feats) and all(
                    isinstance(f, torch.Tensor) and f.dim() in (3, 4) for f in feats)

        for name, module in self.named_modules():
            if name:
                handles.append(module.register_forward_pre_hook(
                    lambda m, args, name=name: record(name, args)))
        try:
            self._run_probe(lambda x: super(MultiInstanceBackboneMixin, self).forward(x))
        finally:
            for handle in handles:
                handle.remove()

        modules = dict(self.named_modules())
        own_params = {name: sum(p.numel() for p in modules[name].parameters(recurse=False))
                      for name in first_call}
        total = sum(own_params.values())
        containers = (nn.ModuleList, nn.Sequential)

        def stage_like(name: str) -> bool:
            parts = name.split('.')
            parents = ['.'.join(parts[:i]) for i in range(1, len(parts))]
            return (len(parts) <= 3 and calls.get(name) == 1 and feature_input[name]
                    and all(isinstance(modules[p], containers) for p in parents))

        candidates = sorted((n for n in first_call if stage_like(n)), key=first_call.get)
        if not candidates:
            raise ValueError(f'{type(self).__name__}: found no stage to put a MIMB on; '
                             'give the sites explicitly (MultiInstanceBackbone(sites=[...]))')
        for name in reversed(candidates):
            after = sum(p for n, p in own_params.items() if first_call[n] >= first_call[name])
            if after >= AUTO_SITE_SHARE * total:
                return name
        return candidates[0]

    # ------------------------------------------------------------------ sites
    def _attach_sites(self, sites: Sequence[Union[MIMBSite, str, dict]]) -> None:
        """Build and attach the MIMBs of ``sites`` (no-op with N=1).

        MIMBs are built in the order given (so their random init is
        reproducible); the batch is expanded at the site the forward reaches first.
        """
        sites = [MIMBSite.parse(s) for s in sites]
        if not sites:
            raise ValueError(f'{type(self).__name__}: no MIMB site given')
        self.mimb_sites = tuple(sites)
        if self.num_instances == 1:
            return
        modules = {}
        for site in sites:
            try:
                modules[site] = self.get_submodule(site.module)
            except AttributeError:
                raise ValueError(
                    f'{type(self).__name__} has no sub-module {site.module!r} for a MIMB '
                    f'site; its top-level modules are '
                    f'{[name for name, _ in self.named_children()]}') from None
        shapes, order = self._probe_sites(modules)
        for site in sites:
            if site not in order:
                raise ValueError(
                    f'MIMB site {site.module!r} ({type(self).__name__}): the forward never '
                    'calls this module, so MIMBs there would do nothing; name a module '
                    'that runs (a ModuleList itself never does, its members do)')
        first = min(sites, key=order.__getitem__)
        for site in sites:
            layouts = shapes[site][:site.max_branches]
            mimbs = nn.ModuleList(
                MIMB(channels, self.num_instances, self.lambda_encoding, self.mimb_reduction,
                     init_std=self.mimb_init_std, layout=layout)
                for channels, layout in layouts)
            if hasattr(self, site.attribute):
                raise ValueError(f'{type(self).__name__} already has an attribute '
                                 f'{site.attribute!r}: give the MIMB site another name')
            self.add_module(site.attribute, mimbs)
            hook = _MIMBSiteHook(self, mimbs, expand=site is first)
            if site.on == 'input':
                modules[site].register_forward_pre_hook(hook.on_input)
            else:
                modules[site].register_forward_hook(hook.on_output)
        self._check_outputs_expanded()

    def _probe_input(self, height: int = 128, width: int = 96) -> Tensor:
        # The image channels are the first convolution's input channels (a
        # backbone's own ``in_channels`` attribute may name a later width).
        first_conv = next((m for m in self.modules() if isinstance(m, nn.Conv2d)), None)
        channels = first_conv.in_channels if first_conv is not None else 3
        param = next(self.parameters(), None)
        device = param.device if param is not None else 'cpu'
        return torch.zeros(2, channels, height, width, device=device)

    def _run_probe(self, fn) -> None:
        """Run ``fn(x)`` on a dummy image in eval mode, without gradients, and
        restore the train/eval state (BN statistics are not touched)."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                try:
                    fn(self._probe_input())
                except RuntimeError:
                    # Some backbones need a larger input (window sizes, strides).
                    fn(self._probe_input(256, 192))
        finally:
            self.train(was_training)

    def _probe_sites(self, modules: dict) -> Tuple[dict, dict]:
        """Channels/layout of each site's tensors and the order the forward reaches them."""
        shapes, order, handles = {}, {}, []

        def record(site, feats):
            order.setdefault(site, len(order))
            shapes[site] = [_layout(site, f) for f in _as_list(feats)]

        for site, module in modules.items():
            if site.on == 'input':
                handles.append(module.register_forward_pre_hook(
                    lambda m, args, site=site: record(site, args[0])))
            else:
                handles.append(module.register_forward_hook(
                    lambda m, args, out, site=site: record(site, out)))
        try:
            self._run_probe(lambda x: super(MultiInstanceBackboneMixin, self).forward(x))
        finally:
            for handle in handles:
                handle.remove()
        return shapes, order

    def _check_outputs_expanded(self) -> None:
        """Find the outputs computed before every site (they have B rows, not B·N).

        They do not depend on λ. :meth:`forward` repeats them per λ so every
        output has B·N rows; a warning names them, since a head or neck that
        reads only them would predict the same pose for every λ.
        """
        outputs: list = []
        self._run_probe(lambda x: outputs.extend(_as_list(self.forward(x, num_instances=2))))
        self._outputs_before_sites = tuple(
            i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.shape[0] != 4)
        if self._outputs_before_sites:
            warnings.warn(
                f'{type(self).__name__}: outputs {list(self._outputs_before_sites)} are '
                f'computed before the MIMB sites {[s.module for s in self.mimb_sites]} and '
                'do not depend on λ (they are repeated per λ); make sure the neck/head '
                'reads a later output, or drop them from out_indices')

    # -------------------------------------------------------------- per call
    def _expand_rows(self, feats: Features) -> Features:
        n = self._call_num_instances
        if not n or n == 1:
            return feats
        if isinstance(feats, Tensor):
            return feats.repeat_interleave(n, dim=0)
        return type(feats)(f.repeat_interleave(n, dim=0) for f in feats)

    def _modulate(self, feats: Features, mimbs: nn.ModuleList) -> Features:
        codes = self._call_codes
        if isinstance(feats, Tensor):
            return mimbs[0].modulate(feats, codes)
        # Branches beyond the MIMBs (e.g. a single-output stage) pass unchanged.
        modulated = [m.modulate(f, codes) for m, f in zip(mimbs, feats)] + \
            list(feats[len(mimbs):])
        return type(feats)(modulated) if isinstance(feats, tuple) else modulated

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

    def forward(self,
                x: Tensor,
                lambdas: Optional[Tensor] = None,
                num_instances: Optional[int] = None) -> Features:
        """The stock forward, conditioned on λ.

        Args:
            x (Tensor): Images in shape (B, 3, H, W).
            lambdas (Tensor, optional): λ per row in shape (B,); None means λ=0.
            num_instances (int, optional): Run λ = 0..n-1 for every row, sharing
                the λ-independent trunk; the outputs have B*n rows ordered
                (box, λ): row ``b*n + i`` is box b with λ=i.

        Returns:
            The stock backbone's outputs (B or B*n rows).
        """
        self._begin_call(x, lambdas, num_instances)
        try:
            outputs = super().forward(x)
        finally:
            self._end_call()
        if num_instances and num_instances > 1 and self._outputs_before_sites:
            outputs = type(outputs)(
                o.repeat_interleave(num_instances, dim=0) if i in self._outputs_before_sites
                else o for i, o in enumerate(outputs))
        return outputs

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
                    f'model.num_instances / model.lambda_encoding (and BuildInstanceSlots) '
                    f'to match the checkpoint')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _as_list(feats) -> list:
    return [feats] if isinstance(feats, Tensor) else list(feats)


def _layout(site: MIMBSite, feat) -> Tuple[int, str]:
    """(channels, layout) of a tensor at a site: (B, C, H, W) or (B, L, C) tokens."""
    if isinstance(feat, Tensor) and feat.dim() == 4:
        return feat.shape[1], 'nchw'
    if isinstance(feat, Tensor) and feat.dim() == 3:
        return feat.shape[2], 'nlc'
    what = tuple(feat.shape) if isinstance(feat, Tensor) else type(feat).__name__
    raise ValueError(f'MIMB site {site.module!r} ({site.on}) carries {what}; a MIMB '
                     'modulates (B, C, H, W) feature maps or (B, L, C) tokens')


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
        if self.expand:
            output = self.owner._expand_rows(output)
        return self.owner._modulate(output, self.mimbs)
