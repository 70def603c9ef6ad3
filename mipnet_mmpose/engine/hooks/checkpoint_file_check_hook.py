"""A broken, unsafe, missing or undownloadable checkpoint stops a run with an error
naming the file; a resume that repeats part of an epoch is warned about."""
import sys
from typing import Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, EpochBasedTrainLoop, find_latest_checkpoint
from mmpose.registry import HOOKS

from ..checkpoint_io import check_before_mmengine_loads, check_checkpoint_file
from ..init_checkpoints import (
    download_url,
    fetch_checkpoint,
    init_cfg_fix,
    offline_guidance,
    pretrained_checkpoints,
)


@HOOKS.register_module()
class CheckpointFileCheckHook(Hook):
    """Check the checkpoint a run is about to load before mmengine loads it.

    mmengine loads ``load_from`` (``--checkpoint`` of a test run, a
    checkpoint to fine-tune), or the checkpoint a run resumes from, right
    after every hook's ``before_run``; a truncated or corrupt file then fails
    inside torch with a message about a zip archive that names no file, and
    below torch 2.6 mmengine unpickles it fully, running any code it holds. In
    ``before_run`` this hook checks that file with
    :func:`~mipnet_mmpose.engine.checkpoint_io.check_checkpoint_file` (zip
    CRCs, then torch's weights-only unpickler with mmengine's checkpoint types
    allowed), which raises
    :class:`~mipnet_mmpose.engine.checkpoint_io.CorruptCheckpointError` or
    :class:`~mipnet_mmpose.engine.checkpoint_io.UnsafeCheckpointError` naming
    it (or ``FileNotFoundError``). It then allows those types for mmengine's
    own weights-only load (torch >= 2.6) with
    :func:`~mipnet_mmpose.engine.checkpoint_io.allow_checkpoint_globals`.
    Files of other schemes (``http://``, ``open-mmlab://``, ...) are left to
    mmengine.

    A training run also initialises weights from the ``Pretrained``
    ``init_cfg`` of the model's backbone, neck and head (ImageNet weights),
    after ``before_run``. Here a local one is checked as above and a URL
    (``https://``, ``torchvision://``) is downloaded into the cache mmengine
    reads (:func:`~mipnet_mmpose.engine.init_checkpoints.fetch_checkpoint`), so
    that offline the run stops with the URL, its config key and the fix
    instead of a bare ``urllib.error.URLError``. Our configs hold it in
    ``custom_hooks``.

    After mmengine has read the checkpoint a run resumes from, it warns when
    that checkpoint was saved in the middle of an epoch (by iteration, e.g.
    ``default_hooks.checkpoint.by_epoch=False``): mmengine's epoch loop
    restarts the epoch from its first batch (it has no option to skip the
    batches already trained), so those iterations are trained again and the
    run ends that many iterations later than planned.
    """

    # Before MultiInstanceTestHook (LOWEST), which loads a test run's checkpoint in
    # its before_run; after WorkDirLockHook (VERY_HIGH): a refused run reads nothing.
    priority = 'HIGH'

    def before_run(self, runner) -> None:
        # Only training initialises weights from init_cfg (Runner.train builds its
        # train loop before before_run; test and val runs leave it a dict or None).
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop):
            self.check_init_checkpoints(runner.cfg)
        path = self.file_to_load(runner)
        if path is None:
            return
        try:
            check_before_mmengine_loads(path)
        except FileNotFoundError as error:
            # A start checkpoint is made by a command (a converter, mim download):
            # say where to find which one, not only that the file is missing.
            config = getattr(runner.cfg, 'filename', None) or 'CONFIG'
            raise FileNotFoundError(
                f'{error} (`load_from` of {config}). '
                f'`python tools/prepare_data.py check {config}` names every checkpoint '
                'the config loads, where it comes from and the command that makes it; '
                '`--cfg-options load_from=None` trains from the backbone\'s own '
                'initialisation instead.') from error

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Warn when a resumed epoch-loop run restarts an epoch it was inside of."""
        if not getattr(runner, '_resume', False):
            return
        message = mid_epoch_resume_warning(runner, checkpoint)
        if message is not None:
            runner.logger.warning(message)

    @staticmethod
    def file_to_load(runner) -> Optional[str]:
        """The checkpoint mmengine's ``Runner.load_or_resume`` will load, if any.

        The same choice as ``load_or_resume``: ``load_from`` (resumed from when
        ``resume`` is set), else with ``resume`` the work dir's latest
        checkpoint. mmengine keeps ``load_from`` and ``resume`` in private
        attributes only (the runner's ``cfg`` lacks them when the runner was
        built from arguments).
        """
        if getattr(runner, '_has_loaded', False):
            return None
        load_from = getattr(runner, '_load_from', None)
        if load_from is None and getattr(runner, '_resume', False):
            load_from = find_latest_checkpoint(runner.work_dir)
        return None if load_from is None else str(load_from)

    @staticmethod
    def check_init_checkpoints(cfg) -> None:
        """Check or download every ``Pretrained`` ``init_cfg`` checkpoint of a run's config.

        Args:
            cfg (Config): The run's config (``runner.cfg``); its file is named in errors.

        Raises:
            FileNotFoundError: A local one is missing.
            ConnectionError: A URL cannot be downloaded; names the URL, its config key
                and the fix (a local copy, ``--cfg-options <key>=PATH`` or
                ``init_cfg=None``).
        """
        config = getattr(cfg, 'filename', None) or 'CONFIG'
        for checkpoint, key in pretrained_checkpoints(cfg.get('model')):
            url = download_url(checkpoint)
            if url is None:
                if '://' in checkpoint:
                    continue  # open-mmlab://, s3://...: left to mmengine
                try:
                    check_checkpoint_file(checkpoint)
                except FileNotFoundError as error:
                    raise FileNotFoundError(
                        f'{error} (`{key}` of {config}, loaded before training): put the '
                        f'file there, or {init_cfg_fix(key)}; `python tools/prepare_data.py '
                        f'check {config}` names every checkpoint the config loads') from error
                continue
            # mmengine downloads on rank 0 only, the others wait for it; so here.
            if get_rank() != 0:
                continue
            try:
                fetch_checkpoint(url, progress=sys.stderr.isatty())
            except OSError as error:  # URLError, HTTPError, timeouts, a full disk
                raise ConnectionError(
                    f'cannot download {url} (`{key}` of {config}, loaded before training: '
                    f'{error}); {offline_guidance(checkpoint, key)}; `python '
                    f'tools/prepare_data.py check {config}` names every checkpoint the '
                    'config loads') from error

def mid_epoch_resume_warning(runner, checkpoint: dict) -> Optional[str]:
    """The warning for resuming an epoch loop from a checkpoint saved mid-epoch, or None.

    Args:
        runner (Runner): The runner resuming (its train loop is built).
        checkpoint (dict): The loaded checkpoint; ``meta`` holds the ``epoch``
            (epochs completed) and ``iter`` (iterations completed) it was
            saved at.

    Returns:
        str | None: None for an iteration-based loop, or a checkpoint saved
        at the end of an epoch.
    """
    loop = getattr(runner, '_train_loop', None)
    meta = checkpoint.get('meta') or {}
    if not isinstance(loop, EpochBasedTrainLoop) or 'epoch' not in meta or 'iter' not in meta:
        return None
    per_epoch = len(loop.dataloader)
    done = int(meta['iter']) - int(meta['epoch']) * per_epoch
    if not 0 < done < per_epoch:
        return None
    planned = loop.max_epochs * per_epoch
    return (f'Resuming from a checkpoint saved mid-epoch: iteration {meta["iter"]}, '
            f'{done} of the {per_epoch} iterations of epoch {int(meta["epoch"]) + 1}. '
            "mmengine's epoch loop restarts that epoch from its first batch, so those "
            f'{done} iterations are trained again (on other batches) and the run ends at '
            f'iteration {planned + done}, not {planned} (its ETA is wrong meanwhile); the '
            'result differs from an uninterrupted run. To resume exactly, resume from a '
            'checkpoint saved at the end of an epoch (epoch_*.pth; save by epoch: '
            'default_hooks.checkpoint.by_epoch=True).')
