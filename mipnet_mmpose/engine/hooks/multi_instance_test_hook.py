"""Runner hook for MIPNet's λ-expanding test-time path."""
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import CheckpointLoader
from mmpose.registry import HOOKS

from ...models.utils.checkpoint_fit import check_checkpoint_fits


@HOOKS.register_module()
class MultiInstanceTestHook(Hook):
    """Set how many λ to run at val/test time and report what they produced.

    Lets a user change n and the λ>0 score decay from the config or with
    ``--cfg-options custom_hooks.1.num_instances=1`` (its index in the shipped
    configs, after ``SyncBuffersHook``) without editing the model,
    and logs, at the end of every val/test run, how many poses each λ produced
    and how many survived OKS-NMS (from ``MultiInstanceCocoMetric``).

    Args:
        num_instances (int, optional): n for val/test, at most the model's N.
            None keeps the model's ``test_cfg``.
        lambda_score_decay (float, optional): Score factor of poses with λ>0.
            None keeps the model's ``test_cfg``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 num_instances: Optional[int] = None,
                 lambda_score_decay: Optional[float] = None):
        self.num_instances = num_instances
        self.lambda_score_decay = lambda_score_decay

    def _configure(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'test_num_instances'):
            raise TypeError(f'MultiInstanceTestHook needs a MultiInstanceTopdownPoseEstimator, '
                            f'the model is a {type(model).__name__}')
        if self.num_instances is not None:
            model.test_cfg['num_instances'] = self.num_instances
        if self.lambda_score_decay is not None:
            model.test_cfg['lambda_score_decay'] = self.lambda_score_decay
        # The model owns both settings and checks them (n against its N, the
        # decay in [0, 1]).
        n, decay = model.test_num_instances, model.lambda_score_decay
        runner.logger.info(f'MIPNet test time: {n} instance(s) per box, score decay '
                           f'{decay} for λ>0')

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

    def before_val(self, runner) -> None:
        self._configure(runner)

    def before_test(self, runner) -> None:
        self._configure(runner)
        self._check_test_checkpoint(runner)

    @staticmethod
    def _check_test_checkpoint(runner) -> None:
        """Fail when the tested checkpoint leaves weights of the model unloaded.

        mmengine loaded it already, with ``strict=False``: a checkpoint of another
        width or N would otherwise be tested as a partly random model.
        """
        path = getattr(runner, '_load_from', None)
        if not path:
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        checkpoint = CheckpointLoader.load_checkpoint(path, map_location='cpu')
        check_checkpoint_fits(model, checkpoint, source=f'--checkpoint {path}',
                              config=getattr(runner.cfg, 'filename', None))

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._report(runner, runner.val_loop.evaluator)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._report(runner, runner.test_loop.evaluator)
