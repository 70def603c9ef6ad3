"""Heatmap targets for the N instance slots of MIPNet."""
from typing import Any, Optional, Tuple, Union

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS

from ..utils import check_int_at_least


@KEYPOINT_CODECS.register_module()
class MultiInstanceHeatmap(BaseKeypointCodec):
    """Encode each instance slot with a single-instance heatmap codec.

    MIPNet's head predicts K heatmaps per instance selector λ; the target of
    slot i is the usual heatmap of the i-th instance built by
    :class:`BuildInstanceSlots`. This codec wraps a stock heatmap codec
    (:class:`MSRAHeatmap` or :class:`UDPHeatmap`) and stacks its targets,
    instance-major, so the stock :class:`GenerateTarget` and
    :class:`PackPoseInputs` carry them unchanged.

    Note:
        - instance number: N
        - keypoint number: K
        - channels per instance: C (K, or 3K for a combined UDP heatmap)
        - heatmap size: [W, H]

    Encoded:

        - heatmaps (np.ndarray): (N*C, H, W); rows ``i*C .. i*C+C-1`` are
          instance i
        - keypoint_weights (np.ndarray): (N, K)

    Args:
        encoder (dict | BaseKeypointCodec): The single-instance heatmap codec
            (config or instance)
        num_instances (int): The slot number N (>= 1)
    """

    auxiliary_encode_keys = {
        'instance_keypoints', 'instance_keypoints_visible'
    }

    def __init__(self, encoder: Union[dict, BaseKeypointCodec],
                 num_instances: int) -> None:
        super().__init__()
        num_instances = check_int_at_least('num_instances', num_instances, 1)
        if isinstance(encoder, dict):
            encoder = KEYPOINT_CODECS.build(encoder)
        if not isinstance(encoder, BaseKeypointCodec):
            raise TypeError('encoder must be a codec config or a '
                            f'BaseKeypointCodec, got {type(encoder)}')
        if encoder.auxiliary_encode_keys:
            raise ValueError(
                f'{type(encoder).__name__} needs auxiliary encode keys '
                f'{encoder.auxiliary_encode_keys}; MultiInstanceHeatmap wraps '
                'single-instance heatmap codecs (MSRAHeatmap, UDPHeatmap)')
        self.encoder = encoder
        self.num_instances = int(num_instances)
        # Pack what the wrapped codec packs (heatmaps / keypoint_weights).
        self.field_mapping_table = dict(encoder.field_mapping_table)
        self.label_mapping_table = dict(encoder.label_mapping_table)
        self.instance_mapping_table = dict(encoder.instance_mapping_table)

    def __getattr__(self, name: str) -> Any:
        # Heads and tools read the decoder's geometry (input_size,
        # heatmap_size, sigma, scale_factor, ...): answer with the wrapped
        # codec's. Only reached for names not found on self; guard against
        # recursion before ``encoder`` is set (e.g. while unpickling).
        if name.startswith('__') or 'encoder' not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__['encoder'], name)

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               instance_keypoints: Optional[np.ndarray] = None,
               instance_keypoints_visible: Optional[np.ndarray] = None
               ) -> dict:
        """Encode the instance slots into stacked heatmaps.

        Args:
            keypoints (np.ndarray): The sample's own keypoints in input
                space, in shape (1, K, D); used alone when N == 1 and no
                slots are given
            keypoints_visible (np.ndarray, optional): Their visibility in
                shape (1, K)
            instance_keypoints (np.ndarray, optional): Slot keypoints in
                input space, in shape (N, K, D), from
                :class:`BuildInstanceSlots`
            instance_keypoints_visible (np.ndarray, optional): Slot
                visibility in shape (N, K)

        Returns:
            dict:
            - heatmaps (np.ndarray): (N*C, H, W), instance-major
            - keypoint_weights (np.ndarray): (N, K)
        """
        if instance_keypoints is None:
            if self.num_instances > 1:
                raise ValueError(
                    f'MultiInstanceHeatmap(num_instances={self.num_instances})'
                    ' needs "instance_keypoints" and '
                    '"instance_keypoints_visible": add '
                    f'BuildInstanceSlots(num_instances={self.num_instances}) '
                    'to the pipeline after TopdownAffine')
            instance_keypoints = keypoints
            instance_keypoints_visible = keypoints_visible
        if instance_keypoints_visible is None:
            instance_keypoints_visible = np.ones(
                instance_keypoints.shape[:2], dtype=np.float32)
        self._check_shapes(instance_keypoints, instance_keypoints_visible)

        heatmaps, weights = [], []
        for i in range(self.num_instances):
            encoded = self.encoder.encode(instance_keypoints[i:i + 1],
                                          instance_keypoints_visible[i:i + 1])
            heatmaps.append(encoded['heatmaps'])
            weights.append(encoded['keypoint_weights'].reshape(1, -1))
        return dict(
            heatmaps=np.concatenate(heatmaps, axis=0),
            keypoint_weights=np.concatenate(weights, axis=0))

    def _check_shapes(self, keypoints: np.ndarray,
                      keypoints_visible: np.ndarray) -> None:
        """Raise a clear error for slots that do not match N."""
        if keypoints.ndim != 3 or keypoints.shape[0] != self.num_instances:
            raise ValueError(
                f'MultiInstanceHeatmap(num_instances={self.num_instances}) '
                f'got instance_keypoints of shape {keypoints.shape}, expected '
                f'({self.num_instances}, K, 2): set the same num_instances in '
                'BuildInstanceSlots and MultiInstanceHeatmap')
        if keypoints_visible.shape != keypoints.shape[:2]:
            raise ValueError(
                f'instance_keypoints_visible has shape '
                f'{keypoints_visible.shape}, expected {keypoints.shape[:2]}')

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Decode one instance's heatmaps with the wrapped codec.

        Args:
            encoded (np.ndarray): One instance's heatmaps in shape (C, H, W)

        Returns:
            tuple:
            - keypoints (np.ndarray): (1, K, D) in input space
            - scores (np.ndarray): (1, K)
        """
        return self.encoder.decode(encoded)

    def batch_decode(self, batch_encoded: Any) -> Tuple[list, list]:
        """Batch-decode with the wrapped codec (if it supports it)."""
        return self.encoder.batch_decode(batch_encoded)

    @property
    def support_batch_decoding(self) -> bool:
        """Whether the wrapped codec decodes batches."""
        return self.encoder.support_batch_decoding

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(encoder={self.encoder!r}, '
                f'num_instances={self.num_instances})')
