"""Runner hook for MIPNet's λ-expanding test-time path."""
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmpose.registry import HOOKS

from ...models.pose_estimators.multi_instance_topdown import check_lambda_score_decay
from ...models.utils.checkpoint_fit import check_checkpoint_fits
from ...utils import check_int_at_least


@HOOKS.register_module()
class MultiInstanceTestHook(Hook):
    """The λ-expanding test time: how many λ to run per box, and what they produced.

    The one owner of the test-time n and the λ>0 score decay. Our configs
    hold it as ``default_hooks.multi_instance_test``, so it is addressed by
    name, e.g. ``--cfg-options default_hooks.multi_instance_test.num_instances=1``.
    Before every val/test run it hands its settings to the model
    (:meth:`MultiInstanceTopdownPoseEstimator.set_test_time`, which checks n
    against the model's N), and at the end logs how many poses each λ produced
    and how many survived OKS-NMS (from ``MultiInstanceCocoMetric``). Outside a
    runner, :func:`mipnet_mmpose.apis.init_mipnet` applies the same settings.

    A test run's checkpoint is loaded here and checked against the model
    before any data is read, the error naming the file. The check itself is
    the model's: without this hook, the estimator refuses to predict with
    weights that do not fit it. mmengine accepts ``None`` only for its own
    default hooks (``default_hooks.multi_instance_test=None`` fails in its
    ``register_default_hooks``): to run without this hook, remove the key
    from the config's ``default_hooks``.

    Args:
        num_instances (int, optional): n for val/test, at most the model's N.
            None runs all N.
        lambda_score_decay (float, optional): Score factor of poses with λ>0,
            in [0, 1]. None keeps the model's default (the authors' 0.5).
    """

    # Last: its before_run loads the tested checkpoint where mmengine would (after
    # every hook's before_run, e.g. EMAHook's, whose after_load_checkpoint needs it).
    priority = 'LOWEST'

    def __init__(self,
                 num_instances: Optional[int] = None,
                 lambda_score_decay: Optional[float] = None):
        if num_instances is not None:
            check_int_at_least('MultiInstanceTestHook num_instances', num_instances, 1)
        if lambda_score_decay is not None:
            check_lambda_score_decay(lambda_score_decay)
        self.num_instances = num_instances
        self.lambda_score_decay = lambda_score_decay

    def _configure(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'set_test_time'):
            raise TypeError(f'MultiInstanceTestHook needs a MultiInstanceTopdownPoseEstimator, '
                            f'the model is a {type(model).__name__}')
        model.set_test_time(self.num_instances, self.lambda_score_decay)
        runner.logger.info(f'MIPNet test time: {model.test_num_instances} instance(s) per '
                           f'box, score decay {model.lambda_score_decay} for λ>0')

    def _report(self, runner, evaluator) -> None:
        for metric in getattr(evaluator, 'metrics', []):
            stats: Optional[Dict[str, Dict[int, int]]] = getattr(metric, 'last_lambda_stats',
                                                                 None)
            if not stats or not stats.get('produced'):  # other ranks do not evaluate
                continue
            produced, kept = stats.get('produced', {}), stats.get('kept_after_nms', {})
            rows = ', '.join(f'λ={lam}: {produced[lam]} produced / {kept.get(lam, 0)} kept'
                             for lam in sorted(produced))
            runner.logger.info(f'MIPNet poses per λ ({type(metric).__name__}): {rows}')

    def before_run(self, runner) -> None:
        self._load_test_checkpoint(runner)

    def before_val(self, runner) -> None:
        self._configure(runner)

    def before_test(self, runner) -> None:
        self._configure(runner)

    @staticmethod
    def _load_test_checkpoint(runner) -> None:
        """Load the tested checkpoint once, failing when it leaves weights unloaded.

        mmengine loads ``load_from`` after ``before_run`` with ``strict=False``:
        a checkpoint of another width or N would fail only at the first batch,
        in the model, with an error that cannot name the file. For a test run,
        the file is loaded here instead, with the
        runner's own loading (same key revision, same device handling), its
        state dict checked, and the runner told it has loaded (so the file is
        read, and unpickled, once). Training (``load_from`` a stock checkpoint
        to fine-tune) is left to mmengine.
        """
        path = getattr(runner, '_load_from', None)
        testing = isinstance(getattr(runner, '_test_loop', None), BaseLoop) and \
            not isinstance(getattr(runner, '_train_loop', None), BaseLoop)
        if not path or not testing or getattr(runner, '_has_loaded', False) or \
                getattr(runner, '_resume', False):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        checkpoint = runner.load_checkpoint(path, map_location='cpu')  # sets _has_loaded
        check_checkpoint_fits(model, checkpoint, source=f'--checkpoint {path}',
                              config=getattr(runner.cfg, 'filename', None))

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._report(runner, runner.val_loop.evaluator)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._report(runner, runner.test_loop.evaluator)
