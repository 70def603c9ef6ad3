"""Pictures of every image's poses after val/test, one colour per λ."""
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import mmcv
import numpy as np
from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.fileio import get
from mmengine.hooks import Hook
from mmengine.structures import InstanceData
from mmengine.utils import mkdir_or_exist
from mmpose.registry import HOOKS
from mmpose.visualization import PoseLocalVisualizer

from ...evaluation.functional import merge_instance_poses
from ...visualization import draw_multi_instance_poses


@HOOKS.register_module()
class MultiInstanceVisualizationHook(Hook):
    """Draw the poses of all boxes of an image, merged as the metric merges them.

    MMPose's ``PoseVisualizationHook`` draws one box's prediction at a time.
    This hook gathers all (box, λ) poses of each image during a val/test run,
    rescores them and applies OKS-NMS as :class:`MultiInstanceCocoMetric`
    does, and writes one picture per image with the kept poses coloured by λ
    to ``{work_dir}/{out_dir}/{val_<epoch>|test}/<image name>.png``.

    Args:
        out_dir (str): Folder under the work dir. Defaults to ``'pose_pictures'``.
        max_images (int): Draw at most this many images per run. Defaults to 20.
        kpt_thr (float): Keypoints scored below are not drawn. Defaults to 0.3.
        nms_thr (float): OKS-NMS threshold. Defaults to 0.9.
        enable (bool): Draw nothing when False. Defaults to True.
    """

    priority = 'LOW'

    def __init__(self,
                 out_dir: str = 'pose_pictures',
                 max_images: int = 20,
                 kpt_thr: float = 0.3,
                 nms_thr: float = 0.9,
                 enable: bool = True):
        self.out_dir = out_dir
        self.max_images = max_images
        self.kpt_thr = kpt_thr
        self.nms_thr = nms_thr
        self.enable = enable
        self._poses: Dict[str, List[InstanceData]] = defaultdict(list)
        #: Image name -> number of (box, λ) poses of the last drawn run (rank 0).
        self.last_drawn: Dict[str, int] = {}

    def _collect(self, outputs: Sequence) -> None:
        if not self.enable:
            return
        for data_sample in outputs:
            img_path = data_sample.img_path
            if img_path in self._poses or len(self._poses) < self.max_images:
                pred = data_sample.pred_instances
                lambdas = pred.lambdas if 'lambdas' in pred else np.zeros(len(pred), np.int64)
                self._poses[img_path].append(InstanceData(
                    keypoints=np.asarray(pred.keypoints), lambdas=np.asarray(lambdas),
                    keypoint_scores=np.asarray(pred.keypoint_scores),
                    bboxes=np.asarray(pred.bboxes), bbox_scores=np.asarray(pred.bbox_scores)))

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._collect(outputs)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._collect(outputs)

    def after_val_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._draw(runner, f'val_{runner.epoch}', runner.val_evaluator.dataset_meta)

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        self._draw(runner, 'test', runner.test_evaluator.dataset_meta)

    def _draw(self, runner, run_name: str, dataset_meta: Optional[dict]) -> None:
        if not self.enable:
            return
        self.last_drawn = {}
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
        visualizer = PoseLocalVisualizer.get_current_instance()
        visualizer.set_dataset_meta(dataset_meta)
        sigmas = (dataset_meta or {}).get('sigmas')
        folder = osp.join(runner.work_dir, self.out_dir, run_name)
        mkdir_or_exist(folder)
        for img_path, per_box in self._poses.items():
            poses = InstanceData.cat(per_box)
            self.last_drawn[osp.basename(img_path)] = len(poses)
            boxes = poses.bboxes
            areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
            _, kept = merge_instance_poses(poses.keypoints, poses.keypoint_scores,
                                           poses.bbox_scores, areas, self.nms_thr,
                                           sigmas=sigmas)
            image = mmcv.imfrombytes(get(img_path), channel_order='rgb')
            drawn = draw_multi_instance_poses(visualizer, image, poses[kept], self.kpt_thr,
                                              boxes=np.unique(boxes, axis=0))
            name = osp.splitext(osp.basename(img_path))[0] + '.png'
            mmcv.imwrite(mmcv.rgb2bgr(drawn), osp.join(folder, name))
        runner.logger.info(f'Pose pictures of {len(self._poses)} images written to {folder}')
        self._poses.clear()
