"""Targets for the N instance slots of MIPNet, from any single-instance codec."""
from typing import Any, Optional, Tuple, Union

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS


@KEYPOINT_CODECS.register_module()
class MultiInstanceCodec(BaseKeypointCodec):
    """Encode each instance slot with a stock single-instance codec.

    MIPNet's head predicts one pose per instance selector λ; the target of
    slot i is the stock target of the i-th instance that
    :class:`BuildInstanceSlots` put in the sample. This codec wraps any stock
    top-down codec (``MSRAHeatmap``, ``UDPHeatmap``, ``MegviiHeatmap``,
    ``SimCCLabel``, ``RegressionLabel`` ...) and stacks its targets
    instance-major, so the stock :class:`GenerateTarget` and
    :class:`PackPoseInputs` carry them unchanged. N is the number of slots
    the transform built (set once, in ``BuildInstanceSlots``).

    Note:
        - instance number: N
        - keypoint number: K
        - channels per instance of a field: C (K, or 3K for a combined UDP
          heatmap)

    Encoded:

        - fields (e.g. heatmaps): (N*C, H, W); channels ``i*C .. i*C+C-1``
          are instance i
        - labels (e.g. keypoint_weights (N, K), keypoint_x_labels
          (N, K, Wx), keypoint_labels (N, K, 2)): row i is instance i

    Args:
        encoder (dict | BaseKeypointCodec): The single-instance codec (config
            or instance)
    """

    auxiliary_encode_keys = {
        'instance_keypoints', 'instance_keypoints_visible'
    }

    def __init__(self, encoder: Union[dict, BaseKeypointCodec]) -> None:
        super().__init__()
        if isinstance(encoder, dict):
            encoder = KEYPOINT_CODECS.build(encoder)
        if not isinstance(encoder, BaseKeypointCodec):
            raise TypeError('encoder must be a codec config or a '
                            f'BaseKeypointCodec, got {type(encoder)}')
        if encoder.auxiliary_encode_keys:
            raise ValueError(
                f'{type(encoder).__name__} needs auxiliary encode keys '
                f'{sorted(encoder.auxiliary_encode_keys)}; {type(self).__name__} wraps '
                'single-instance top-down codecs, which need only the keypoints')
        self.encoder = encoder
        # Pack what the wrapped codec packs.
        self.field_mapping_table = dict(encoder.field_mapping_table)
        self.label_mapping_table = dict(encoder.label_mapping_table)
        self.instance_mapping_table = dict(encoder.instance_mapping_table)

    def __getattr__(self, name: str) -> Any:
        # Heads and tools read the decoder's geometry (input_size,
        # heatmap_size, sigma, simcc_split_ratio, ...): answer with the wrapped
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
        """Encode the instance slots, stacked instance-major.

        Args:
            keypoints (np.ndarray): The sample's own keypoints in input
                space, in shape (1, K, D); encoded alone when no slots are given
            keypoints_visible (np.ndarray, optional): Their visibility in
                shape (1, K)
            instance_keypoints (np.ndarray, optional): Slot keypoints in
                input space, in shape (N, K, D), from :class:`BuildInstanceSlots`
            instance_keypoints_visible (np.ndarray, optional): Slot
                visibility in shape (N, K)

        Returns:
            dict: The wrapped codec's keys, fields (N*C, H, W) and labels (N, ...)
        """
        if instance_keypoints is None:
            # No slots (a pipeline without BuildInstanceSlots): the stock target
            # of the own person, for a model with N=1.
            instance_keypoints, instance_keypoints_visible = keypoints, keypoints_visible
        if instance_keypoints_visible is None:
            instance_keypoints_visible = np.ones(instance_keypoints.shape[:2], dtype=np.float32)
        if instance_keypoints.ndim != 3 or \
                instance_keypoints_visible.shape != instance_keypoints.shape[:2]:
            raise ValueError(
                f'instance_keypoints {instance_keypoints.shape} and instance_keypoints_visible '
                f'{instance_keypoints_visible.shape} must have shapes (N, K, D) and (N, K)')

        slots = [self.encoder.encode(instance_keypoints[i:i + 1],
                                     instance_keypoints_visible[i:i + 1])
                 for i in range(instance_keypoints.shape[0])]
        # Fields stack their channels; labels have one row per instance.
        return {key: np.concatenate([slot[key] for slot in slots], axis=0)
                for key in slots[0]}

    def decode(self, encoded: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Decode one instance with the wrapped codec."""
        return self.encoder.decode(encoded)

    def batch_decode(self, batch_encoded: Any) -> Tuple[list, list]:
        """Batch-decode with the wrapped codec (if it supports it)."""
        return self.encoder.batch_decode(batch_encoded)

    @property
    def support_batch_decoding(self) -> bool:
        """Whether the wrapped codec decodes batches."""
        return self.encoder.support_batch_decoding

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(encoder={self.encoder!r})'
