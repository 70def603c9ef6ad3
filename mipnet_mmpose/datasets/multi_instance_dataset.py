"""COCO-style datasets whose top-down samples carry their neighbours.

MIPNet trains slot i of a person box on the i-th nearest other person in the
box. The stock top-down datasets give one person per sample, so these
subclasses attach the other valid GT persons of the same image to every
sample; :class:`BuildInstanceSlots` later warps them into the crop and picks
the slots.
"""
from collections import defaultdict
from typing import Dict, List

import numpy as np
from mmpose.datasets import CocoDataset, CrowdPoseDataset, OCHumanDataset
from mmpose.registry import DATASETS

from .neighbours import order_neighbours

NEIGHBOUR_KEYS = ('neighbor_keypoints', 'neighbor_keypoints_visible',
                  'neighbor_bboxes')


def empty_neighbours(num_keypoints: int) -> Dict[str, np.ndarray]:
    """Neighbour fields of a sample without neighbours (M = 0).

    Args:
        num_keypoints (int): The keypoint number K of the dataset

    Returns:
        dict: ``neighbor_keypoints`` (0, K, 2), ``neighbor_keypoints_visible``
        (0, K) and ``neighbor_bboxes`` (0, 4), all float32
    """
    return dict(
        neighbor_keypoints=np.zeros((0, num_keypoints, 2), dtype=np.float32),
        neighbor_keypoints_visible=np.zeros((0, num_keypoints),
                                            dtype=np.float32),
        neighbor_bboxes=np.zeros((0, 4), dtype=np.float32))


class MultiInstanceDatasetMixin:
    """Adds the other GT persons of the image to each top-down sample.

    Mixed in before a :class:`BaseCocoStyleDataset` subclass. In top-down GT
    mode every data info gains, for the M other valid persons of its image
    (not crowd, at least one labelled keypoint, positive box area), sorted by
    squared distance between box centres, nearest first:

        - ``neighbor_keypoints`` (np.ndarray): (M, K, 2) float32, image space
        - ``neighbor_keypoints_visible`` (np.ndarray): (M, K) float32
        - ``neighbor_bboxes`` (np.ndarray): (M, 4) float32, xyxy

    With a ``bbox_file`` (detections: no GT persons) and in bottom-up mode
    (all persons are in the sample already) the three fields are present
    with M = 0, so pipelines need not branch.
    """

    def _get_topdown_data_infos(self, instance_list: List[Dict]) -> List[Dict]:
        """Organize the data list in top-down mode, adding neighbours."""
        data_list = super()._get_topdown_data_infos(instance_list)

        # The stock validity test reads the annotation's ``num_keypoints``,
        # which can disagree with the visibility flags (CrowdPose); a
        # neighbour without any labelled keypoint gives no target, so it is
        # not a candidate either way.
        by_image = defaultdict(list)
        for data_info in data_list:
            if np.any(data_info['keypoints_visible'] > 0):
                by_image[data_info['img_id']].append(data_info)

        num_keypoints = self.metainfo['num_keypoints']
        for data_info in data_list:
            data_info.update(empty_neighbours(num_keypoints))
            persons = by_image[data_info['img_id']]
            own = [i for i, p in enumerate(persons) if p is data_info]
            if not own:
                # Own person has no labelled keypoint; still give it the
                # others, ordered from its box.
                persons = persons + [data_info]
                own = [len(persons) - 1]
            if len(persons) < 2:
                continue
            bboxes = np.concatenate([p['bbox'] for p in persons], axis=0)
            order = order_neighbours(bboxes, own[0])
            data_info['neighbor_keypoints'] = np.stack(
                [persons[i]['keypoints'][0, :, :2] for i in order]).astype(
                    np.float32)
            data_info['neighbor_keypoints_visible'] = np.stack(
                [persons[i]['keypoints_visible'][0] for i in order]).astype(
                    np.float32)
            data_info['neighbor_bboxes'] = bboxes[order].astype(np.float32)
        return data_list

    def _get_bottomup_data_infos(self, instance_list: List[Dict],
                                 image_list: List[Dict]) -> List[Dict]:
        """Organize the data list in bottom-up mode (M = 0 neighbours)."""
        data_list = super()._get_bottomup_data_infos(instance_list,
                                                     image_list)
        for data_info in data_list:
            data_info.update(empty_neighbours(self.metainfo['num_keypoints']))
        return data_list

    def _load_detection_results(self) -> List[dict]:
        """Load detections (M = 0 neighbours: no GT persons are known)."""
        data_list = super()._load_detection_results()
        for data_info in data_list:
            data_info.update(empty_neighbours(self.metainfo['num_keypoints']))
        return data_list


@DATASETS.register_module()
class MultiInstanceCocoDataset(MultiInstanceDatasetMixin, CocoDataset):
    """:class:`CocoDataset` whose top-down samples carry their neighbours.

    See :class:`MultiInstanceDatasetMixin` for the added fields; all
    arguments are those of :class:`mmpose.datasets.CocoDataset`.
    """


@DATASETS.register_module()
class MultiInstanceCrowdPoseDataset(MultiInstanceDatasetMixin,
                                    CrowdPoseDataset):
    """:class:`CrowdPoseDataset` whose top-down samples carry their neighbours.

    See :class:`MultiInstanceDatasetMixin` for the added fields; all
    arguments are those of :class:`mmpose.datasets.CrowdPoseDataset`.
    """


@DATASETS.register_module()
class MultiInstanceOCHumanDataset(MultiInstanceDatasetMixin, OCHumanDataset):
    """:class:`OCHumanDataset` whose top-down samples carry their neighbours.

    See :class:`MultiInstanceDatasetMixin` for the added fields; all
    arguments are those of :class:`mmpose.datasets.OCHumanDataset`.
    """
