"""Box scale and rotation drawn as the HRNet / SimpleBaseline / MIPNet code draws them."""
from typing import Tuple

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmpose.datasets.transforms import RandomBBoxTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class ClippedRandomBBoxTransform(RandomBBoxTransform):
    r"""Randomly resize and rotate the bbox with *clipped* normal draws.

    MMPose's :class:`RandomBBoxTransform` draws the scale and the rotation
    from a normal *truncated* to one standard deviation (re-drawn until it
    falls inside), which gives a narrower distribution than the code MIPNet
    was trained with. The authors' ``JointsLambdaDataset.__getitem__``
    (``lib/dataset/JointsLambdaDataset.py`` lines 189-193, inherited from the
    HRNet code) draws ``n ~ N(0, 1)`` and *clips* the result:

    .. math::

        s &= \mathrm{clip}(1 + \sigma_s n_1,\ 1 - \sigma_s,\ 1 + \sigma_s) \\
        r &= \mathrm{clip}(\sigma_r n_2,\ -2\sigma_r,\ 2\sigma_r)
             \text{ with probability } p_r \text{, else } 0

    so about a third of the scale draws sit exactly at a bound, and the
    rotation reaches twice its factor. The authors apply no random shift, so
    ``shift_prob`` defaults to 0 here (the stock shift, a truncated normal,
    is kept for ``shift_prob > 0``).

    Required Keys:

        - bbox_center
        - bbox_scale

    Modified Keys:

        - bbox_center
        - bbox_scale

    Added Keys:

        - bbox_rotation

    Args:
        scale_sigma (float): :math:`\sigma_s`, the authors' ``SCALE_FACTOR``
            (0.35 for HRNet, 0.3 for ResNet). Defaults to 0.35
        rotate_sigma (float): :math:`\sigma_r` in degrees, the authors'
            ``ROT_FACTOR`` (45 for HRNet, 40 for ResNet). Defaults to 45
        rotate_prob (float): :math:`p_r`. Defaults to 0.6 (the authors')
        shift_prob (float): Probability of the stock random shift.
            Defaults to 0 (the authors use none)
        shift_factor (float): The stock shift factor. Defaults to 0.16
    """

    def __init__(self,
                 scale_sigma: float = 0.35,
                 rotate_sigma: float = 45.,
                 rotate_prob: float = 0.6,
                 shift_prob: float = 0.,
                 shift_factor: float = 0.16) -> None:
        if not 0 <= scale_sigma < 1:
            raise ValueError(f'scale_sigma must lie in [0, 1), got {scale_sigma!r}')
        if rotate_sigma < 0:
            raise ValueError(f'rotate_sigma must be >= 0, got {rotate_sigma!r}')
        for name, prob in (('rotate_prob', rotate_prob), ('shift_prob', shift_prob)):
            if not 0 <= prob <= 1:
                raise ValueError(f'{name} must lie in [0, 1], got {prob!r}')
        # The stock fields keep their meaning (range and factor), so the
        # stock __repr__ and anything reading them stay truthful.
        super().__init__(
            shift_factor=shift_factor,
            shift_prob=shift_prob,
            scale_factor=(1. - scale_sigma, 1. + scale_sigma),
            scale_prob=1.,
            rotate_factor=2. * rotate_sigma,
            rotate_prob=rotate_prob)
        self.scale_sigma = float(scale_sigma)
        self.rotate_sigma = float(rotate_sigma)

    @cache_randomness
    def _get_transform_params(self, num_bboxes: int) -> Tuple:
        """Draw the shift, scale and rotation of each bbox.

        Args:
            num_bboxes (int): The number of bboxes

        Returns:
            tuple:
            - offset (np.ndarray): Offset factor of each bbox in shape (n, 2)
            - scale (np.ndarray): Scaling factor of each bbox in shape (n, 1)
            - rotate (np.ndarray): Rotation degree of each bbox in shape (n,)
        """
        offset = self._truncnorm(size=(num_bboxes, 2)) * self.shift_factor
        offset = np.where(np.random.rand(num_bboxes, 1) < self.shift_prob, offset, 0.)

        normal = np.random.randn(num_bboxes, 2)
        scale_min, scale_max = self.scale_factor
        scale = np.clip(1. + self.scale_sigma * normal[:, :1], scale_min, scale_max)
        rotate = np.clip(self.rotate_sigma * normal[:, 1], -self.rotate_factor,
                         self.rotate_factor)
        rotate = np.where(np.random.rand(num_bboxes) < self.rotate_prob, rotate, 0.)
        return (offset.astype(np.float32), scale.astype(np.float32),
                rotate.astype(np.float32))

    def __repr__(self) -> str:
        """print the basic information of the transform.

        Returns:
            str: Formatted string.
        """
        return (f'{self.__class__.__name__}(scale_sigma={self.scale_sigma}, '
                f'rotate_sigma={self.rotate_sigma}, rotate_prob={self.rotate_prob}, '
                f'shift_prob={self.shift_prob}, shift_factor={self.shift_factor})')
