"""COCO-style datasets whose top-down samples carry their neighbours.

MIPNet trains slot i of a person box on the i-th nearest other person in the
box. The stock top-down datasets give one person per sample, so these
subclasses attach the other valid GT persons of the same image to every
sample; :class:`BuildInstanceSlots` later warps them into the crop and picks
the slots.
"""
import json
import logging
import os
import tempfile
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmengine.logging import print_log
from mmpose.datasets import CocoDataset, CrowdPoseDataset, OCHumanDataset
from mmpose.registry import DATASETS

from .input_checks import (
    AnnotationFileError,
    DatasetFileNotFoundError,
    DatasetInputError,
    DetectionFileError,
    check_annotation_list,
    check_coco_keys,
    check_image_decodes,
    check_images_exist,
    clean_detections,
    describe_bad_annotation,
    describe_skipped_categories,
    explain_json_errors,
    find_bad_records,
    load_json_file,
    log_detection_summary,
    not_a_coco_dict_error,
    person_category_ids,
    raise_bad_annotations,
    require_file,
    shorten,
    split_by_category,
    warn_suspicious_detections,
)
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

    Bad inputs fail at load time with a message naming the file, the config
    field and the fix (see :mod:`.input_checks`): a missing or unparsable
    ``ann_file`` or ``bbox_file``, an annotation file without ``images`` or
    ``annotations``, keypoint arrays whose length does not match the
    dataset's keypoint number, a detection file that is empty, not a list of
    detections or on none of the annotated images, and images of kept
    samples that are absent on the local disk. Single unusable persons (box
    of non-positive size) and detection boxes (other category, unknown
    image, non-finite score or box, non-positive size) are dropped with a
    logged count. Valid inputs load exactly as with the stock dataset.
    """

    def _require_ann_file(self) -> None:
        """Raise if ``ann_file`` does not exist, naming the fields to check."""
        require_file(
            self.ann_file, 'Annotation file', 'ann_file',
            f'It is `ann_file` joined with `data_root` (data_root='
            f'{self.data_root!r}); check both fields, or download the '
            'annotations.')

    def load_data_list(self) -> List[dict]:
        """The stock loading; a failure inside it on a malformed record of
        ``ann_file`` is explained by naming the records (see
        :func:`.input_checks.find_bad_records`)."""
        try:
            return super().load_data_list()
        except (DatasetInputError, DatasetFileNotFoundError):
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raw = load_json_file(self.ann_file, 'ann_file', AnnotationFileError)
            problems = find_bad_records(raw, self._metainfo['num_keypoints'])
            if not problems:
                raise
            raise AnnotationFileError(
                f'{len(problems)} record(s) of `{self.ann_file}` (config field `ann_file`) '
                f'are malformed: {shorten(problems, 3)}. Fix or remove them (the stock '
                f'loader failed on them with {type(err).__name__}: {err}).') from err

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        """Load the GT annotations, explaining a missing or malformed file."""
        self._require_ann_file()
        try:
            with explain_json_errors(self.ann_file, 'ann_file',
                                     AnnotationFileError):
                instance_list, image_list = super()._load_annotations()
        except AssertionError as err:
            # xtcocotools asserts that the JSON is an object, naming only its
            # type; anything else asserted is not ours to reword.
            message = str(err)
            if 'annotation file format' not in message:
                raise
            kind = message.split("'")[1] if message.count("'") >= 2 else '?'
            raise not_a_coco_dict_error(kind, self.ann_file) from err
        # Without these keys xtcocotools builds an empty index, and the
        # dataset would silently have no samples.
        check_coco_keys(self.coco.dataset, self.ann_file,
                        ('images', 'annotations'))
        check_annotation_list(self.coco.dataset['annotations'], self.ann_file)
        return self._keep_person_category(instance_list), image_list

    def _keep_person_category(self, instance_list: List[dict]) -> List[dict]:
        """Drop the annotations of other categories, with a logged count.

        The stock loader takes every annotation as a person, whatever its
        ``category_id``.
        """
        categories = self.coco.dataset.get('categories', [])
        kept, skipped = split_by_category(
            instance_list, person_category_ids(categories),
            lambda info: info['category_id'].item())
        if skipped:
            described = describe_skipped_categories(skipped, categories)
            if not kept:
                raise AnnotationFileError(
                    f'Annotation file `{self.ann_file}` (config field '
                    f'`ann_file`) has no person annotation: {described}. '
                    f'{type(self).__name__} trains and evaluates the '
                    "category named 'person' (id 1 when none is named so).")
            print_log(
                f'{type(self).__name__}: skipped {sum(skipped.values())} '
                f'annotation(s) of `{self.ann_file}` that are not persons: '
                f'{described}.', logger='current', level=logging.WARNING)
        return kept

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        """Parse one raw COCO annotation, rejecting a wrong keypoint number.

        The stock parser reshapes ``keypoints`` to (1, -1, 3): a wrong length
        either fails there with a bare reshape error or, worse, passes with
        a wrong K and fails in a transform much later.
        """
        ann = raw_data_info['raw_ann_info']
        # ``_metainfo``, not the ``metainfo`` property: that one deep-copies
        # the whole meta information on every call (once per annotation).
        num_keypoints = self._metainfo['num_keypoints']
        if describe_bad_annotation(ann, num_keypoints):
            # Report every bad annotation of the file at once.
            coco = getattr(self, 'coco', None)
            annotations = (coco.dataset.get('annotations', [])
                           if coco is not None else [ann])
            raise_bad_annotations(annotations, num_keypoints, self.ann_file,
                                  type(self).__name__)
        return super().parse_data_info(raw_data_info)

    def _get_topdown_data_infos(self, instance_list: List[Dict]) -> List[Dict]:
        """Organize the data list in top-down mode, adding neighbours."""
        # The stock filter drops persons whose box, clipped to the image, has
        # no area. Say so: otherwise they silently vanish from training. The
        # stock validity test without the box tells those that would
        # otherwise have been samples.
        no_area = [
            info['id'] for info in instance_list
            if not self._is_valid_instance(info) and self._is_valid_instance(
                {k: v for k, v in info.items() if k != 'bbox'})
        ]
        if no_area:
            print_log(
                f'{type(self).__name__}: skipped {len(no_area)} person(s) of '
                f'`{self.ann_file}` whose box has non-positive width or '
                'height (after clipping to the image), annotation ids '
                f'{shorten(no_area)}; fix their `bbox` to keep them.',
                logger='current', level=logging.WARNING)
        data_list = super()._get_topdown_data_infos(instance_list)

        # The stock validity test reads the annotation's ``num_keypoints``,
        # which can disagree with the visibility flags (CrowdPose); a
        # neighbour without any labelled keypoint gives no target, so it is
        # not a candidate either way.
        by_image = defaultdict(list)
        for data_info in data_list:
            if np.any(data_info['keypoints_visible'] > 0):
                by_image[data_info['img_id']].append(data_info)

        num_keypoints = self._metainfo['num_keypoints']
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
        num_keypoints = self._metainfo['num_keypoints']
        for data_info in data_list:
            data_info.update(empty_neighbours(num_keypoints))
        return data_list

    def _load_detection_results(self) -> List[dict]:
        """Load detections (M = 0 neighbours: no GT persons are known).

        The detection file is checked and cleaned first (see
        :func:`.input_checks.clean_detections`); the stock loader then builds
        the samples from the kept boxes.
        """
        self._require_ann_file()
        require_file(
            self.bbox_file, 'Detection file', 'bbox_file',
            'Unlike `ann_file` it is not joined with `data_root`: give it '
            'absolute or relative to the working directory, or run the '
            'person detector to create it.')
        dets = load_json_file(self.bbox_file, 'bbox_file', DetectionFileError)
        annotations = load_json_file(self.ann_file, 'ann_file',
                                     AnnotationFileError)
        check_coco_keys(annotations, self.ann_file, ('images', ))
        kept, dropped = clean_detections(
            dets, self.bbox_file, self.ann_file,
            (image.get('id') for image in annotations['images']))
        warn_suspicious_detections(
            kept, self.bbox_file,
            {image.get('id'): (image['width'], image['height'])
             for image in annotations['images'] if 'width' in image and 'height' in image})
        del annotations
        log_detection_summary(type(self).__name__, self.bbox_file, len(dets),
                              len(kept), dropped)

        if len(kept) == len(dets) and all(a is b for a, b in zip(kept, dets)):
            data_list = super()._load_detection_results()
        else:
            data_list = self._load_kept_detections(kept)
        num_keypoints = self._metainfo['num_keypoints']
        for data_info in data_list:
            data_info.update(empty_neighbours(num_keypoints))
        return data_list

    def _load_kept_detections(self, kept: List[dict]) -> List[dict]:
        """Run the stock detection loader on a cleaned list of detections.

        The stock loader reads ``self.bbox_file`` itself, so it is pointed at
        a temporary copy holding the kept boxes for the duration of the call.
        """
        original = self.bbox_file
        fd, path = tempfile.mkstemp(prefix='mipnet_dets_', suffix='.json')
        try:
            with os.fdopen(fd, 'w') as file:
                json.dump(kept, file)
            self.bbox_file = path
            return super()._load_detection_results()
        finally:
            self.bbox_file = original
            os.remove(path)

    def prepare_data(self, idx: int):
        """Run the pipeline on a sample; a broken image names its path.

        The stock ``LoadImage`` fails on an empty or truncated image with a
        bare ``cv2.error`` or ``failed to load image`` inside the data loader.
        """
        try:
            return super().prepare_data(idx)
        except Exception:
            img_path = self.get_data_info(idx).get('img_path')
            if img_path:
                check_image_decodes(
                    img_path, f"sample {idx} of {type(self).__name__}, `ann_file` "
                    f"{self.ann_file}; config fields `data_root`, `data_prefix['img']`")
            raise

    def filter_data(self) -> List[dict]:
        """Filter the data list as the stock dataset does, then check that
        the images of the kept samples exist.

        Checked here, after ``filter_cfg``, so that images of dropped samples
        (e.g. listed images without any usable person) need not be present;
        a missing image would otherwise surface only when the data loader
        reaches it.
        """
        data_list = super().filter_data()
        check_images_exist((info['img_path'] for info in data_list),
                           self.ann_file, self.data_root,
                           self.data_prefix.get('img', ''))
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
