"""ResNet (SimpleBaseline) with Multi-Instance Modulation Blocks."""
from typing import Optional, Sequence

from mmpose.models.backbones import ResNet
from mmpose.registry import MODELS

from ...utils.mixin_class import named_made_class
from .multi_instance_mixin import MultiInstanceBackboneMixin, resnet_sites


@named_made_class
@MODELS.register_module()
class MIPResNet(MultiInstanceBackboneMixin, ResNet):
    """MMPose's :class:`ResNet` conditioned on the instance selector λ.

    The ``MultiInstance<Name>`` class of ``ResNet``: what
    :func:`MultiInstanceBackbone` and the estimator build for a ``ResNet``
    config. A MIMB modulates the input of each ResNet layer listed in
    ``mimb_before_layers``; everything before the first of them runs once per
    sample. Stock parameter names are kept, so MMPose's ResNet checkpoints load.

    Args:
        depth (int): ResNet depth, as for :class:`ResNet`.
        mimb_before_layers (Sequence[int], optional): 1-based indices of the
            ResNet layers that get a MIMB on their input, e.g. (3, 4), the
            authors' "last two ResNet blocks", or (4,), their other choice.
            None (default): the last two layers (3, 4 of the usual four).
        **kwargs: ``num_instances``, ``lambda_encoding``, ``mimb_reduction``,
            ``mimb_init_std``, ``mimb_sites`` (see
            :class:`MultiInstanceBackboneMixin`; the init defaults to PyTorch's
            default Linear init, as the authors' ResNet models) and the other
            arguments of :class:`ResNet`.
    """

    def __init__(self, depth: int, mimb_before_layers: Optional[Sequence[int]] = None,
                 **kwargs):
        if mimb_before_layers is not None:
            if kwargs.get('mimb_sites') is not None:
                raise ValueError('MIPResNet: give mimb_before_layers or mimb_sites, not both')
            kwargs['mimb_sites'] = resnet_sites(mimb_before_layers)
        super().__init__(depth, **kwargs)
