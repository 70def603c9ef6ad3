"""A broken, missing or undownloadable checkpoint stops a run with an error naming the file."""
import sys
from typing import Optional

from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import BaseLoop, find_latest_checkpoint
from mmpose.registry import HOOKS

from ..checkpoint_io import check_checkpoint_file
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
    inside torch with a message about a zip archive that names no file. In
    ``before_run`` this hook checks that file with
    :func:`~mipnet_mmpose.engine.checkpoint_io.check_checkpoint_file`, which
    raises :class:`~mipnet_mmpose.engine.checkpoint_io.CorruptCheckpointError`
    naming it (or ``FileNotFoundError``). Files of other schemes (``http://``,
    ``open-mmlab://``, ...) are left to mmengine.

    A training run also initialises weights from the ``Pretrained``
    ``init_cfg`` of the model's backbone, neck and head (ImageNet weights),
    after ``before_run``. Here a local one is checked as above and a URL
    (``https://``, ``torchvision://``) is downloaded into the cache mmengine
    reads (:func:`~mipnet_mmpose.engine.init_checkpoints.fetch_checkpoint`), so
    that offline the run stops with the URL, its config key and the fix
    instead of a bare ``urllib.error.URLError``. Our configs hold it in
    ``custom_hooks``.
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
            check_checkpoint_file(path)
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
