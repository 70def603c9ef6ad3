"""ResNet (SimpleBaseline) with Multi-Instance Modulation Blocks."""
from typing import List, Sequence, Union

from mmpose.models.backbones import ResNet
from mmpose.registry import MODELS

from .multi_instance_mixin import MIMBSite, MultiInstanceBackboneMixin


def resnet_sites(num_layers: int, before_layers: Sequence[int] = (3, 4)) -> List[MIMBSite]:
    """MIMBs on the inputs of the given 1-based ResNet layers (the authors'
    "last two ResNet blocks" by default)."""
    layers = sorted(set(before_layers))
    if not layers or not all(1 <= i <= num_layers for i in layers):
        raise ValueError(f'mimb_before_layers must name layers in 1..{num_layers}, '
                         f'got {tuple(before_layers)}')
    return [MIMBSite(f'layer{i}', 'input', name=f'mimb_layer{i}') for i in layers]


@MODELS.register_module()
class MIPResNet(MultiInstanceBackboneMixin, ResNet):
    """MMPose's :class:`ResNet` conditioned on the instance selector λ.

    A MIMB modulates the input of each ResNet layer listed in
    ``mimb_before_layers``; everything before the first of them runs once per
    sample. Stock parameter names are kept, so MMPose's ResNet checkpoints load.
    This is what :func:`MultiInstanceBackbone` builds for a ``ResNet`` config,
    under a fixed name.

    Args:
        depth (int): ResNet depth, as for :class:`ResNet`.
        num_instances (int): N. With 1 no MIMB is built. Defaults to 2.
        lambda_encoding (str): ``'one_hot'`` or ``'binary'``. Defaults to ``'one_hot'``.
        mimb_reduction (int): MIMB hidden width divisor r. Defaults to 4.
        mimb_init_std (float | None | str): Init of the MIMB Linear layers:
            a normal std, None for PyTorch's default, or ``'family'``
            (default): None, PyTorch's default Linear init, as the authors' ResNet models.
        mimb_before_layers (Sequence[int]): 1-based indices of the ResNet layers
            that get a MIMB on their input. Defaults to (3, 4) as the authors'
            scripts ("the last two ResNet blocks"); (4,) is their other choice.
        **kwargs: Other arguments of :class:`ResNet`.
    """

    def __init__(self,
                 depth: int,
                 num_instances: int = 2,
                 lambda_encoding: str = 'one_hot',
                 mimb_reduction: int = 4,
                 mimb_init_std: Union[float, None, str] = 'family',
                 mimb_before_layers: Sequence[int] = (3, 4),
                 **kwargs):
        super().__init__(depth, **kwargs)
        self._init_multi_instance(num_instances, lambda_encoding, mimb_reduction,
                                  mimb_init_std)
        sites = resnet_sites(len(self.res_layers), mimb_before_layers)
        self.mimb_before_layers = tuple(int(s.module[len('layer'):]) for s in sites)
        self._attach_sites(sites)
