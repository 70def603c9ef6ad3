"""HRNet with Multi-Instance Modulation Blocks (MIPNet's main backbone)."""
from typing import Optional, Tuple

from mmpose.models.backbones import HRNet
from mmpose.models.backbones.resnet import get_expansion
from mmpose.registry import MODELS
from torch import Tensor

from .multi_instance_mixin import MultiInstanceBackboneMixin


@MODELS.register_module()
class MIPHRNet(MultiInstanceBackboneMixin, HRNet):
    """MMPose's :class:`HRNet` conditioned on the instance selector λ.

    A MIMB modulates each stage-4 input branch (the outputs of ``transition3``)
    and the final high-resolution output. The stem to stage 3 does not depend on
    λ and runs once per sample. All stock parameter names are kept, so MMPose's
    HRNet checkpoints load (only the MIMB keys are missing).

    Args:
        extra (dict): HRNet stage configuration, as for :class:`HRNet`.
        num_instances (int): N, the number of instances per box. With 1 no MIMB
            is built and the backbone is exactly :class:`HRNet`. Defaults to 2.
        lambda_encoding (str): ``'one_hot'`` or ``'binary'``. Defaults to ``'one_hot'``.
        mimb_reduction (int): MIMB hidden width divisor r. Defaults to 4.
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
                 modulate_output: bool = True,
                 **kwargs):
        super().__init__(extra, **kwargs)
        self._init_multi_instance(num_instances, lambda_encoding, mimb_reduction)
        if num_instances == 1:
            return
        block = self.blocks_dict[self.stage4_cfg['block']]
        stage4_channels = [c * get_expansion(block) for c in self.stage4_cfg['num_channels']]
        self.mimb_stage4_inputs = self._build_mimbs(stage4_channels)
        self._attach_mimbs(self.stage4, self.mimb_stage4_inputs, on='input')
        if modulate_output:
            # Stage 4 returns the high-resolution branch first.
            self.mimb_output = self._build_mimbs(stage4_channels[:1])
            self._attach_mimbs(self.stage4, self.mimb_output, on='output')

    def forward(self,
                x: Tensor,
                lambdas: Optional[Tensor] = None,
                num_instances: Optional[int] = None) -> Tuple[Tensor, ...]:
        """Forward.

        Args:
            x (Tensor): Images in shape (B, 3, H, W).
            lambdas (Tensor, optional): λ per row in shape (B,); None means λ=0.
            num_instances (int, optional): Run λ = 0..n-1 for every row, sharing
                the λ-independent trunk; the output has B*n rows.

        Returns:
            tuple[Tensor]: Stock HRNet outputs, (B, C, H/4, W/4) for the
            high-resolution branch (B*n rows with ``num_instances``).
        """
        self._begin_call(x, lambdas, num_instances)
        try:
            return super().forward(x)
        finally:
            self._end_call()
