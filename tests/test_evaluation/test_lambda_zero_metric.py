"""Per-box metrics on N poses per box: the stock metric scores the λ = 0 pose."""
import pickle

import numpy as np
from mmpose.evaluation import PCKAccuracy
from mmpose.registry import METRICS

from mipnet_mmpose.evaluation.metrics import PER_BOX_METRICS, lambda_zero_metric_class


def samples(n: int, rng: np.random.Generator) -> list:
    """Two boxes of 5 keypoints; λ = 0 predicts the GT within 1 px, λ > 0 lands far away."""
    out = []
    for _ in range(2):
        gt = rng.uniform(20, 80, size=(1, 5, 2)).astype(np.float32)
        pred = np.concatenate([gt + rng.uniform(-1, 1, size=gt.shape).astype(np.float32)] +
                              [gt + 40.0] * (n - 1))
        out.append(dict(
            gt_instances=dict(keypoints=gt, keypoints_visible=np.ones((1, 5), np.float32),
                              bboxes=np.array([[0, 0, 100, 100]], np.float32)),
            gt_instance_labels=dict(), id=len(out), img_id=len(out),
            pred_instances=dict(keypoints=pred, keypoint_scores=np.ones((n, 5), np.float32),
                                lambdas=np.arange(n))))
    return out


def evaluate(metric, data) -> dict:
    metric.dataset_meta = dict(dataset_name='test', num_keypoints=5)
    metric.process([], data)
    return metric.compute_metrics(metric.results)


def test_stock_metric_gets_the_lambda_zero_pose():
    cls = lambda_zero_metric_class(PCKAccuracy)
    assert cls.__name__ == 'LambdaZeroPCKAccuracy'
    assert METRICS.get('LambdaZeroPCKAccuracy') is cls
    assert all(METRICS.get('LambdaZero' + name) is not None for name in PER_BOX_METRICS)
    assert pickle.loads(pickle.dumps(cls)) is cls
    data = samples(3, np.random.default_rng(0))
    ours = evaluate(cls(thr=0.05, norm_item='bbox'), data)
    # The same numbers as the stock metric given only the λ = 0 rows.
    lambda0 = [dict(s, pred_instances=dict(keypoints=s['pred_instances']['keypoints'][:1],
                                           keypoint_scores=np.ones((1, 5), np.float32)))
               for s in data]
    stock = evaluate(PCKAccuracy(thr=0.05, norm_item='bbox'), lambda0)
    assert ours == stock
    assert ours['PCK'] == 1.0  # the λ > 0 poses (40 px off) would score 0
