"""COCO-style datasets whose top-down samples carry their neighbours.

MIPNet trains slot i of a box on the i-th nearest other instance (person,
animal, hand, face) in the box. The stock top-down datasets give one instance
per sample, so ``MultiInstance<Name>`` (any data set built on MMPose's
:class:`BaseCocoStyleDataset` with :class:`MultiInstanceDatasetMixin` in front,
made on demand like the backbones and heads) attaches the other valid GT
instances of the same image to every sample; :class:`BuildInstanceSlots`
later warps them into the crop and picks the slots.
"""
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Set, Tuple

import numpy as np
from mmengine.logging import print_log
from mmpose.datasets import CocoDataset, CrowdPoseDataset, OCHumanDataset
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from ..utils.mixin_class import PREFIX, made_on_demand, registered, with_mixin
from .decoded_image_cache import DecodedImageCache, image_cache_for
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
    find_bad_annotations,
    find_bad_records,
    load_json_file,
    log_detection_summary,
    names_a_person_category,
    not_a_coco_dict_error,
    person_category_ids,
    raise_bad_annotations,
    require_file,
    shorten,
    split_by_category,
    warn_suspicious_detections,
)
from .neighbours import neighbour_index

NEIGHBOUR_KEYS = ('neighbor_keypoints', 'neighbor_keypoints_visible',
                  'neighbor_bboxes')
# The key of a stored data info that says where its neighbours are in the
# dataset's NeighbourTable; get_data_info replaces it by NEIGHBOUR_KEYS.
NEIGHBOUR_SPAN_KEY = 'neighbor_span'


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


def _has_no_area(info: Dict) -> bool:
    """Whether a parsed instance's (1, 4) xyxy box has no positive area."""
    bbox = info.get('bbox')
    if bbox is None:
        return False
    x1, y1, x2, y2 = bbox[0]
    return x2 - x1 <= 0 or y2 - y1 <= 0  # the stock validity test's


def _category_of(info: Dict) -> object:
    """A parsed instance's category id (a numpy scalar from the COCO parser, an
    int from COCO-WholeBody's); 1 (person) where the stock parser keeps none
    (COCO-WholeBody's face and hand subsets parse persons' parts only)."""
    category = info.get('category_id', 1)
    return category.item() if isinstance(category, np.ndarray) else category


@dataclass
class NeighbourTable:
    """The neighbours of all samples of a dataset, stored once.

    Each person that is some sample's neighbour has one row; each sample
    stores only ``(start, stop)`` (under :data:`NEIGHBOUR_SPAN_KEY`), its
    neighbours being rows ``order[start:stop]``, nearest first. Per-sample
    neighbour arrays would hold every person of an image of P persons P - 1
    times and cost three pickled numpy headers per sample in mmengine's
    serialised data list; these flat arrays are shared by DataLoader workers
    as they are (fork, copy-on-write: nothing in them is written).

    Note:
        - stored person number: R
        - neighbour entries of all samples: T
        - keypoint number: K

    Attributes:
        keypoints (np.ndarray): (R, K, 2) float32, image space
        keypoints_visible (np.ndarray): (R, K) float32
        bboxes (np.ndarray): (R, 4) float32, xyxy
        order (np.ndarray): (T, ) int32, rows of the three arrays above
    """

    keypoints: np.ndarray
    keypoints_visible: np.ndarray
    bboxes: np.ndarray
    order: np.ndarray

    def take(self, start: int, stop: int) -> Dict[str, np.ndarray]:
        """The neighbour fields of the sample whose span is ``(start, stop)``.

        Returns:
            dict: ``neighbor_keypoints`` (M, K, 2), ``neighbor_keypoints_visible``
            (M, K) and ``neighbor_bboxes`` (M, 4), float32 copies, M = stop - start
        """
        rows = self.order[start:stop]
        return dict(neighbor_keypoints=self.keypoints[rows],
                    neighbor_keypoints_visible=self.keypoints_visible[rows],
                    neighbor_bboxes=self.bboxes[rows])


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

    The fields are attached by :meth:`get_data_info`; the stored data list
    (``data_list`` / mmengine's serialised bytes) holds only each sample's
    span in :attr:`neighbour_table` (see :class:`NeighbourTable`), so that
    the data list costs about what the stock one does.

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

    In test mode (top-down) each image is decoded once for all its
    consecutive samples instead of once per box (see
    :class:`DecodedImageCache`); the pipeline output is unchanged.

    Args:
        reuse_decoded_images (bool): Decode each test image once for its
            consecutive samples. Defaults to True.
        *args, **kwargs: Those of the stock dataset.
    """

    def __init__(self, *args, reuse_decoded_images: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Test-mode top-down sets only (one sample per box, grouped by image,
        # read in order); training samples come shuffled, so a cache would
        # hardly ever hit. None also where the pipeline does not start with a
        # file-loading transform (MMPose's LoadImage) to decode the misses.
        self.image_cache: Optional[DecodedImageCache] = (
            image_cache_for(self.pipeline)
            if reuse_decoded_images and self.test_mode and self.data_mode == 'topdown'
            else None)

    def _require_ann_file(self) -> None:
        """Raise if ``ann_file`` does not exist, naming the fields to check."""
        require_file(
            self.ann_file, 'Annotation file', 'ann_file',
            f'It is `ann_file` joined with `data_root` (data_root='
            f'{self.data_root!r}); check both fields, or download the '
            'annotations (docs/data.md says where each file comes from).')

    def load_data_list(self) -> List[dict]:
        """The stock loading; a failure inside it on a malformed record of
        ``ann_file`` is explained by naming the records (see
        :func:`.input_checks.find_bad_records`)."""
        self.neighbour_table: Optional[NeighbourTable] = None
        try:
            return super().load_data_list()
        except (DatasetInputError, DatasetFileNotFoundError):
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            if not (self._stock_is_coco('_load_annotations')
                    and self._stock_is_coco('parse_data_info')):
                raise
            raw = load_json_file(self.ann_file, 'ann_file', AnnotationFileError)
            problems = find_bad_records(raw, self._metainfo['num_keypoints'])
            if not problems:
                raise
            raise AnnotationFileError(
                f'{len(problems)} record(s) of `{self.ann_file}` (config field `ann_file`) '
                f'are malformed: {shorten(problems, 3)}. Fix or remove them (the stock '
                f'loader failed on them with {type(err).__name__}: {err}).') from err

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        """Load the GT annotations, explaining a missing or malformed file.

        Data sets whose stock loader reads another format than a COCO file
        (MPII's list of records) are loaded as the stock one does, with a
        missing or unparsable file explained.
        """
        self._require_ann_file()
        if self._stock_is_coco('_load_annotations'):
            return self._load_coco_annotations()
        with explain_json_errors(self.ann_file, 'ann_file', AnnotationFileError):
            return super()._load_annotations()

    @classmethod
    def _stock_is_coco(cls, method: str) -> bool:
        """Whether the stock class's ``method`` is :class:`BaseCocoStyleDataset`'s.

        The file checks here are written for its COCO-file loader (``self.coco``)
        and its parser (``keypoints`` of K*3 numbers); a data set that reads
        another format (MPII's list of records) or assembles the keypoints from
        several fields (COCO-WholeBody's body, foot, face and hands) is loaded
        as the stock one does.
        """
        for base in cls.__mro__:
            if base is not MultiInstanceDatasetMixin and method in vars(base):
                return base is BaseCocoStyleDataset
        return False

    def _load_coco_annotations(self) -> Tuple[List[dict], List[dict]]:
        """The stock COCO-file loading, explaining a malformed file."""
        # While the stock loader parses the file: the Python ids of its bad
        # annotations, found in one pass on the first parse_data_info call.
        self._bad_annotations: Optional[Set[int]] = None
        self._checking_file = True
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
        finally:
            self._checking_file, self._bad_annotations = False, None
        # Without these keys xtcocotools builds an empty index, and the
        # dataset would silently have no samples.
        check_coco_keys(self.coco.dataset, self.ann_file,
                        ('images', 'annotations'))
        check_annotation_list(self.coco.dataset['annotations'], self.ann_file)
        return self._keep_person_category(instance_list), image_list

    def _keep_person_category(self, instance_list: List[dict]) -> List[dict]:
        """Drop the annotations of other categories, with a logged count.

        The stock loader takes every annotation as a person, whatever its
        ``category_id``. A file of persons (one that names a category
        ``person``, or declares none: COCO's id 1) keeps only those; a file
        whose categories are all something else (AP-10K's species, AnimalPose's
        cat and dog, OneHand10K's hand, WFLW's face) keeps all, as the stock
        loader does: they are the data set's subjects.
        """
        categories = self.coco.dataset.get('categories', [])
        if categories and not names_a_person_category(categories):
            return instance_list
        kept, skipped = split_by_category(
            instance_list, person_category_ids(categories),
            _category_of)
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

        While :meth:`_load_annotations` parses ``self.coco``'s annotations,
        all of them are checked at once on the first call (see
        :func:`.input_checks.find_bad_annotations`), and an annotation fails
        here if it is one of the bad ones: the same annotations fail, at the
        same point, as when each is checked on its own, in a fraction of the
        time.
        """
        if not self._stock_is_coco('parse_data_info'):
            return super().parse_data_info(raw_data_info)
        ann = raw_data_info['raw_ann_info']
        # ``_metainfo``, not the ``metainfo`` property: that one deep-copies
        # the whole meta information on every call (once per annotation).
        num_keypoints = self._metainfo['num_keypoints']
        coco = getattr(self, 'coco', None)
        if getattr(self, '_checking_file', False) and coco is not None:
            if self._bad_annotations is None:
                annotations = coco.dataset.get('annotations', [])
                self._bad_annotations = {
                    id(annotations[index])
                    for index in find_bad_annotations(annotations, num_keypoints)
                }
            # The stock loader hands over the file's own annotation dicts.
            bad = id(ann) in self._bad_annotations
        else:
            bad = describe_bad_annotation(ann, num_keypoints) is not None
        if bad:
            # Report every bad annotation of the file at once.
            annotations = (coco.dataset.get('annotations', [])
                           if coco is not None else [ann])
            raise_bad_annotations(annotations, num_keypoints, self.ann_file,
                                  type(self).__name__)
        return super().parse_data_info(raw_data_info)

    def _get_topdown_data_infos(self, instance_list: List[Dict]) -> List[Dict]:
        """Organize the data list in top-down mode, indexing the neighbours."""
        data_list = super()._get_topdown_data_infos(instance_list)
        # The stock filter drops persons whose box, clipped to the image, has
        # no area. Say so: otherwise they silently vanish from training. The
        # stock validity test without the box tells those that would
        # otherwise have been samples. Only the dropped ones are tested: the
        # stock filter keeps the order, so one walk along both lists finds
        # them (were it to reorder, every instance would be tested: slower,
        # still right).
        dropped, kept = [], iter(data_list)
        next_kept = next(kept, None)
        for info in instance_list:
            if info is next_kept:
                next_kept = next(kept, None)
            else:
                dropped.append(info)
        no_area = [
            info['id'] for info in dropped
            if _has_no_area(info) and self._is_valid_instance(
                {k: v for k, v in info.items() if k != 'bbox'})
        ]
        if no_area:
            print_log(
                f'{type(self).__name__}: skipped {len(no_area)} person(s) of '
                f'`{self.ann_file}` whose box has non-positive width or '
                'height (after clipping to the image), annotation ids '
                f'{shorten(no_area)}; fix their `bbox` to keep them.',
                logger='current', level=logging.WARNING)
        self._index_neighbours(data_list, instance_list)
        return data_list

    def _index_neighbours(self, data_list: List[Dict], instance_list: List[Dict]) -> None:
        """Build :attr:`neighbour_table` and give each sample its span.

        A sample's neighbours are the other persons of its image that the
        authors' code takes as candidates: not crowd, a box of positive size
        and at least one labelled keypoint (``visible > 0``; their
        ``max(obj['keypoints']) > 0``: lib/dataset/crowdpose_lambda.py and
        coco_lambda.py lines 184-211 of GitHub ``rawalkhirodkar/MIPNet``),
        whether or not the stock filter keeps them as samples. The two differ
        where ``num_keypoints``, which the stock validity test reads,
        disagrees with the visibility flags: CrowdPose counts only its 12
        body keypoints, so a person with only the head and neck labelled is
        no sample here but is a neighbour, and as the nearest one it takes a
        slot (which :class:`BuildInstanceSlots` then gives the box's own
        person: too few keypoints in the crop). A sample without a labelled
        keypoint is no neighbour but still gets the others, ordered from its
        own box.

        Args:
            data_list (list[dict]): The samples (the stock filter's output,
                the same dicts as in ``instance_list``, in its order).
            instance_list (list[dict]): Every parsed person of the file.
        """
        if not data_list:
            return
        # The stock filter returns the dicts of instance_list, in its order.
        samples = {id(info) for info in data_list}
        is_sample = np.fromiter((id(info) in samples for info in instance_list),
                                dtype=bool, count=len(instance_list))
        if int(is_sample.sum()) != len(samples):
            raise RuntimeError(
                f'{type(self).__name__}: the stock _get_topdown_data_infos returned samples '
                'that are not the dicts of its instance_list; the neighbours are found among '
                'those, so a subclass that copies them must index its neighbours itself')
        labelled = np.any(np.concatenate(
            [info['keypoints_visible'] for info in instance_list]) > 0, axis=1)
        # The other candidates: the stock test (crowd, box) without its
        # num_keypoints rule; samples passed the whole test already.
        in_pool = is_sample.copy()
        for i in np.flatnonzero(labelled & ~is_sample).tolist():
            in_pool[i] = self._is_valid_instance(
                {k: v for k, v in instance_list[i].items() if k != 'num_keypoints'})
        # Samples and candidates in the file's order: tied distances keep it,
        # as the authors' strict `<` keeps the first.
        infos = [instance_list[i] for i in np.flatnonzero(in_pool).tolist()]
        candidate = labelled[in_pool]
        # Whole arrays, then one vectorised pass (neighbour_index).
        image_index: Dict = {}
        groups = np.fromiter(
            (image_index.setdefault(info['img_id'], len(image_index)) for info in infos),
            dtype=np.int64, count=len(infos))
        bboxes = np.concatenate([info['bbox'] for info in infos]).astype(np.float32)
        visible = np.concatenate([info['keypoints_visible'] for info in infos])
        keypoints = np.concatenate([info['keypoints'] for info in infos])
        persons, order, offsets = neighbour_index(groups, candidate, bboxes)
        self.neighbour_table = NeighbourTable(
            keypoints=keypoints[persons, :, :2].astype(np.float32),
            keypoints_visible=visible[persons].astype(np.float32),
            bboxes=bboxes[persons],
            order=order)
        # The spans of the candidates that are no sample are left unused.
        for info, start, stop in zip(infos, offsets[:-1].tolist(), offsets[1:].tolist()):
            if stop > start and id(info) in samples:
                info[NEIGHBOUR_SPAN_KEY] = (start, stop)

    def get_data_info(self, idx: int) -> dict:
        """The stock data info of a sample, with its neighbour fields.

        Args:
            idx (int): The index of the sample

        Returns:
            dict: The data info, with ``neighbor_keypoints`` (M, K, 2),
            ``neighbor_keypoints_visible`` (M, K) and ``neighbor_bboxes``
            (M, 4), float32
        """
        data_info = super().get_data_info(idx)
        span = data_info.pop(NEIGHBOUR_SPAN_KEY, None)
        if span is None:
            data_info.update(empty_neighbours(self._metainfo['num_keypoints']))
        elif getattr(self, 'neighbour_table', None) is None:
            raise RuntimeError(
                f'Sample {idx} of {type(self).__name__} has neighbours in '
                f'`{NEIGHBOUR_SPAN_KEY}` but the dataset has no neighbour_table '
                '(was its data list built by another dataset?).')
        else:
            data_info.update(self.neighbour_table.take(*span))
        return data_info

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

        In test mode each image is decoded once for all its consecutive
        samples (:attr:`image_cache`); the pipeline's ``LoadImage``
        gets the decoded array instead of the path.

        The stock ``LoadImage`` fails on an empty or truncated image with a
        bare ``cv2.error`` or ``failed to load image`` inside the data loader.
        """
        try:
            if self.image_cache is None:
                return super().prepare_data(idx)
            # BaseCocoStyleDataset.prepare_data, with the image filled in
            data_info = self.image_cache.fill(self.get_data_info(idx))
            data_info['dataset'] = self
            return self.pipeline(data_info)
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


def multi_instance_dataset_class(cls: type) -> type:
    """``MultiInstance<Name>``: the stock data set class with the neighbours mixin.

    Made once per class and registered in MMPose's ``DATASETS`` under its
    name, so a config names it as ``type='MultiInstance<Name>'`` with the stock
    arguments.

    Args:
        cls (type): A data set class built on :class:`BaseCocoStyleDataset`.

    Returns:
        type: The multi-instance class (``cls`` itself if it has the mixin).
    """
    if not (isinstance(cls, type) and issubclass(cls, BaseCocoStyleDataset)):
        raise TypeError(
            f'{getattr(cls, "__name__", cls)!r} is not built on MMPose\'s '
            'BaseCocoStyleDataset: MIPNet attaches the neighbours of top-down samples '
            'of COCO-style data sets only.')
    return registered(
        with_mixin(MultiInstanceDatasetMixin, cls, __name__), DATASETS,
        f':class:`{cls.__name__}` whose top-down samples carry their neighbours.\n\n'
        '    See :class:`MultiInstanceDatasetMixin` for the added fields; all\n'
        f'    arguments are those of :class:`{cls.__module__}.{cls.__name__}`.\n')


def register_multi_instance_datasets() -> List[str]:
    """Make and register ``MultiInstance<Name>`` for every data set registered in
    MMPose's ``DATASETS`` that is built on :class:`BaseCocoStyleDataset`.

    Run when this module is imported (MMPose's data sets are registered by
    then); run it again after registering a data set of one's own, or call
    :func:`multi_instance_dataset_class` on it.

    Returns:
        list[str]: The names of the multi-instance classes, sorted.
    """
    names = []
    for name, cls in list(DATASETS.module_dict.items()):
        if (isinstance(cls, type) and issubclass(cls, BaseCocoStyleDataset)
                and not name.startswith(PREFIX) and cls is not BaseCocoStyleDataset):
            names.append(multi_instance_dataset_class(cls).__name__)
    return sorted(names)


def __getattr__(name: str) -> type:
    """``MultiInstance<Name>`` on demand, so a pickled data set of one loads in a
    fresh process."""
    made = made_on_demand(name, MultiInstanceDatasetMixin, __name__, (DATASETS, ))
    return multi_instance_dataset_class(made)


register_multi_instance_datasets()
MultiInstanceCocoDataset = multi_instance_dataset_class(CocoDataset)
MultiInstanceCrowdPoseDataset = multi_instance_dataset_class(CrowdPoseDataset)
MultiInstanceOCHumanDataset = multi_instance_dataset_class(OCHumanDataset)
