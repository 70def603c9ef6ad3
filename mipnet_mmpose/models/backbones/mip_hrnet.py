"""HRNet with Multi-Instance Modulation Blocks (MIPNet's main backbone)."""
from typing import List, Union

from mmpose.models.backbones import HRNet
from mmpose.registry import MODELS

from .multi_instance_mixin import MIMBSite, MultiInstanceBackboneMixin


def hrnet_sites(modulate_output: bool = True) -> List[MIMBSite]:
    """The paper's HRNet sites: each stage-4 input branch, and the final
    high-resolution output (stage 4 returns it first)."""
    sites = [MIMBSite('stage4', 'input', name='mimb_stage4_inputs')]
    if modulate_output:
        sites.append(MIMBSite('stage4', 'output', name='mimb_output', max_branches=1))
    return sites


@MODELS.register_module()
class MIPHRNet(MultiInstanceBackboneMixin, HRNet):
    """MMPose's :class:`HRNet` conditioned on the instance selector λ.

    A MIMB modulates each stage-4 input branch (the outputs of ``transition3``)
    and the final high-resolution output. The stem to stage 3 does not depend on
    λ and runs once per sample. All stock parameter names are kept, so MMPose's
    HRNet checkpoints load (only the MIMB keys are missing). This is what
    :func:`MultiInstanceBackbone` builds for an ``HRNet`` config, under a fixed
    name.

    Args:
        extra (dict): HRNet stage configuration, as for :class:`HRNet`.
        num_instances (int): N, the number of instances per box. With 1 no MIMB
            is built and the backbone is exactly :class:`HRNet`. Defaults to 2.
        lambda_encoding (str): ``'one_hot'`` or ``'binary'``. Defaults to ``'one_hot'``.
        mimb_reduction (int): MIMB hidden width divisor r. Defaults to 4.
        mimb_init_std (float | None | str): Init of the MIMB Linear layers:
            a normal std, None for PyTorch's default, or ``'family'``
            (default): normal(0.001), the authors' HRNet init.
        modulate_output (bool): Also modulate the final high-resolution output.
            Defaults to True.
        **kwargs: Other arguments of :class:`HRNet`.

    Example:
        >>> feats = backbone(x)                       # λ = 0 for every row, (B, ...)
        >>> feats = backbone(x, lambdas=lambdas)      # λ per row, lambdas (B,)
        >>> feats = backbone(x, num_instances=2)      # (B*2, ...), row b*2+i has λ=i
    """

    def __init__(self,
                 extra: dict,
                 num_instances: int = 2,
                 lambda_encoding: str = 'one_hot',
                 mimb_reduction: int = 4,
                 mimb_init_std: Union[float, None, str] = 'family',
                 modulate_output: bool = True,
                 **kwargs):
        super().__init__(extra, **kwargs)
        self._init_multi_instance(num_instances, lambda_encoding, mimb_reduction,
                                  mimb_init_std)
        self._attach_sites(hrnet_sites(modulate_output))
