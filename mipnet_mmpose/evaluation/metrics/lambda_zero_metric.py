"""Per-box metrics (PCK, AUC, EPE, NME) on the λ = 0 pose of every box.

MIPNet predicts N poses per box (``pred_instances.lambdas``, ``(N, )``). A
per-box metric compares one pose with the box's one annotated instance: it
reads ``pred_instances.keypoints`` as ``(1, K, 2)`` against
``gt_instances.keypoints`` ``(1, K, 2)``, so N rows would either fail or be
scored against the wrong instance. λ = 0 is trained on the box's own instance
(the one the box was made for; λ > 0 on its neighbours), so it is the pose
these metrics mean. ``LambdaZero<Name>`` (e.g. ``LambdaZeroPCKAccuracy``) is the
stock metric with :class:`LambdaZeroMetricMixin` in front, made on demand like the
models; unlike the ``MultiInstance<Name>`` COCO-style metrics it merges nothing.
"""
from typing import Sequence

import numpy as np
from mmpose.registry import METRICS

from ...utils.mixin_class import made_on_demand, registered, with_mixin

#: Prefix of the made classes' names.
PREFIX = 'LambdaZero'
#: Stock metrics that score one pose per box: the converter gives them the λ = 0 pose
#: (COCO-style AP metrics, COCO-WholeBody's too, merge all N poses: see
#: multi_instance_coco_metric.py).
PER_BOX_METRICS = ('PCKAccuracy', 'MpiiPCKAccuracy', 'JhmdbPCKAccuracy', 'AUC', 'EPE', 'NME')


class LambdaZeroMetricMixin:
    """Hands the stock metric the λ = 0 pose of each box only.

    Every per-instance array of ``pred_instances`` (those with one row per λ:
    ``keypoints`` (N, K, 2), ``keypoint_scores`` (N, K), ``bboxes``, ...) keeps
    its λ = 0 row; a prediction without ``lambdas`` (a stock model) is left as
    it is.
    """

    def process(self, data_batch: Sequence[dict], data_samples: Sequence[dict]) -> None:
        """The stock ``process`` on the λ = 0 rows of every prediction."""
        super().process(data_batch, [_lambda_zero(sample) for sample in data_samples])


def _lambda_zero(sample: dict) -> dict:
    pred = sample.get('pred_instances')
    if not isinstance(pred, dict) or 'lambdas' not in pred:
        return sample
    lambdas = np.asarray(pred['lambdas'])
    keep = lambdas == 0
    rows = len(lambdas)
    kept = {key: (value[keep] if getattr(value, 'shape', ())[:1] == (rows, ) else value)
            for key, value in pred.items()}
    return dict(sample, pred_instances=kept)


def lambda_zero_metric_class(cls: type) -> type:
    """``LambdaZero<Name>``: a stock per-box metric with :class:`LambdaZeroMetricMixin`,
    registered in MMPose's ``METRICS``."""
    return registered(with_mixin(LambdaZeroMetricMixin, cls, __name__, PREFIX), METRICS,
                      f':class:`{cls.__name__}` on the λ = 0 pose of each box; see '
                      ':class:`LambdaZeroMetricMixin`. Arguments: the stock ones.')


def __getattr__(name: str) -> type:
    """``LambdaZero<Name>`` on demand (unpickling in a fresh process)."""
    return lambda_zero_metric_class(
        made_on_demand(name, LambdaZeroMetricMixin, __name__, (METRICS, ), PREFIX))


for _name in PER_BOX_METRICS:
    lambda_zero_metric_class(METRICS.get(_name))
