"""Top-down estimator that predicts N poses per person box."""
from typing import List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import MessageHub
from mmengine.structures import InstanceData, PixelData
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import (
    ConfigType,
    InstanceList,
    OptConfigType,
    OptMultiConfig,
    PixelDataList,
    SampleList,
)
from torch import Tensor


@MODELS.register_module()
class MultiInstanceTopdownPoseEstimator(TopdownPoseEstimator):
    """MIPNet: a top-down estimator whose backbone is conditioned on λ.

    Training runs every box with all N values of λ in one step (the backbone
    computes its λ-independent trunk once per box). Prediction runs λ = 0..n-1
    for every box (flip test per λ as MMPose does) and returns, per data sample,
    n instances with ``lambdas`` (n,), ``keypoints`` (n, K, 2),
    ``keypoint_scores`` (n, K), ``bboxes`` (n, 4) and ``bbox_scores`` (n,): the
    box score, multiplied by ``lambda_score_decay`` for λ > 0.

    With a backbone of ``num_instances=1`` this is exactly
    :class:`TopdownPoseEstimator` (plus a ``lambdas`` field of zeros).

    ``test_cfg`` keys, besides the stock ones:
        - ``num_instances`` (int): n, how many λ to run at test time, at most
          the backbone's N. Defaults to the backbone's N.
        - ``lambda_score_decay`` (float): score factor for poses with λ > 0.
          Defaults to 0.5, as the authors.

    Args: as :class:`TopdownPoseEstimator`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None):
        super().__init__(backbone=backbone, neck=neck, head=head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, metainfo=metainfo)
        self.num_instances = getattr(self.backbone, 'num_instances', 1)
        head_n = getattr(self.head, 'num_instances', 1) if self.with_head else self.num_instances
        if head_n != self.num_instances:
            raise ValueError(f'backbone num_instances={self.num_instances} differs from head '
                             f'num_instances={head_n}: set both to the same N')
        # test_cfg owns the test-time n and decay: check them where they are set.
        self.test_num_instances  # noqa: B018 (validates)
        self.lambda_score_decay  # noqa: B018 (validates)

    @property
    def test_num_instances(self) -> int:
        n = self.test_cfg.get('num_instances', self.num_instances)
        if not isinstance(n, int) or not 1 <= n <= self.num_instances:
            raise ValueError(f'test_cfg.num_instances={n!r} must be an integer in '
                             f'[1, {self.num_instances}] (the model was built with '
                             f'num_instances={self.num_instances})')
        return n

    @property
    def lambda_score_decay(self) -> float:
        """``test_cfg.lambda_score_decay``, checked to lie in [0, 1]."""
        decay = self.test_cfg.get('lambda_score_decay', 0.5)
        if isinstance(decay, bool) or not isinstance(decay, (int, float)) or \
                not 0 <= decay <= 1:
            raise ValueError(f'test_cfg.lambda_score_decay={decay!r} must be a number in '
                             '[0, 1]: the score factor of the poses with λ > 0 (the '
                             "authors' 0.5; 1 keeps their box score, 0 ranks them last)")
        return float(decay)

    def extract_feat(self, inputs: Tensor, num_instances: Optional[int] = None) -> Tuple[Tensor]:
        """Features of every box, for λ = 0..n-1 when ``num_instances=n`` > 1.

        Args:
            inputs (Tensor): Images in shape (B, 3, H, W).
            num_instances (int, optional): n; None or 1 runs λ=0 only.

        Returns:
            tuple[Tensor]: Features with B*n rows ordered (box, λ).
        """
        if not num_instances or num_instances == 1:
            return super().extract_feat(inputs)
        x = self.backbone(inputs, num_instances=num_instances)
        if self.with_neck:
            x = self.neck(x)
        return x

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Losses of all N instances of every box (see the head).

        A non-finite loss stops training here, before the optimizer step, so
        no NaN weights are ever written to a checkpoint (see
        :func:`check_finite_losses`).
        """
        feats = self.extract_feat(inputs, self.num_instances)
        losses = self.head.loss(feats, data_samples, train_cfg=self.train_cfg)
        check_finite_losses(losses, inputs, data_samples)
        return losses

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """n poses per box; see the class docstring for the fields."""
        assert self.with_head, 'The model must have head to perform prediction.'
        n = self.test_num_instances
        if self.test_cfg.get('flip_test', False):
            feats = [self.extract_feat(inputs, n), self.extract_feat(inputs.flip(-1), n)]
        else:
            feats = self.extract_feat(inputs, n)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        row_instances, row_fields = preds if isinstance(preds, tuple) else (preds, None)
        instances, fields = self._group_rows(row_instances, row_fields, n)
        return self.add_pred_to_datasample(instances, fields, data_samples)

    @staticmethod
    def _group_rows(row_instances: InstanceList, row_fields: Optional[PixelDataList],
                    n: int) -> Tuple[InstanceList, Optional[PixelDataList]]:
        """Merge the B*n per-row predictions into B predictions of n instances."""
        instances, fields = [], None if row_fields is None else []
        for start in range(0, len(row_instances), n):
            merged = InstanceData.cat(row_instances[start:start + n])
            merged.lambdas = np.arange(n, dtype=np.int64)
            instances.append(merged)
            if row_fields is not None:
                # Heatmaps of the n instances stacked: (n*K, H, W), instance-major.
                group = row_fields[start:start + n]
                fields.append(PixelData(**{
                    key: _concat([f.get(key) for f in group]) for key in group[0].keys()}))
        return instances, fields

    def add_pred_to_datasample(self, batch_pred_instances: InstanceList,
                               batch_pred_fields: Optional[PixelDataList],
                               batch_data_samples: SampleList) -> SampleList:
        """Stock conversion to image space, with the box repeated per instance.

        The stock method copies ``gt_instances.bboxes``/``bbox_scores`` (one box)
        into the predictions; each sample's ``gt_instances`` is swapped for one
        holding the box once per instance (scores decayed for λ > 0) during the
        call, then restored.
        """
        decay = self.lambda_score_decay
        originals: List[InstanceData] = []
        for pred, data_sample in zip(batch_pred_instances, batch_data_samples):
            gt = data_sample.gt_instances
            originals.append(gt)
            lambdas = pred.lambdas
            per_instance = InstanceData(
                bboxes=np.repeat(np.asarray(gt.bboxes), len(lambdas), axis=0),
                bbox_scores=np.repeat(np.asarray(gt.bbox_scores), len(lambdas), axis=0) *
                np.where(lambdas > 0, decay, 1.0))
            data_sample.gt_instances = per_instance
        try:
            return super().add_pred_to_datasample(batch_pred_instances, batch_pred_fields,
                                                  batch_data_samples)
        finally:
            for gt, data_sample in zip(originals, batch_data_samples):
                data_sample.gt_instances = gt


class NonFiniteLossError(FloatingPointError):
    """A training loss became NaN or infinite."""


def check_finite_losses(losses: dict, inputs: Tensor, data_samples: SampleList) -> None:
    """Raise :class:`NonFiniteLossError` naming the iteration and the samples.

    Args:
        losses (dict): The head's losses (tensors; ``loss*`` keys are checked)
        inputs (Tensor): The batch images in shape (B, 3, H, W)
        data_samples (list): The batch's data samples (their metainfo holds
            ``img_id``, ``id`` = annotation id, ``img_path``)
    """
    bad = [key for key, value in losses.items()
           if key.startswith('loss') and isinstance(value, Tensor)
           and not bool(torch.isfinite(value).all())]
    if not bad:
        return
    iteration = MessageHub.get_current_instance().get_info('iter')
    # The samples whose input or targets are not finite, if any; else the batch.
    suspects = []
    for row, sample in enumerate(data_samples):
        fields = [inputs[row]]
        if 'gt_fields' in sample and 'heatmaps' in sample.gt_fields:
            fields.append(sample.gt_fields.heatmaps)
        if 'gt_instance_labels' in sample and 'keypoint_weights' in sample.gt_instance_labels:
            fields.append(sample.gt_instance_labels.keypoint_weights)
        if not all(bool(torch.isfinite(torch.as_tensor(f)).all()) for f in fields):
            suspects.append(sample)
    named = suspects or list(data_samples)
    described = '; '.join(
        f"image id {s.metainfo.get('img_id')} annotation id {s.metainfo.get('id')} "
        f"({s.metainfo.get('img_path')})" for s in named[:8])
    which = ('the samples with non-finite input or targets' if suspects else
             f'no sample has a non-finite input or target; the batch of {len(named)}')
    raise NonFiniteLossError(
        f'Training stopped at iteration {iteration}: {", ".join(bad)} is not finite '
        f'({which}: {described}{" ..." if len(named) > 8 else ""}). Nothing of this step '
        'was applied to the weights and no checkpoint of it is written. Check those '
        'annotations and images, or lower the learning rate if the inputs are fine.')


def _concat(arrays: list):
    """Concatenate tensors or arrays along the first axis."""
    if isinstance(arrays[0], Tensor):
        return torch.cat(arrays)
    return np.concatenate(arrays)
