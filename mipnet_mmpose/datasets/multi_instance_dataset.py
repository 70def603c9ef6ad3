"""COCO-style datasets whose top-down samples carry their neighbours.

MIPNet trains slot i of a box on the i-th nearest other instance (person,
animal, hand, face) in the box. The stock top-down datasets give one instance
per sample, so ``MultiInstance<Name>`` (any data set built on MMPose's
:class:`BaseCocoStyleDataset` with :class:`MultiInstanceDatasetMixin` in front,
made on demand like the backbones and heads) attaches the other valid GT
instances of the same image to every sample; :class:`BuildInstanceSlots`
later warps them into the crop and picks the slots.
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmpose.datasets import CocoDataset, CrowdPoseDataset, OCHumanDataset
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS
from mmpose.structures.bbox import bbox_xywh2xyxy

from ..utils.mixin_class import PREFIX, made_on_demand, registered, with_mixin
from ..utils.mmpose_install import installed_mmpose_path
from .decoded_image_cache import DecodedImageCache, image_cache_for
from .input_checks import DatasetInputChecks
from .neighbours import (
    NEIGHBOUR_KEYS,
    NEIGHBOUR_SPAN_KEY,
    NeighbourTable,
    empty_neighbours,
    neighbour_index,
)

__all__ = ['MultiInstanceDatasetMixin', 'multi_instance_dataset_class',
           'register_multi_instance_datasets', 'NEIGHBOUR_KEYS', 'NEIGHBOUR_SPAN_KEY']


class MultiInstanceDatasetMixin:
    """Adds the other GT persons of the image to each top-down sample.

    Mixed in before a :class:`BaseCocoStyleDataset` subclass. In top-down GT
    mode every data info gains, for the M other valid persons of its image
    (not crowd, at least one labelled keypoint, positive box area), sorted by
    squared distance between box centres, nearest first:

        - ``neighbour_keypoints`` (np.ndarray): (M, K, 2) float32, image space
        - ``neighbour_keypoints_visible`` (np.ndarray): (M, K) float32
        - ``neighbour_bboxes`` (np.ndarray): (M, 4) float32, xyxy

    With a ``bbox_file`` (detections: no GT persons) and in bottom-up mode
    (all persons are in the sample already) the three fields are present
    with M = 0, so pipelines need not branch.

    The fields are attached by :meth:`get_data_info`; the stored data list
    (``data_list`` / mmengine's serialised bytes) holds only each sample's
    span in :attr:`neighbour_table` (see :class:`NeighbourTable`), so that
    the data list costs about what the stock one does.

    Bad inputs fail at load time with a message naming the file, the config
    field and the fix, or are dropped with a logged count: the data set holds
    a :class:`DatasetInputChecks` (:attr:`input_checks`) and calls it where
    it reads its inputs. Valid inputs load exactly as with the stock dataset.

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

    @classmethod
    def _stock_is_coco(cls, method: str) -> bool:
        """Whether the stock class's ``method`` is :class:`BaseCocoStyleDataset`'s.

        The file checks are written for its COCO-file loaders (``self.coco``,
        the COCO results format of ``bbox_file``) and its parser (``keypoints``
        of K*3 numbers); a data set that reads another format (MPII's list of
        records, PoseTrack18's video detections) or assembles the keypoints
        from several fields (COCO-WholeBody's body, foot, face and hands) is
        loaded as the stock one does, with missing and unparsable files
        explained.
        """
        for base in cls.__mro__:
            if base is not MultiInstanceDatasetMixin and method in vars(base):
                return base is BaseCocoStyleDataset
        return False

    def load_data_list(self) -> List[dict]:
        """The stock loading, with the input checks of this load's files."""
        # Made here: ann_file and data_prefix are joined with data_root by now.
        self.input_checks = DatasetInputChecks(
            type(self).__name__, self.ann_file, self.bbox_file, self.data_root,
            self.data_prefix.get('img', ''), self._metainfo['num_keypoints'])
        self.neighbour_table: Optional[NeighbourTable] = None
        return super().load_data_list()

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        """The stock loading of ``ann_file``, checked (see :class:`DatasetInputChecks`)."""
        checks = self.input_checks
        checks.require_ann_file()
        coco_file = self._stock_is_coco('_load_annotations')
        with checks.reading_annotations(coco_file, self._stock_is_coco('parse_data_info')):
            loaded = super()._load_annotations()
        if not coco_file:
            return loaded
        instance_list, image_list = loaded
        checks.check_loaded_annotations(self.coco.dataset)
        return checks.keep_persons(instance_list, self.coco.dataset.get('categories', [])), \
            image_list

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        """The stock parse of one COCO annotation, after checking its values
        (:meth:`DatasetInputChecks.check_annotation`)."""
        if self._stock_is_coco('parse_data_info'):
            coco = getattr(self, 'coco', None)  # set while the stock loader parses
            self.input_checks.check_annotation(
                raw_data_info['raw_ann_info'],
                coco.dataset.get('annotations') if coco is not None else None)
        return super().parse_data_info(raw_data_info)

    def _get_topdown_data_infos(self, instance_list: List[Dict]) -> List[Dict]:
        """Organize the data list in top-down mode, indexing the neighbours."""
        data_list = super()._get_topdown_data_infos(instance_list)
        # The stock filter keeps the order, so one walk along both lists finds
        # the dropped instances (were it to reorder, all would be reported:
        # slower, still right).
        dropped, kept = [], iter(data_list)
        next_kept = next(kept, None)
        for info in instance_list:
            if info is next_kept:
                next_kept = next(kept, None)
            else:
                dropped.append(info)
        self.input_checks.log_boxless(dropped, self._is_valid_instance)
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
            dict: The data info, with :data:`NEIGHBOUR_KEYS`:
            ``neighbour_keypoints`` (M, K, 2), ``neighbour_keypoints_visible``
            (M, K) and ``neighbour_bboxes`` (M, 4), float32
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
        """The samples of the usable boxes of ``bbox_file`` (M = 0 neighbours).

        The stock loader reads ``bbox_file`` itself and fails on the first
        box of an unknown image; the checks read it instead
        (:meth:`DatasetInputChecks.detections`), and the samples of the kept
        boxes are made here with the stock loader's fields: image id, path
        and shape, xyxy box, box score, dummy keypoints (all visible) and a
        running id.
        """
        if not self._stock_is_coco('_load_detection_results'):
            self.input_checks.require_ann_file()
            self.input_checks.require_bbox_file()
            return super()._load_detection_results()
        dets, images, categories = self.input_checks.detections()
        # As the stock loader does (xtcocotools' loadCats: one per id, file order).
        self._metainfo['CLASSES'] = list({cat.get('id'): cat for cat in categories}.values())
        num_keypoints = self._metainfo['num_keypoints']
        data_list = []
        for index, det in enumerate(dets):
            image = images[det['image_id']]
            data_list.append({
                'img_id': det['image_id'],
                'img_path': osp.join(self.data_prefix['img'], image['file_name']),
                'img_shape': (image['height'], image['width']),
                'bbox': bbox_xywh2xyxy(np.array(det['bbox'], dtype=np.float32).reshape(1, 4)),
                'bbox_score': np.array(det['score'], dtype=np.float32).reshape(1),
                'keypoints': np.zeros((1, num_keypoints, 2), dtype=np.float32),
                'keypoints_visible': np.ones((1, num_keypoints), dtype=np.float32),
                'id': index,
            })
        return data_list

    def filter_data(self) -> List[dict]:
        """Filter the data list as the stock dataset does, then check that
        the images of the kept samples exist.

        Checked here, after ``filter_cfg``, so that images of dropped samples
        (e.g. listed images without any usable person) need not be present;
        a missing image would otherwise surface only when the data loader
        reaches it.
        """
        data_list = super().filter_data()
        self.input_checks.check_images_exist(info['img_path'] for info in data_list)
        return data_list

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
            self.input_checks.explain_image(self.get_data_info(idx).get('img_path'), idx)
            raise


def installed_metainfo(metainfo: dict) -> dict:
    """A stock class's default ``METAINFO``, its file named where MMPose is installed.

    MMPose's data set classes name their keypoint layout by a path inside MMPose's
    source tree (``configs/_base_/datasets/coco.py``); run from any other folder,
    MMPose reads the copy installed with it instead and warns so every time ("The
    metainfo config file ... does not exist. A matched config file ... will be used
    instead."). The multi-instance classes name that copy themselves. Absolute paths,
    and paths MMPose did not install, are kept.

    Args:
        metainfo (dict): The stock class's ``METAINFO``.

    Returns:
        dict: ``metainfo`` with ``from_file`` made absolute where MMPose installed it.
    """
    from_file = metainfo.get('from_file')
    if not isinstance(from_file, str) or osp.isabs(from_file):
        return metainfo
    installed = installed_mmpose_path(from_file)
    return dict(metainfo, from_file=installed) if osp.isfile(installed) else metainfo


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
    made = with_mixin(MultiInstanceDatasetMixin, cls, __name__)
    if made is not cls:
        made.METAINFO = installed_metainfo(cls.METAINFO)
    return registered(
        made, DATASETS,
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
