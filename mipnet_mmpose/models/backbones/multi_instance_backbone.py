"""MIMBs for any registered backbone: ``MultiInstanceBackbone``, ``MultiInstance<Name>``."""
import copy
from typing import Optional, Sequence, Union

from mmpose.registry import MODELS
from torch import nn

from ...utils.mixin_class import made_on_demand, stock_class, with_mixin
from .multi_instance_mixin import MultiInstanceBackboneMixin

#: Multi-stage backbones whose heads supervise every stage (intermediate
#: supervision): each stage would need its own λ-conditioned targets.
MULTI_STAGE_BACKBONES = ('CPM', 'HourglassNet', 'HourglassAENet', 'MSPN', 'RSN')


def multi_instance_class(cls: type) -> type:
    """``MultiInstance<Name>``: the stock backbone class with the MIMB mixin
    (``MIPHRNet`` for ``HRNet``, ``MIPResNet`` for ``ResNet``)."""
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
                                  lambda_encoding: Optional[str] = None,
                                  mimb_reduction: int = 4,
                                  sites: Optional[Sequence[Union[str, dict]]] = None,
                                  mimb_init_std: Union[float, None, str] = 'family'
                                  ) -> nn.Module:
    """Build any registered backbone with MIMBs at named sites.

    The stock class is looked up from the config's ``type`` (``_scope_`` and
    scoped names included, e.g. mmdet's ``CSPNeXt``,
    ``mmpretrain.VisionTransformer``) and ``MultiInstance<Name>`` (that class
    with :class:`MultiInstanceBackboneMixin` in front; :class:`MIPHRNet` for
    ``HRNet``, :class:`MIPResNet` for ``ResNet``) is built from the same config
    plus the arguments below: its parameters keep their stock names, so
    MMPose's (and mmdet's) checkpoints load with only the MIMB keys missing;
    ``forward(x, lambdas=None, num_instances=None)`` as :class:`MIPHRNet`'s.
    With ``num_instances=1`` no MIMB is added.

    Args:
        backbone (dict): The stock backbone config.
        num_instances (int): N. Defaults to 2.
        lambda_encoding (str, optional): ``'one_hot'`` or ``'binary'``; None
            (default): :func:`default_lambda_encoding` of N.
        mimb_reduction (int): MIMB hidden width divisor. Defaults to 4.
        sites (Sequence[str | dict], optional): MIMB sites, e.g.
            ``['stage4']`` (input) or ``['stage4:output']`` or
            ``[dict(module='stage4', on='input')]``. Defaults to the family's
            (:meth:`MultiInstanceBackboneMixin.default_mimb_sites`).
        mimb_init_std (float | None | str): Init of the MIMB Linear layers;
            ``'family'`` (default): the authors' for the family (see
            :func:`family_mimb_init_std`: PyTorch's default for ResNets,
            normal(0.001) otherwise).

    Returns:
        nn.Module: The backbone, an instance of ``MultiInstance<Name>``.
    """
    check_not_multi_stage(backbone.get('type', ''))
    cls = stock_class(backbone, MODELS)
    check_not_multi_stage(cls.__name__)
    cfg = dict(copy.deepcopy(backbone), type=multi_instance_class(cls),
               num_instances=num_instances, lambda_encoding=lambda_encoding,
               mimb_reduction=mimb_reduction, mimb_init_std=mimb_init_std)
    if sites is not None:
        cfg['mimb_sites'] = sites
    return MODELS.build(cfg)
