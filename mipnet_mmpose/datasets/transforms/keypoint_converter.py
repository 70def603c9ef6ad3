"""MMPose's KeypointConverter, applied to a sample's neighbours too.

A ``CombinedDataset`` (RTMPose's body7/body8, the whole-body cocktail, the
COCO+AIC merge config) maps each part's keypoints to the combined keypoint
order with a ``KeypointConverter`` in that part's own pipeline. MIPNet also
trains on the other persons of the box's image, which the part's
``MultiInstance<Name>`` data set attaches as ``neighbour_*`` fields in the
part's own keypoint order. They must be mapped by the same converter, at the
same point: after the part's pipeline the sample leaves the part, and the
combined pipeline (``RandomFlip`` with the combined flip indices,
``BuildInstanceSlots``, the codec) knows neither which part it came from nor
its mapping.

So the mapping lives here, in the part's pipeline, where the stock converter
is: :func:`mipnet_mmpose.convert_config` puts this transform, with the stock
arguments, in place of every ``KeypointConverter``. The mapping is stated once
(the config's ``mapping``) and run by the stock code for both the own person
and the neighbours, so they cannot drift apart.
"""
import numpy as np
from mmpose.datasets.transforms import KeypointConverter
from mmpose.registry import TRANSFORMS

NEIGHBOUR_FIELDS = ('neighbour_keypoints', 'neighbour_keypoints_visible')


@TRANSFORMS.register_module()
class MultiInstanceKeypointConverter(KeypointConverter):
    """:class:`KeypointConverter` that also maps the sample's neighbours.

    The own person is converted by the stock transform, unchanged. The
    neighbours (M other persons of the image, see
    :class:`~mipnet_mmpose.datasets.MultiInstanceDatasetMixin`) are converted
    by the same stock transform on a results dict of their own, so every
    neighbour's keypoints equal what the stock converter gives for that person
    as a sample of its own.

    Note:
        - neighbour number: M
        - the part's keypoint number: K
        - the combined keypoint number: K' (``num_keypoints``)

    Required Keys:

        - keypoints, keypoints_visible (as the stock transform)
        - neighbour_keypoints (M, K, 2), neighbour_keypoints_visible (M, K)
          (optional: a sample without them is converted as by the stock one)

    Modified Keys:

        - keypoints (1, K', 2), keypoints_visible (1, K', 2),
          flip_indices (as the stock transform)
        - neighbour_keypoints (M, K', 2) float32
        - neighbour_keypoints_visible (M, K') float32

    The stock output's visibility has a second channel, a weight that is 1 on
    the keypoints the part annotates (the mapping's targets) and 0 elsewhere.
    It depends on the mapping only, so it is the same for every person of the
    part; the own person's copy is carried on (and shared by all λ slots, see
    :func:`mipnet_mmpose.models.heads.multi_instance_head.split_instance_targets`),
    and the neighbours keep the (M, K') visibility that
    :class:`BuildInstanceSlots` reads. ``neighbour_bboxes`` need no mapping.

    Args:
        num_keypoints (int): The combined keypoint number K'
        mapping (list): (source index, target index) pairs, as the stock one
    """

    def transform(self, results: dict) -> dict:
        """Convert the own person (stock) and the neighbours (stock, on their own)."""
        results = super().transform(results)
        if not all(key in results for key in NEIGHBOUR_FIELDS):
            return results
        keypoints = np.asarray(results['neighbour_keypoints'], dtype=np.float32)
        visible = np.asarray(results['neighbour_keypoints_visible'], dtype=np.float32)
        if keypoints.ndim != 3 or visible.shape != keypoints.shape[:2]:
            raise ValueError(
                f'{type(self).__name__}: neighbour_keypoints {keypoints.shape} and '
                f'neighbour_keypoints_visible {visible.shape} must have shapes (M, K, 2) '
                'and (M, K)')
        # Only the two fields: no flip_indices (the stock transform rewrites those
        # in place when it interpolates; the own person's call did that already)
        # and no keypoints_3d.
        mapped = super().transform(dict(keypoints=keypoints, keypoints_visible=visible))
        results['neighbour_keypoints'] = mapped['keypoints'].astype(np.float32)
        results['neighbour_keypoints_visible'] = \
            mapped['keypoints_visible'][..., 0].astype(np.float32)
        return results
