"""Pictures of every image's poses after val/test, one colour per λ."""
import os
import os.path as osp
from collections import defaultdict
from typing import Any, Dict, List, Optional, Sequence

import mmcv
import numpy as np
from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.fileio import get
from mmengine.hooks import Hook
from mmengine.structures import InstanceData
from mmengine.utils import mkdir_or_exist
from mmengine.visualization import LocalVisBackend
from mmpose.engine.hooks import PoseVisualizationHook
from mmpose.registry import HOOKS
from mmpose.visualization import PoseLocalVisualizer

from ...evaluation.functional import (
    NoCocoMetricError,
    coco_metric_defaults,
    merge_instance_poses,
    merge_settings_from_metric,
    pose_areas,
)
from ...utils.output_paths import (
    Inputs,
    OutputPathError,
    OutputRecords,
    check_output,
    relative_output_stems,
)
from ...visualization import draw_multi_instance_poses


@HOOKS.register_module()
class MultiInstanceVisualizationHook(Hook):
    """Draw the poses of all boxes of an image, merged as the metric merges them.

    MMPose's ``PoseVisualizationHook`` draws one box's prediction at a time.
    This hook gathers all (box, λ) poses of each image during a val/test run
    and keeps those the run's :class:`MultiInstanceCocoMetric` (or any other
    ``CocoMetric``-derived metric) keeps: the same ``score_mode`` and
    ``keypoint_score_thr``, the same ``nms_mode``/``nms_thr`` (``'none'``
    keeps every pose), the product of each box's ``gt_instances.bbox_scales``
    as the OKS area. The settings are read from ``runner.val_evaluator`` /
    ``runner.test_evaluator`` when drawing (see
    :func:`merge_settings_from_metric`); without a CocoMetric-derived metric
    CocoMetric's defaults are used, with a warning. It draws one picture per
    image with the kept poses coloured by λ and writes it, once, to
    ``{work_dir}/{out_dir}/{val_<epoch>|test}/<image>.png``, where
    ``<image>`` is the image's path below the folder common to the run's
    images (``a/x.jpg`` and ``b/x.jpg`` get two pictures). The runner's
    visualizer backends that keep no local files (TensorBoard, W&B) receive
    it too, named ``{val|test}_<image>`` (folders joined by ``__``); its
    ``LocalVisBackend`` does not, as it would write a second copy of every
    picture into ``vis_data/``.

    Every picture passes :func:`~mipnet_mmpose.utils.output_paths.check_output`:
    never over an image of the run, never through a link out of its folder,
    never over a file the hook did not write (the folder's
    :class:`~mipnet_mmpose.utils.output_paths.OutputRecords` list those it
    wrote); a refused picture is not drawn, with a warning.

    ``mim test --show-dir DIR`` turns MMPose's ``PoseVisualizationHook`` on,
    which would draw every box's poses apart, unmerged: this hook turns it off
    for the run and writes its merged pictures of every image to
    ``{work_dir}/{timestamp}/DIR`` instead, where MMPose would have written
    (DIR itself when absolute). A ``DIR`` where a picture would replace a
    test image (e.g. the folder of a PNG data set) or a file the hook did not
    write is refused before the run starts (:class:`OutputPathError`).

    Args:
        out_dir (str): Folder under the work dir. Defaults to ``'pose_pictures'``.
        max_images (int): Draw at most this many images per run. Defaults to 20.
        kpt_thr (float): Keypoints scored below are not drawn. Defaults to 0.3.
        enable (bool): Draw nothing when False. Defaults to True.
    """

    priority = 'LOW'

    def __init__(self,
                 out_dir: str = 'pose_pictures',
                 max_images: int = 20,
                 kpt_thr: float = 0.3,
                 enable: bool = True):
        self.out_dir = out_dir
        self.max_images = max_images
        self.kpt_thr = kpt_thr
        self.enable = enable
        self._poses: Dict[str, List[InstanceData]] = defaultdict(list)
        #: Image name -> number of (box, λ) poses of the last drawn run (rank 0).
        self.last_drawn: Dict[str, int] = {}
        #: Image name -> {λ: poses kept and drawn} of the last drawn run (rank 0);
        #: every λ of the image is listed, with 0 when none of its poses is kept.
        self.last_kept: Dict[str, Dict[int, int]] = {}
        #: The merge settings of the last drawn run (see merge_settings_from_metric).
        self.last_merge_settings: Dict[str, Any] = {}
        #: Where --show-dir wants the test pictures (every image), else None.
        self._show_dir: Optional[str] = None
        #: The images of the test data set (with --show-dir): no picture is written over one.
        self._images: List[str] = []

    def _collect(self, outputs: Sequence) -> None:
        if not self.enable:
            return
        for data_sample in outputs:
            img_path = data_sample.img_path
            if img_path in self._poses or len(self._poses) < self.max_images or \
                    self._show_dir is not None:
                pred = data_sample.pred_instances
                n = len(pred)
                lambdas = pred.lambdas if 'lambdas' in pred else np.arange(n, dtype=np.int64)
                keypoints = np.asarray(pred.keypoints)
                # The OKS areas the metric takes: from the box as the model saw it.
                gt = data_sample.get('gt_instances', None)
                bbox_scales = gt.bbox_scales if gt is not None and 'bbox_scales' in gt else None
                self._poses[img_path].append(InstanceData(
                    keypoints=keypoints, lambdas=np.asarray(lambdas, dtype=np.int64),
                    keypoint_scores=np.asarray(pred.keypoint_scores),
                    bboxes=np.asarray(pred.bboxes), bbox_scores=np.asarray(pred.bbox_scores),
                    areas=pose_areas(keypoints, bbox_scales),
                    sample_ids=np.array([data_sample.get('id', None)] * n, dtype=object)))

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._collect(outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._collect(outputs)

    def before_test(self, runner) -> None:
        self._show_dir = None
        self._images = []
        if not self.enable:
            return
        for hook in runner.hooks:
            if isinstance(hook, PoseVisualizationHook) and hook.enable and \
                    getattr(hook, 'out_dir', None) is not None:
                # --show-dir: our merged pictures, of every image, where MMPose's
                # per-box ones would go (its hook joins work_dir and timestamp
                # in its own before-iteration step, so the name is still bare).
                hook.enable = False
                self._show_dir = osp.join(runner.work_dir, runner.timestamp, hook.out_dir)
                runner.logger.info('MultiInstanceVisualizationHook draws the merged poses of '
                                   f'every test image to {self._show_dir} (--show-dir) in '
                                   "place of PoseVisualizationHook's per-box pictures")
                # Refused now rather than after the whole run: --show-dir over the images.
                self._images = _dataset_images(runner.test_loop.dataloader.dataset)
                records, images = OutputRecords(), Inputs(self._images)
                for picture in self._pictures(self._images, self._show_dir).values():
                    check_output(picture, images, records.owner, folder=self._show_dir,
                                 what='the picture', input_what='image of the run')

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._draw(runner, f'val_{runner.epoch}', runner.val_evaluator)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._draw(runner, 'test', runner.test_evaluator, self._show_dir)

    @staticmethod
    def _merge_settings(runner, evaluator) -> Dict[str, Any]:
        """The evaluator's merge settings, or CocoMetric's defaults (warned)."""
        try:
            return merge_settings_from_metric(evaluator)
        except NoCocoMetricError as e:
            runner.logger.warning(f'{e}; MultiInstanceVisualizationHook merges the poses '
                                  "with CocoMetric's defaults")
            return coco_metric_defaults()

    def _draw(self, runner, run_name: str, evaluator, folder: Optional[str] = None) -> None:
        if not self.enable:
            return
        self.last_drawn = {}
        self.last_kept = {}
        if get_world_size() > 1:
            # Each rank saw some of an image's boxes: draw all of them once, on rank 0.
            merged: Dict[str, List[InstanceData]] = defaultdict(list)
            for per_rank in all_gather_object(dict(self._poses)):
                for img_path, poses in per_rank.items():
                    merged[img_path].extend(poses)
            self._poses.clear()
            if not is_main_process():
                return
            self._poses.update(merged)
        if not self._poses:
            return
        settings = self._merge_settings(runner, evaluator)
        self.last_merge_settings = dict(settings)
        dataset_meta = evaluator.dataset_meta
        visualizer = PoseLocalVisualizer.get_current_instance()
        visualizer.set_dataset_meta(dataset_meta)
        sigmas = (dataset_meta or {}).get('sigmas')
        folder = folder or osp.join(runner.work_dir, self.out_dir, run_name)
        mkdir_or_exist(folder)
        pictures = self._pictures(list(self._poses), folder)
        records, images = OutputRecords(), Inputs(list(self._poses) + self._images)
        # The backends that keep no local files; mmengine lists a visualizer's
        # backends in no public attribute.
        backends = [backend for backend in visualizer._vis_backends.values()
                    if not isinstance(backend, LocalVisBackend)]
        step = runner.epoch if run_name.startswith('val') else 0
        for img_path, per_box in self._poses.items():
            picture = pictures[img_path]
            stem = osp.splitext(osp.relpath(picture, folder))[0]
            try:
                check_output(picture, images, records.owner, folder=folder,
                             what='the picture', input_what='image of the run')
                records.check_folder(osp.dirname(picture))
            except OutputPathError as e:
                runner.logger.warning(f'{e} (this picture is not drawn)')
                continue
            poses = _sorted_unique(InstanceData.cat(per_box))
            ext = osp.splitext(img_path)[1]
            name = stem if stem.endswith(ext) else stem + ext
            self.last_drawn[name] = len(poses)
            _, kept = merge_instance_poses(poses.keypoints, poses.keypoint_scores,
                                           poses.bbox_scores, poses.areas, sigmas=sigmas,
                                           **settings)
            self.last_kept[name] = {
                int(lam): int(np.sum(kept & (poses.lambdas == lam)))
                for lam in np.unique(poses.lambdas)
            }
            image = mmcv.imfrombytes(get(img_path), channel_order='rgb')
            drawn = draw_multi_instance_poses(visualizer, image, poses[kept], self.kpt_thr,
                                              boxes=np.unique(poses.bboxes, axis=0))
            mmcv.imwrite(mmcv.rgb2bgr(drawn), picture)
            records.add(picture)
            for backend in backends:  # one flat name: backends make no subfolders
                backend.add_image(f"{run_name.split('_')[0]}_{stem.replace(os.sep, '__')}",
                                  drawn, step=step)
        runner.logger.info(
            f'Pose pictures of {len(self.last_drawn)} images written to {folder} (poses merged '
            f"as the metric: nms_mode={settings['nms_mode']}, nms_thr={settings['nms_thr']}, "
            f"score_mode={settings['score_mode']})")
        self._poses.clear()

    @staticmethod
    def _pictures(img_paths: List[str], folder: str) -> Dict[str, str]:
        """Image path -> its picture: names keep the images' paths below their
        common folder (a/x.jpg and b/x.jpg both get a picture)."""
        return {img_path: osp.join(folder, stem + '.png')
                for img_path, stem in relative_output_stems(img_paths).items()}


def _dataset_images(dataset) -> List[str]:
    """The image files a data set lists (``img_path``); [] when it lists none."""
    try:
        return list(dict.fromkeys(dataset.get_data_info(i)['img_path']
                                  for i in range(len(dataset))))
    except (AttributeError, KeyError, TypeError, IndexError):
        return []


def _sorted_unique(poses: InstanceData) -> InstanceData:
    """The poses of one image in the metric's order, each (sample id, λ) once.

    The metric sorts an image's poses by (sample id, λ) before its NMS and
    drops repeats (a sampler that pads repeats samples); the same order here
    breaks score ties as the metric does.

    Args:
        poses (InstanceData): M poses with ``sample_ids`` and ``lambdas``.

    Returns:
        InstanceData: The sorted poses without repeats; unchanged when some
        sample has no ``id``.
    """
    keys = list(zip(poses.sample_ids.tolist(), poses.lambdas.tolist()))
    if any(sample_id is None for sample_id, _ in keys):
        return poses
    order, seen = [], set()
    for index in sorted(range(len(keys)), key=keys.__getitem__):
        if keys[index] not in seen:
            seen.add(keys[index])
            order.append(index)
    return poses[np.asarray(order, dtype=np.int64)]
