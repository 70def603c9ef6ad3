"""MIMBs for any registered backbone: ``MultiInstanceBackbone`` and the default sites."""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmpose.models.backbones import HRNet, ResNet
from mmpose.registry import MODELS
from torch import nn

from ...utils.mixin_class import made_on_demand, with_mixin
from .mip_hrnet import hrnet_sites
from .mip_resnet import resnet_sites
from .multi_instance_mixin import MIMBSite, MultiInstanceBackboneMixin

#: Multi-stage backbones whose heads supervise every stage (intermediate
#: supervision): each stage would need its own λ-conditioned targets.
MULTI_STAGE_BACKBONES = ('CPM', 'HourglassNet', 'HourglassAENet', 'MSPN', 'RSN')

#: Share of the backbone's parameters that the automatic site puts after it
#: (λ-dependent). HRNet's stage 4 and ResNet's layer3-4 (the paper's sites)
#: hold 60-95 % of theirs; half keeps most capacity λ-aware while the trunk
#: before it is shared.
AUTO_SITE_SHARE = 0.5

def multi_instance_class(cls: type) -> type:
    """``MultiInstance<Name>``: the stock backbone class with the MIMB mixin."""
    return with_mixin(MultiInstanceBackboneMixin, cls, __name__)


def __getattr__(name: str) -> type:
    """``MultiInstance<Name>`` classes on demand, so a pickled model of one loads in
    a fresh process (mmdet's registry is read only if mmpose's has no such class)."""
    return made_on_demand(name, MultiInstanceBackboneMixin, __name__,
                          (get() for get in (lambda: MODELS, _mmdet_models)))


def _mmdet_models():
    try:
        from mmdet.registry import MODELS as MMDET_MODELS
    except ImportError:
        return None
    import mmdet.models  # noqa: F401 (registers mmdet's backbones)
    return MMDET_MODELS


def check_not_multi_stage(backbone_type: str) -> None:
    """Refuse the multi-stage models (CPM, Hourglass, MSPN, RSN) with the reason."""
    name = str(backbone_type).split('.')[-1]
    if name in MULTI_STAGE_BACKBONES:
        raise ValueError(
            f'MIPNet does not support the multi-stage backbone {name}: its head '
            'supervises the output of every stage with its own target (intermediate '
            'supervision), so each stage would need its own MIMBs and per-λ targets. '
            'Use a single-stage top-down model (HRNet, ResNet, CSPNeXt/RTMPose, '
            'HRFormer, Swin, ...)')


@MODELS.register_module(name='MultiInstanceBackbone')
def build_multi_instance_backbone(backbone: dict,
                                  num_instances: int = 2,
                                  lambda_encoding: str = 'one_hot',
                                  mimb_reduction: int = 4,
                                  sites: Optional[Sequence[Union[str, dict]]] = None,
                                  mimb_init_std: Union[float, None, str] = 'family'
                                  ) -> nn.Module:
    """Build any registered backbone with MIMBs at named sites.

    The stock backbone is built from its own config (``_scope_`` included, e.g.
    mmdet's ``CSPNeXt``), then becomes an instance of ``MultiInstance<Name>``
    (its class plus :class:`MultiInstanceBackboneMixin`): its parameters keep
    their stock names, so MMPose's (and mmdet's) checkpoints load with only the
    MIMB keys missing; ``forward(x, lambdas=None, num_instances=None)`` as
    :class:`MIPHRNet`'s. With ``num_instances=1`` no MIMB is added.

    Args:
        backbone (dict): The stock backbone config.
        num_instances (int): N. Defaults to 2.
        lambda_encoding (str): ``'one_hot'`` or ``'binary'``.
        mimb_reduction (int): MIMB hidden width divisor. Defaults to 4.
        sites (Sequence[str | dict], optional): MIMB sites, e.g.
            ``['stage4']`` (input) or ``['stage4:output']`` or
            ``[dict(module='stage4', on='input')]``. Defaults to
            :func:`default_mimb_sites`.
        mimb_init_std (float | None | str): Init of the MIMB Linear layers;
            ``'family'`` (default): the authors' for the family (see
            :func:`family_mimb_init_std`: PyTorch's default for ResNets,
            normal(0.001) otherwise).

    Returns:
        nn.Module: The backbone.
    """
    check_not_multi_stage(backbone.get('type', ''))
    module = MODELS.build(copy.deepcopy(backbone))
    check_not_multi_stage(type(module).__name__)
    module.__class__ = multi_instance_class(type(module))
    module._init_multi_instance(num_instances, lambda_encoding, mimb_reduction, mimb_init_std)
    module._attach_sites(sites if sites is not None else default_mimb_sites(module))
    return module


def default_mimb_sites(backbone: nn.Module) -> List[MIMBSite]:
    """The paper's rule, "the last stage(s) before the head", per family.

    HRNet (and HRFormer, its subclass): every stage-4 input branch and the
    high-resolution output; ResNet and its variants (ResNetV1d, ResNeXt,
    SEResNet, ResNeSt, SCNet): the inputs of the last two layers, as the
    authors; CSPNeXt (RTMPose): the input of its last stage. Any other
    backbone: the input of the latest stage-like module (called once, on the
    main path: a child of the backbone or of one of its containers) after
    which at least :data:`AUTO_SITE_SHARE` of the parameters run; found from
    one forward of a dummy image.
    """
    if isinstance(backbone, HRNet):
        return hrnet_sites()
    if isinstance(backbone, ResNet):
        n = len(backbone.res_layers)
        return resnet_sites(n, [i for i in (n - 1, n) if i >= 1])
    if type(backbone).__name__ == 'MultiInstanceCSPNeXt':
        # mmdet's and mmpose's CSPNeXt (RTMPose): the whole last stage
        # (downsampling conv, SPPF, CSP layer), as HRNet's stage 4.
        return [MIMBSite(backbone.layers[-1])]
    return [MIMBSite(_automatic_site(backbone))]


def _automatic_site(backbone: nn.Module) -> str:
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

    for name, module in backbone.named_modules():
        if name:
            handles.append(module.register_forward_pre_hook(
                lambda m, args, name=name: record(name, args)))
    try:
        backbone._run_probe(lambda x: super(MultiInstanceBackboneMixin, backbone).forward(x))
    finally:
        for handle in handles:
            handle.remove()

    modules = dict(backbone.named_modules())
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
        raise ValueError(f'{type(backbone).__name__}: found no stage to put a MIMB on; '
                         'give the sites explicitly (MultiInstanceBackbone(sites=[...]))')
    for name in reversed(candidates):
        after = sum(p for n, p in own_params.items() if first_call[n] >= first_call[name])
        if after >= AUTO_SITE_SHARE * total:
            return name
    return candidates[0]
