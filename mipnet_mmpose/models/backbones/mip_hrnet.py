"""HRNet with Multi-Instance Modulation Blocks (MIPNet's main backbone)."""
from typing import Optional, Sequence

from mmpose.models.backbones import HRNet
from mmpose.registry import MODELS

from ...utils.mixin_class import named_made_class
from .multi_instance_mixin import MultiInstanceBackboneMixin, hrnet_sites


@named_made_class
@MODELS.register_module()
class MIPHRNet(MultiInstanceBackboneMixin, HRNet):
    """MMPose's :class:`HRNet` conditioned on the instance selector λ.

    The ``MultiInstance<Name>`` class of ``HRNet``: what
    :func:`MultiInstanceBackbone` and the estimator build for an ``HRNet``
    config. A MIMB modulates each stage-4 input branch (the outputs of
    ``transition3``) and the final high-resolution output. The stem to stage 3
    does not depend on λ and runs once per sample. All stock parameter names
    are kept, so MMPose's HRNet checkpoints load (only the MIMB keys are
    missing).

    Args:
        extra (dict): HRNet stage configuration, as for :class:`HRNet`.
        modulate_output (bool): Also modulate the final high-resolution output.
            Defaults to True.
        mimb_sites (Sequence, optional): Other sites instead of the paper's
            (then ``modulate_output`` must stay True).
        **kwargs: ``num_instances``, ``lambda_encoding``, ``mimb_reduction``,
            ``mimb_init_std`` (see :class:`MultiInstanceBackboneMixin`; the init
            defaults to normal(0.001), the authors' HRNet init) and the other
            arguments of :class:`HRNet`.

    Example:
        >>> feats = backbone(x)                       # λ = 0 for every row, (B, ...)
        >>> feats = backbone(x, lambdas=lambdas)      # λ per row, lambdas (B,)
        >>> feats = backbone(x, num_instances=2)      # (B*2, ...), row b*2+i has λ=i
    """

    def __init__(self,
                 extra: dict,
                 modulate_output: bool = True,
                 mimb_sites: Optional[Sequence] = None,
                 **kwargs):
        if mimb_sites is not None and not modulate_output:
            raise ValueError('MIPHRNet: give modulate_output=False (the paper\'s sites without '
                             'the output MIMB) or mimb_sites, not both')
        super().__init__(extra,
                         mimb_sites=hrnet_sites(modulate_output) if mimb_sites is None
                         else mimb_sites,
                         **kwargs)
