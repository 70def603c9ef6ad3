"""A broken or unsafe checkpoint stops a run with an error naming the file."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import find_latest_checkpoint
from mmpose.registry import HOOKS

from ..checkpoint_io import allow_checkpoint_globals, check_checkpoint_file


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
    mmengine. Our configs hold it in ``custom_hooks``.
    """

    # Before MultiInstanceTestHook (LOWEST), which loads a test run's checkpoint in
    # its before_run; after WorkDirLockHook (VERY_HIGH): a refused run reads nothing.
    priority = 'HIGH'

    def before_run(self, runner) -> None:
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
        # Checked: mmengine's own torch.load (weights-only from torch 2.6) may read
        # the same types.
        allow_checkpoint_globals()

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
