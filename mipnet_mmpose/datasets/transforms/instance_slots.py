"""Pick the N instance targets of a top-down sample (MIPNet's λ slots)."""
from typing import Dict, Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS
from mmpose.structures.bbox import get_udp_warp_matrix, get_warp_matrix
from mmpose.structures.keypoint import flip_keypoints

from ...utils import check_int_at_least

SELECTIONS = ('paper', 'authors')


@TRANSFORMS.register_module()
class BuildInstanceSlots(BaseTransform):
    """Build the N instance slots of a top-down sample for MIPNet.

    Slot 0 is the sample's own person; slot i (i >= 1) is the i-th nearest
    other person (by box centre, as ordered by the multi-instance datasets)
    with at least ``min_keypoints`` labelled keypoints inside the crop.
    Empty slots repeat the own person (as MIPNet does for a lone person).

    Put it after the stock :class:`TopdownAffine`: it replays the flip of
    :class:`RandomFlip` (which must come before ``TopdownAffine``, in image
    space) and the affine warp of ``TopdownAffine`` on the neighbours, so
    every slot lives in the same input space as ``transformed_keypoints``.
    The stock single-person fields stay as they are, so the stock
    :class:`PackPoseInputs` keeps working.

    Required Keys:

        - neighbour_keypoints (M, K, 2), image space, before flip
        - neighbour_keypoints_visible (M, K)
        - keypoints (1, K, 2), after flip (to check the warp is replayed
          exactly)
        - transformed_keypoints (1, K, 2)
        - keypoints_visible (1, K)
        - img_shape, flip, flip_direction, flip_indices (if flipped)
        - input_size, input_center, input_scale, bbox_rotation (optional)

    Added Keys:

        - instance_keypoints (np.ndarray): (N, K, 2) float32 in input space
        - instance_keypoints_visible (np.ndarray): (N, K) float32; 0 for a
          keypoint outside the crop when ``drop_outside_crop``
        - instance_sources (np.ndarray): (N, ) int64; -1 for the own person,
          else the index into the ``neighbour_*`` arrays

    Args:
        num_instances (int): The slot number N (>= 1). Defaults to 2
        min_keypoints (int): The least number of labelled keypoints inside
            the crop a neighbour needs to fill a slot (>= 0). Defaults to 3
            (the paper's k); the authors' code uses "more than 3", i.e. 4
        selection (str): ``'paper'``: keep the neighbours that pass the
            keypoint test, then take the nearest N-1. ``'authors'``: take the
            nearest N-1, then replace each one failing the test by the own
            person. Defaults to ``'paper'``
        use_udp (bool): Must equal ``TopdownAffine``'s ``use_udp``.
            Defaults to ``False``
        drop_outside_crop (bool): Give every slot's keypoints that the warp
            puts outside the crop (x outside [0, w] or y outside [0, h], w, h
            the input size) visibility 0, so no target and weight 0, as the
            authors do for the own and the other person
            (``JointsLambdaDataset.get_transformed_joints``, lines 253-261).
            ``False`` keeps MMPose's stock targets: such a keypoint keeps
            weight 1 and a Gaussian clipped at the heatmap border (weight 0
            only when the whole Gaussian falls off the heatmap). Defaults to
            ``True``
    """

    def __init__(self,
                 num_instances: int = 2,
                 min_keypoints: int = 3,
                 selection: str = 'paper',
                 use_udp: bool = False,
                 drop_outside_crop: bool = True) -> None:
        super().__init__()
        num_instances = check_int_at_least('num_instances', num_instances, 1)
        min_keypoints = check_int_at_least('min_keypoints', min_keypoints, 0)
        if selection not in SELECTIONS:
            raise ValueError(f'selection must be one of {SELECTIONS}, got '
                             f'{selection!r}')
        for name, flag in (('use_udp', use_udp), ('drop_outside_crop', drop_outside_crop)):
            if not isinstance(flag, bool):
                raise ValueError(f'{name} must be a bool, got {flag!r}')
        self.num_instances = int(num_instances)
        self.min_keypoints = int(min_keypoints)
        self.selection = selection
        self.use_udp = use_udp
        self.drop_outside_crop = drop_outside_crop

    def _warp_matrix(self, results: Dict) -> np.ndarray:
        """The affine matrix ``TopdownAffine`` used for this sample."""
        for key in ('input_size', 'input_center', 'input_scale'):
            if key not in results:
                raise KeyError(f'BuildInstanceSlots needs "{key}" from '
                               'TopdownAffine: put it after TopdownAffine')
        w, h = results['input_size']
        # TopdownAffine stores the centre and the aspect-fixed scale it
        # warped with as input_center / input_scale.
        center = results['input_center']
        scale = results['input_scale']
        rot = results['bbox_rotation'][0] if 'bbox_rotation' in results \
            else 0.
        if self.use_udp:
            return get_udp_warp_matrix(center, scale, rot, output_size=(w, h))
        return get_warp_matrix(center, scale, rot, output_size=(w, h))

    @staticmethod
    def _apply(keypoints: np.ndarray, warp_mat: np.ndarray) -> np.ndarray:
        """Warp (M, K, 2) keypoints as TopdownAffine does (cv2.transform)."""
        if keypoints.shape[0] == 0:
            return keypoints.astype(np.float32)
        return cv2.transform(
            np.ascontiguousarray(keypoints, dtype=np.float32), warp_mat)

    def _check_replay(self, results: Dict, warp_mat: np.ndarray) -> None:
        """Fail loudly when the warp cannot be the one TopdownAffine used."""
        keypoints = results.get('keypoints')
        transformed = results.get('transformed_keypoints')
        if keypoints is None or transformed is None or np.ndim(
                transformed) != 3:
            raise KeyError('BuildInstanceSlots needs "keypoints" and '
                           '"transformed_keypoints" (1, K, 2): put it after '
                           'TopdownAffine on a dataset with keypoints')
        replayed = self._apply(keypoints[..., :2], warp_mat)
        expected = np.asarray(transformed[..., :2])
        # np.allclose(replayed, expected, atol=1e-3) for finite keypoints (a NaN or
        # inf fails either way), without its per-call overhead: a third of this
        # transform's time.
        if not np.all(np.abs(replayed - expected) <= 1e-3 + 1e-5 * np.abs(expected)):
            raise ValueError(
                'BuildInstanceSlots could not replay TopdownAffine: check '
                'that use_udp matches TopdownAffine and that no transform '
                'changes keypoints or bbox_rotation between TopdownAffine '
                'and BuildInstanceSlots')

    def _neighbours_in_input_space(
            self, results: Dict,
            warp_mat: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Flip (if the sample was flipped) and warp the neighbours.

        Returns:
            tuple:
            - keypoints (np.ndarray): (M, K, 2) float32 in input space
            - keypoints_visible (np.ndarray): (M, K) float32 (flipped)
        """
        for key in ('neighbour_keypoints', 'neighbour_keypoints_visible'):
            if key not in results:
                raise KeyError(
                    f'BuildInstanceSlots needs "{key}": use a multi-instance '
                    'dataset (e.g. MultiInstanceCocoDataset)')
        keypoints = np.asarray(results['neighbour_keypoints'],
                               dtype=np.float32)[..., :2].copy()
        visible = np.asarray(results['neighbour_keypoints_visible'],
                             dtype=np.float32).copy()
        if results.get('flip', False):
            # RandomFlip ran before TopdownAffine, in image space: it used
            # the image size (img_shape is (h, w)).
            img_h, img_w = results['img_shape'][:2]
            keypoints, visible = flip_keypoints(
                keypoints,
                visible,
                image_size=(img_w, img_h),
                flip_indices=results['flip_indices'],
                direction=results['flip_direction'])
        return self._apply(keypoints, warp_mat), visible

    def _own_person(self, results: Dict) -> Tuple[np.ndarray, np.ndarray]:
        """Slot 0: the sample's own person, exactly as TopdownAffine left it.

        Returns:
            tuple: keypoints (K, 2) and keypoints_visible (K, ), float32
        """
        keypoints = np.asarray(results['transformed_keypoints'][0, :, :2],
                               dtype=np.float32)
        visible = np.asarray(results['keypoints_visible'][0],
                             dtype=np.float32)
        if visible.ndim == 2:
            # (K, 2) = visibility and weight (see GenerateTarget)
            visible = visible[:, 0]
        return keypoints, visible

    @staticmethod
    def _inside_crop(keypoints: np.ndarray, w: float, h: float) -> np.ndarray:
        """Whether (M, K, 2) input-space keypoints lie in the crop [0, w] x [0, h].

        Returns:
            np.ndarray: (M, K) bool
        """
        x, y = keypoints[..., 0], keypoints[..., 1]
        return (x >= 0) & (x <= w) & (y >= 0) & (y <= h)

    def _select(self, passes: np.ndarray) -> np.ndarray:
        """Neighbour indices of slots 1..N-1 (-1 = own person).

        Args:
            passes (np.ndarray): Whether each neighbour, nearest first,
                passes the keypoint test, in shape (M, )

        Returns:
            np.ndarray: Sources of slots 1..N-1 in shape (N-1, ), int64
        """
        num_extra = self.num_instances - 1
        if self.selection == 'paper':
            chosen = np.flatnonzero(passes)[:num_extra]
        else:
            nearest = np.arange(min(num_extra, passes.shape[0]))
            chosen = np.where(passes[nearest], nearest, -1)
        sources = np.full(num_extra, -1, dtype=np.int64)
        sources[:chosen.shape[0]] = chosen
        return sources

    def transform(self, results: Dict) -> Optional[dict]:
        """The transform function of :class:`BuildInstanceSlots`.

        See ``transform()`` method of :class:`BaseTransform` for details.

        Args:
            results (dict): The result dict

        Returns:
            dict: The result dict.
        """
        warp_mat = self._warp_matrix(results)
        self._check_replay(results, warp_mat)
        own_keypoints, own_visible = self._own_person(results)
        nb_keypoints, nb_visible = self._neighbours_in_input_space(
            results, warp_mat)
        if nb_keypoints.shape[1:] != own_keypoints.shape:
            raise ValueError(
                f'neighbour_keypoints {nb_keypoints.shape} do not match the '
                f'keypoints of the sample {own_keypoints.shape}')

        w, h = results['input_size']
        # The crop test of the authors' get_transformed_joints: a keypoint
        # on the border is inside.
        nb_inside = self._inside_crop(nb_keypoints, w, h)
        passes = np.count_nonzero(nb_inside & (nb_visible > 0),
                                  axis=1) >= self.min_keypoints
        if self.drop_outside_crop:
            nb_visible = np.where(nb_inside, nb_visible, 0.).astype(np.float32)
            own_visible = np.where(
                self._inside_crop(own_keypoints[None], w, h)[0], own_visible,
                0.).astype(np.float32)

        sources = np.concatenate([[-1], self._select(passes)]).astype(np.int64)
        keypoints = np.stack([
            own_keypoints if s < 0 else nb_keypoints[s] for s in sources
        ]).astype(np.float32)
        visible = np.stack(
            [own_visible if s < 0 else nb_visible[s]
             for s in sources]).astype(np.float32)

        results['instance_keypoints'] = keypoints
        results['instance_keypoints_visible'] = visible
        results['instance_sources'] = sources
        return results

    def __repr__(self) -> str:
        """print the basic information of the transform.

        Returns:
            str: Formatted string.
        """
        return (f'{self.__class__.__name__}('
                f'num_instances={self.num_instances}, '
                f'min_keypoints={self.min_keypoints}, '
                f'selection={self.selection!r}, use_udp={self.use_udp}, '
                f'drop_outside_crop={self.drop_outside_crop})')
