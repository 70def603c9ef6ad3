"""Heatmap head trained on N instances per box."""
from typing import Tuple

import torch
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptSampleList
from torch import Tensor

from ...utils import check_int_at_least


@MODELS.register_module()
class MultiInstanceHeatmapHead(HeatmapHead):
    """:class:`HeatmapHead` whose feature rows come in groups of N instances.

    The backbone returns B*N feature rows ordered (sample, λ): row ``b*N + i``
    is box b conditioned on λ=i. Targets come from ``MultiInstanceHeatmap``:
    heatmaps (N*K, H, W) and keypoint weights (N, K) per sample. The loss is the
    keypoint-weighted MSE over all N instances; the loss and PCK accuracy of
    each λ are logged too (as ``lambda{i}_mse`` and ``acc_pose_lambda{i}``:
    names without "loss", so mmengine does not add them to the loss again).
    Prediction is the stock per-row decoding, flip test included; grouping rows
    into instances is the estimator's job.

    Args:
        num_instances (int): N. Defaults to 2.
        **kwargs: Arguments of :class:`HeatmapHead`.
    """

    def __init__(self, num_instances: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.num_instances = check_int_at_least('num_instances', num_instances, 1)

    def decode(self, batch_outputs: Tensor):
        """Stock decoding, in float32 after a reduced-precision forward.

        Under ``torch.autocast`` the heatmaps come out in bfloat16 or float16;
        the stock decoders work on numpy, which has no bfloat16.

        Args:
            batch_outputs (Tensor): Heatmaps in shape (B, K, H, W)

        Returns:
            list[InstanceData]: The stock decoded instances, one per row
        """
        if batch_outputs.dtype in (torch.bfloat16, torch.float16):
            batch_outputs = batch_outputs.float()
        return super().decode(batch_outputs)

    def loss(self,
             feats: Tuple[Tensor],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Loss of B*N feature rows against per-instance targets.

        Args:
            feats (Tuple[Tensor]): Backbone features with B*N rows.
            batch_data_samples (List[:obj:`PoseDataSample`]): B samples with
                ``gt_fields.heatmaps`` (N*K, H, W) and
                ``gt_instance_labels.keypoint_weights`` (N, K).
            train_cfg (dict): ``compute_acc`` (default True).

        Returns:
            dict: ``loss_kpt``, ``acc_pose`` and per-λ ``lambda{i}_mse``,
            ``acc_pose_lambda{i}``.
        """
        n = self.num_instances
        pred = self.forward(feats)  # (B*N, K, H, W)
        gt_heatmaps = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        weights = torch.stack(
            [d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        b, k = len(batch_data_samples), pred.shape[1]
        if gt_heatmaps.shape[1] != n * k or weights.shape[1:] != (n, k) or pred.shape[0] != b * n:
            raise ValueError(
                f'MultiInstanceHeatmapHead(num_instances={n}) got {pred.shape[0]} feature '
                f'rows for {b} samples, targets {tuple(gt_heatmaps.shape[1:])} and keypoint '
                f'weights {tuple(weights.shape[1:])}; expected {b * n} rows, ({n * k}, H, W) '
                f'and ({n}, {k}). Use the same num_instances in the backbone, head, codec '
                f'and BuildInstanceSlots.')
        # (B, N*K, H, W) -> (B*N, K, H, W): the same (sample, λ) order as the rows.
        gt_heatmaps = gt_heatmaps.reshape(b * n, k, *gt_heatmaps.shape[2:])
        weights = weights.reshape(b * n, k)

        losses = dict(loss_kpt=self.loss_module(pred, gt_heatmaps, weights))
        compute_acc = train_cfg.get('compute_acc', True)
        if compute_acc:
            losses['acc_pose'] = self._accuracy(pred, gt_heatmaps, weights)
        if n > 1:
            for i in range(n):
                rows = slice(i, None, n)
                losses[f'lambda{i}_mse'] = self.loss_module(
                    pred[rows], gt_heatmaps[rows], weights[rows]).detach()
                if compute_acc:
                    losses[f'acc_pose_lambda{i}'] = self._accuracy(
                        pred[rows], gt_heatmaps[rows], weights[rows])
        return losses

    @staticmethod
    def _accuracy(pred: Tensor, target: Tensor, weights: Tensor) -> Tensor:
        _, avg_acc, _ = pose_pck_accuracy(
            output=to_numpy(pred), target=to_numpy(target), mask=to_numpy(weights) > 0)
        return torch.tensor(avg_acc, device=pred.device)

