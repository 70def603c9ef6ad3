"""COCO-style keypoint metrics that keep every pose of a multi-instance model.

MIPNet predicts N poses per person box, one per instance selector λ. MMPose's
:class:`~mmpose.evaluation.CocoMetric` de-duplicates top-down predictions by the
box ``id`` and would therefore silently keep only one pose per box (and index
past the single box area for N > 1). :class:`MultiInstanceCocoMetricMixin` gives
every (box, λ) pose its own identity and then reuses the stock rescoring,
per-image OKS-NMS, JSON dump and xtcocotools evaluation unchanged.

``MultiInstance<Name>`` is a stock COCO-style metric with the mixin in front,
made on demand like the models and data sets: :class:`MultiInstanceCocoMetric`
(COCO, CrowdPose, OCHuman, AIC, Human-Art, AP-10K, Animal-Pose: each with its
data set's sigmas from the metainfo) and :class:`MultiInstanceCocoWholeBodyMetric`
(COCO-WholeBody's body, foot, face, hand and whole-body APs).
"""
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy as np
from mmengine.fileio import dump, load, put_text
from mmengine.logging import MMLogger
from mmpose.evaluation.metrics import CocoMetric, CocoWholeBodyMetric
from mmpose.registry import METRICS

from ...datasets.input_checks import (
    check_annotation_list,
    describe_skipped_categories,
    names_a_person_category,
    person_category_ids,
    split_by_category,
)
from ...utils.mixin_class import made_on_demand, registered, with_mixin
from ..functional.fast_oks_nms import oks_nms

#: Stock COCO-style AP metrics whose converted version merges all N poses.
MERGING_METRICS = ('CocoMetric', 'CocoWholeBodyMetric')

# Per-row fields of the stock metric's ``pred`` dict (first axis = instance).
_ROW_KEYS = ('keypoints', 'keypoint_scores', 'bbox', 'bbox_scores', 'areas', 'lambdas')
# Fields of ``pred_instances`` that must agree row-for-row with ``keypoints``.
_CHECKED_KEYS = ('keypoint_scores', 'bboxes', 'bbox_scores', 'lambdas')


@dataclass(frozen=True, order=True)
class PoseId:
    """Identity of one predicted pose: the source box id and its λ.

    Deliberately not a ``tuple``: the stock ``_sort_and_unique_bboxes`` treats
    sequence-valued ids as bottom-up output and would skip sorting and
    de-duplication altogether. Ordering compares ``(box_id, lam)`` so the
    stock sort groups a box's poses together in λ order.

    Args:
        box_id (Any): The data sample ``id`` (annotation id or detection id).
        lam (int): The instance selector λ that produced the pose.
    """

    box_id: Any
    lam: int


def _as_numpy(value: Any) -> np.ndarray:
    """Convert a tensor / list / array to a numpy array (tensors are moved to
    CPU first, since the estimator may leave ``lambdas`` as a tensor)."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


class MultiInstanceCocoMetricMixin:
    """Keeps every pose of multi-instance (MIPNet) top-down output in a stock
    COCO-style metric (:class:`CocoMetric` or a subclass of it).

    Each data sample is one person box whose ``pred_instances`` holds N rows,
    one per instance selector λ (N = 1 is plain top-down output):

        - ``keypoints`` (np.ndarray): [N, K, 2], image coordinates
        - ``keypoint_scores`` (np.ndarray): [N, K]
        - ``bboxes`` (np.ndarray): [N, 4] xyxy, the same box repeated
        - ``bbox_scores`` (np.ndarray): [N], box score × λ decay
        - ``lambdas`` (np.ndarray | Tensor): [N] int, optional; defaults to
          ``arange(N)`` when absent

    All N × (number of boxes) poses enter the stock scoring (``score_mode``,
    box score × mean keypoint score above ``keypoint_score_thr`` by default)
    and the per-image NMS (``nms_mode``/``nms_thr``); poses are only
    de-duplicated per (box id, λ), which still removes repeated samples.
    ``self.results`` keeps one entry per data sample so mmengine's
    distributed ``collect_results`` works unchanged; poses are split per λ
    only in :meth:`compute_metrics`.

    Who runs which NMS is fixed when the metric is built. The stock OKS-NMS
    is quadratic in Python: with N poses per box a dense image (thousands of
    boxes) takes minutes to hours. For ``nms_mode='oks_nms'`` (the default)
    this class therefore builds the stock metric without NMS (its
    ``nms_mode`` attribute is ``'none'``: the stock loop hands every rescored
    pose on) and applies a vectorised OKS-NMS that keeps exactly the same
    poses in :meth:`results2json`, the first step after the stock scoring.
    :attr:`merge_nms_mode` holds the NMS the metric merges poses with (the
    ``nms_mode`` argument); ``'soft_oks_nms'`` stays the stock loop's.

    After each evaluation :attr:`last_lambda_stats` holds
    ``{'produced': {λ: count}, 'kept_after_nms': {λ: count}}`` (``produced``
    counts the poses that enter NMS), which is also logged. The dumped
    ``<outfile_prefix>.keypoints.json`` is the stock metric's file (COCO's,
    or COCO-WholeBody's with its part fields) with a ``lambda`` field per pose.
    OKS-NMS uses the sigmas of the data set's metainfo (``dataset_meta``).

    Args:
        nms_mode (str): ``'oks_nms'`` (the stock default, as in the MIPNet
            authors' COCO/OCHuman evaluation), ``'soft_oks_nms'`` or
            ``'none'`` (the authors' CrowdPose protocol); kept as
            :attr:`merge_nms_mode`.
        **kwargs: The other arguments of the stock metric, with the same
            defaults (``nms_thr=0.9`` as the authors; ``iou_type=
            'keypoints_crowd'``, ``use_area=False`` for CrowdPose).
    """

    def __init__(self, nms_mode: str = 'oks_nms', **kwargs) -> None:
        # The stock arguments and defaults (OKS-NMS at 0.9, as the authors); the
        # stock loop is built without the OKS-NMS that results2json applies.
        super().__init__(nms_mode='none' if nms_mode == 'oks_nms' else nms_mode, **kwargs)
        #: The NMS this metric merges each image's poses with (the ``nms_mode``
        #: argument; ``self.nms_mode`` is the stock loop's, see the class notes).
        self.merge_nms_mode: str = nms_mode
        if self.coco is not None:
            self._check_gt_annotations()
        self.last_lambda_stats: Dict[str, Dict[int, int]] = {
            'produced': {},
            'kept_after_nms': {}
        }
        self._produced: Counter = Counter()

    def _check_gt_annotations(self) -> None:
        """Refuse repeated annotation ids; in a file of persons, evaluate
        persons only.

        ``xtcocotools`` keeps one annotation per id, so repeated ids lose
        persons from the evaluation unnoticed; annotations of a declared
        other category would be evaluated as a category without any
        prediction and halve the AP. A file without a ``person`` category
        (AP-10K's species, Animal-Pose's animals) keeps all: they are the data
        set's subjects, as the multi-instance data sets keep them.
        """
        dataset = self.coco.dataset
        annotations = dataset.get('annotations', [])
        if annotations:
            check_annotation_list(annotations, self.ann_file)
        categories = dataset.get('categories', [])
        if categories and not names_a_person_category(categories):
            return
        person_ids = person_category_ids(categories)
        kept, skipped = split_by_category(annotations, person_ids,
                                          lambda ann: ann.get('category_id', 1))
        if skipped:
            MMLogger.get_current_instance().warning(
                f'{type(self).__name__}: evaluating the persons of `{self.ann_file}` '
                f'only; skipped {sum(skipped.values())} annotation(s) of other '
                f'categories: {describe_skipped_categories(skipped, categories)}.')
            dataset['annotations'] = kept
            dataset['categories'] = [
                cat for cat in categories if cat.get('id') in person_ids
            ] or categories
            self.coco.createIndex()

    # ------------------------------------------------------------------ #
    # collection (one entry per data sample)
    # ------------------------------------------------------------------ #
    def process(self, data_batch: Sequence[dict], data_samples: Sequence[dict]) -> None:
        """Store one ``(pred, gt)`` entry per data sample, all N rows kept.

        Args:
            data_batch (Sequence[dict]): A batch of data from the dataloader.
            data_samples (Sequence[dict]): Model outputs as dicts, each with
                ``id``, ``img_id``, ``pred_instances`` (see the class doc),
                ``gt_instances`` and, without ``ann_file``, ``ori_shape`` and
                ``raw_ann_info``.
        """
        # validate the whole batch first so a bad sample leaves no partial
        # batch behind in self.results
        lambdas_per_sample = [self._checked_lambdas(ds) for ds in data_samples]
        start = len(self.results)
        super().process(data_batch, data_samples)
        new_entries = self.results[start:]
        assert len(new_entries) == len(data_samples)
        for (pred, _), ds, lambdas in zip(new_entries, data_samples, lambdas_per_sample):
            num_rows = len(lambdas)
            pred['lambdas'] = lambdas
            # the stock metric derives one area from the single
            # ``gt_instances.bbox_scales`` row; every λ pose shares that box
            if 'areas' in pred and len(pred['areas']) == 1 and num_rows > 1:
                pred['areas'] = np.repeat(pred['areas'], num_rows)
            # without predicted box scores the stock fallback would be ones(N)
            # for N > 1 (length mismatch with the single detection score);
            # broadcast the box's detection score instead
            if 'bbox_scores' not in ds['pred_instances'] and num_rows > 1:
                gt_scores = ds.get('gt_instances', {}).get('bbox_scores', None)
                if gt_scores is not None and len(gt_scores) == 1:
                    pred['bbox_scores'] = np.repeat(_as_numpy(gt_scores), num_rows)

    @classmethod
    def _checked_lambdas(cls, data_sample: dict) -> np.ndarray:
        """Check that all per-row prediction fields agree in length and
        return the sample's λ values.

        Args:
            data_sample (dict): One model output as a dict.

        Returns:
            np.ndarray: λ of each row, shape [N], int64.
        """
        if 'pred_instances' not in data_sample:
            raise ValueError(f'`pred_instances` are required by {cls.__name__}.')
        pred_instances = data_sample['pred_instances']
        num_rows = len(pred_instances['keypoints'])
        where = (f"data sample id={data_sample.get('id')} "
                 f"img_id={data_sample.get('img_id')}")
        for key in _CHECKED_KEYS:
            if key in pred_instances and len(pred_instances[key]) != num_rows:
                raise ValueError(
                    f'{cls.__name__}: {where} has {num_rows} rows of '
                    f"'keypoints' but {len(pred_instances[key])} rows of '{key}'; "
                    'every pred_instances field must hold one row per λ.')
        if 'lambdas' in pred_instances:
            lambdas = _as_numpy(pred_instances['lambdas']).astype(np.int64).reshape(-1)
        else:
            # plain top-down output (N = 1) or rows already in λ order
            lambdas = np.arange(num_rows, dtype=np.int64)
        if len(np.unique(lambdas)) != len(lambdas):
            # (box id, λ) is the pose identity; repeats would be dropped as
            # duplicates without notice
            raise ValueError(f'{cls.__name__}: {where} has repeated lambdas '
                             f'{lambdas.tolist()}.')
        return lambdas

    # ------------------------------------------------------------------ #
    # evaluation
    # ------------------------------------------------------------------ #
    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Split every sample into one single-row prediction per λ, then run
        the stock scoring, NMS, dump and evaluation.

        Args:
            results (list): ``(pred, gt)`` per data sample, from
                :meth:`process` (after collection across ranks).

        Returns:
            Dict[str, float]: The stock metric's keypoint metrics (COCO,
            CrowdPose or COCO-WholeBody).

        Raises:
            ValueError: The data set defines no OKS sigmas (a per-box task),
                which OKS-NMS and the COCO evaluation need.
        """
        self._check_sigmas()
        split_results = []
        for pred, gt in results:
            lambdas = pred.get('lambdas', np.arange(len(pred['keypoints'])))
            for row, lam in enumerate(lambdas):
                row_pred = {
                    key: (value[row:row + 1] if key in _ROW_KEYS else value)
                    for key, value in pred.items()
                }
                row_pred['id'] = PoseId(pred['id'], int(lam))
                # the same gt dict object for every row; gt_to_coco_json
                # drops the repeats by identity
                split_results.append((row_pred, gt))

        self._produced = Counter()
        self.last_lambda_stats = {'produced': {}, 'kept_after_nms': {}}
        metrics = super().compute_metrics(split_results)

        stats = self.last_lambda_stats
        stats['produced'] = dict(sorted(self._produced.items()))
        MMLogger.get_current_instance().info(
            f'{self.__class__.__name__}: poses per lambda before NMS '
            f"{stats['produced']}, kept after {self.merge_nms_mode} "
            f"(thr {self.nms_thr}) {stats['kept_after_nms']}")
        return metrics

    def _check_sigmas(self) -> None:
        """Refuse a data set without keypoint sigmas before the stock code meets them.

        OKS, which the NMS and the COCO evaluation compute, needs one sigma per
        keypoint; the per-box data sets (OneHand10K, WFLW, COFW, 300W...) define
        none, and numpy would fail with a broadcast error naming nothing. Only a
        dump of every pose (``format_only`` with ``nms_mode='none'``) needs none.
        """
        meta = self.dataset_meta or {}
        if np.size(meta.get('sigmas', [])) > 0 or \
                (self.format_only and self.merge_nms_mode == 'none'):
            return
        raise ValueError(
            f"{type(self).__name__}: the data set {meta.get('dataset_name', '')!r} defines no "
            'keypoint OKS sigmas (`sigmas` in its metainfo), which OKS-NMS and the COCO AP '
            'need: evaluate this per-box task with a per-box metric (PCKAccuracy, AUC, EPE, '
            "NME, as its stock config does), or give the data set's metainfo one sigma per "
            'keypoint')

    def gt_to_coco_json(self, gt_dicts: Sequence[dict], outfile_prefix: str) -> str:
        """Convert GT to a COCO json, counting each data sample's GT once
        (:meth:`compute_metrics` repeats it for each of its λ rows).

        Args:
            gt_dicts (Sequence[dict]): GT dicts, possibly repeated objects.
            outfile_prefix (str): Prefix of the ``.gt.json`` file.

        Returns:
            str: Path of the written json file.
        """
        unique = list({id(gt): gt for gt in gt_dicts}.values())
        return super().gt_to_coco_json(unique, outfile_prefix)

    def _sort_and_unique_bboxes(self,
                                kpts: Dict[int, list],
                                key: str = 'id') -> Dict[int, list]:
        """Stock sort and de-duplication, here per (box id, λ) because ids
        are :class:`PoseId`; records the poses that enter NMS.

        Args:
            kpts (Dict[int, list]): Per-image lists of pose records.
            key (str): Record field to sort by. Defaults to ``'id'``.

        Returns:
            Dict[int, list]: The sorted, de-duplicated records, each with a
            ``'lambda'`` field.
        """
        kpts = super()._sort_and_unique_bboxes(kpts, key=key)
        for instances in kpts.values():
            for instance in instances:
                pose_id = instance['id']
                instance['lambda'] = pose_id.lam if isinstance(pose_id, PoseId) else 0
                self._produced[instance['lambda']] += 1
        return kpts

    def results2json(self, keypoints: Dict[int, list], outfile_prefix: str) -> str:
        """OKS-NMS when :attr:`merge_nms_mode` is ``'oks_nms'``, then the stock
        metric's keypoint results file plus a ``lambda`` field per pose;
        records the poses kept after NMS.

        The stock loop calls this right after its scoring (and its NMS, which
        it runs for ``'soft_oks_nms'`` only): the OKS-NMS here keeps the poses
        the stock ``oks_nms`` would keep there (see the class notes).

        For :class:`CocoMetric` the entries are those of its
        ``results2json`` (same fields, values and order; a test compares the
        two files), written in one pass by Python's C json encoder (the stock
        file goes through the pure-Python one, twice here before: the slowest
        part of evaluating an image with thousands of poses). A subclass that
        writes its own format (COCO-WholeBody's part fields) writes it with its
        own method; the ``lambda`` fields are added to its entries, which
        follow the records' order.

        Args:
            keypoints (Dict[int, list]): Per-image pose records, scored.
            outfile_prefix (str): Prefix of the ``.keypoints.json`` file.

        Returns:
            str: Path of the written json file.
        """
        if self.merge_nms_mode == 'oks_nms':
            sigmas = self.dataset_meta['sigmas']
            keypoints = {
                img_id: [instances[k] for k in oks_nms(instances, self.nms_thr, sigmas=sigmas)]
                for img_id, instances in keypoints.items()
            }
        records: List[dict] = [rec for recs in keypoints.values() for rec in recs]
        # list every produced λ, with 0 when NMS removed all of its poses
        kept = {lam: 0 for lam in sorted(self._produced)}
        for rec in records:
            lam = int(rec.get('lambda', 0))
            kept[lam] = kept.get(lam, 0) + 1
        self.last_lambda_stats['kept_after_nms'] = dict(sorted(kept.items()))
        res_file = f'{outfile_prefix}.keypoints.json'
        lambdas = [int(rec.get('lambda', 0)) for rec in records]

        stock_writer = super().results2json
        if getattr(stock_writer, '__func__', None) is not CocoMetric.results2json:
            stock_writer(keypoints, outfile_prefix)
            entries = load(res_file)
            if len(entries) != len(lambdas):
                raise RuntimeError(f'{type(self).__name__}: the stock results file '
                                   f'{res_file} has {len(entries)} poses, not {len(lambdas)}')
            for entry, lam in zip(entries, lambdas):
                entry['lambda'] = lam
            put_text(dump(entries, file_format='json', sort_keys=True), res_file)
            return res_file

        entries = []
        for rec, lam in zip(records, lambdas):
            entry = {
                'image_id': rec['img_id'],
                'category_id': rec['category_id'],
                'keypoints': np.asarray(rec['keypoints']).reshape(-1).tolist(),
                'score': float(rec['score']),
                # traces each submitted pose back to its instance selector
                'lambda': lam,
            }
            if 'bbox' in rec:
                entry['bbox'] = np.asarray(rec['bbox']).tolist()
            entries.append(entry)
        # encoded to a string first: json.dump to a file always takes the
        # pure-Python encoder, json.dumps the C one (4 s -> 0.3 s for 20,000 poses)
        put_text(dump(entries, file_format='json', sort_keys=True), res_file)
        return res_file


def multi_instance_coco_metric_class(cls: type) -> type:
    """``MultiInstance<Name>``: a stock COCO-style metric (:class:`CocoMetric` or a
    subclass) with :class:`MultiInstanceCocoMetricMixin`, registered in MMPose's
    ``METRICS`` so a config names it with the stock arguments.

    Args:
        cls (type): The stock metric class.

    Returns:
        type: The multi-instance class (``cls`` itself if it has the mixin).
    """
    if not (isinstance(cls, type) and issubclass(cls, CocoMetric)):
        raise TypeError(f'{getattr(cls, "__name__", cls)!r} is not a CocoMetric: the '
                        'N poses per box are merged for COCO-style AP metrics only')
    return registered(
        with_mixin(MultiInstanceCocoMetricMixin, cls, __name__), METRICS,
        f':class:`{cls.__name__}` on every (box, λ) pose, merged per image by the '
        'stock rescoring and NMS.\n\n'
        '    See :class:`MultiInstanceCocoMetricMixin`; all arguments are those of\n'
        f'    :class:`{cls.__module__}.{cls.__name__}`, with its defaults.\n')


def __getattr__(name: str) -> type:
    """``MultiInstance<Name>`` on demand (unpickling in a fresh process)."""
    return multi_instance_coco_metric_class(
        made_on_demand(name, MultiInstanceCocoMetricMixin, __name__, (METRICS, )))


MultiInstanceCocoMetric = multi_instance_coco_metric_class(CocoMetric)
MultiInstanceCocoWholeBodyMetric = multi_instance_coco_metric_class(CocoWholeBodyMetric)
