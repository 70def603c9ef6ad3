"""ResNet (SimpleBaseline) with Multi-Instance Modulation Blocks."""
from typing import Optional, Sequence, Tuple, Union

from mmpose.models.backbones import ResNet
from mmpose.registry import MODELS
from torch import Tensor

from .multi_instance_mixin import MultiInstanceBackboneMixin


@MODELS.register_module()
class MIPResNet(MultiInstanceBackboneMixin, ResNet):
    """MMPose's :class:`ResNet` conditioned on the instance selector λ.

    A MIMB modulates the input of each ResNet layer listed in
    ``mimb_before_layers``; everything before the first of them runs once per
    sample. Stock parameter names are kept, so MMPose's ResNet checkpoints load.

    Args:
        depth (int): ResNet depth, as for :class:`ResNet`.
        num_instances (int): N. With 1 no MIMB is built. Defaults to 2.
        lambda_encoding (str): ``'one_hot'`` or ``'binary'``. Defaults to ``'one_hot'``.
        mimb_reduction (int): MIMB hidden width divisor r. Defaults to 4.
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
                 mimb_before_layers: Sequence[int] = (3, 4),
                 **kwargs):
        super().__init__(depth, **kwargs)
        self._init_multi_instance(num_instances, lambda_encoding, mimb_reduction)
        layers = sorted(set(mimb_before_layers))
        if not layers or not all(1 <= i <= len(self.res_layers) for i in layers):
            raise ValueError(f'mimb_before_layers must name layers in 1..{len(self.res_layers)}, '
                             f'got {tuple(mimb_before_layers)}')
        self.mimb_before_layers = tuple(layers)
        if num_instances == 1:
            return
        for i in layers:
            layer = getattr(self, f'layer{i}')
            channels = (self.stem_channels if i == 1
                        else getattr(self, f'layer{i - 1}')[-1].out_channels)
            mimbs = self._build_mimbs([channels])
            self.add_module(f'mimb_layer{i}', mimbs)
            self._attach_mimbs(layer, mimbs, on='input')

    def forward(self,
                x: Tensor,
                lambdas: Optional[Tensor] = None,
                num_instances: Optional[int] = None) -> Union[Tensor, Tuple[Tensor, ...]]:
        """Forward; arguments and row order as :meth:`MIPHRNet.forward`."""
        self._begin_call(x, lambdas, num_instances)
        try:
            return super().forward(x)
        finally:
            self._end_call()
