"""What the command lines ``tools/*.py`` do first: drop the warnings of dependencies that
every command (or every checkpoint load) would print and that say nothing about the
user's input.

Each is matched narrowly (category, the start of its message, and the module it is
attributed to or whose import raises it), so any other warning still shows. The package
``mipnet_mmpose`` filters no warning (importing it changes nothing outside its
registries); ``mim train`` and ``mim test`` run MMPose's own scripts, which print them:
README's "Warnings you will see" says what each means.
"""
import warnings
from typing import Tuple, Type

#: torch 2.4 deprecates TorchScript for its functional optimizers when
#: ``torch.distributed.optim`` is imported (by ``mmengine.optim``, for every runner and
#: inferencer), inside ``warnings.simplefilter('always')``, which no filter overrides.
TORCHSCRIPT_OPTIMIZERS = '`TorchScript` support for functional optimizers is deprecated'

#: (category, start of the message, module it is attributed to) of the filtered warnings:
#: torch 2.4 announces the ``weights_only`` default of torch 2.6 on every ``torch.load``,
#: and mmengine's checkpoint loading (an inferencer's weights) passes no ``weights_only``.
DEPENDENCY_FILTERS: Tuple[Tuple[Type[Warning], str, str], ...] = (
    (FutureWarning, 'You are using `torch.load` with `weights_only=False`',
     'mmengine.runner.checkpoint'),
)


def quiet_dependency_warnings() -> None:
    """Ignore the dependency warnings above for the rest of the process.

    Called by each tool's ``main`` after its arguments are parsed (``--help`` imports
    no torch) and before OpenMMLab is imported. The filters match category, message
    and module; torch's warning about its functional optimizers cannot be filtered
    (see :data:`TORCHSCRIPT_OPTIMIZERS`), so its module is imported here, once, with
    that warning recorded and dropped, and any other warning of the import shown as
    it would have been.
    """
    import re
    for category, text, module in DEPENDENCY_FILTERS:
        warnings.filterwarnings('ignore', message=re.escape(text), category=category,
                                module=re.escape(module) + '$')
    with warnings.catch_warnings(record=True) as caught:
        import torch.distributed.optim  # noqa: F401
    for warning in caught:
        if not (issubclass(warning.category, DeprecationWarning)
                and str(warning.message).startswith(TORCHSCRIPT_OPTIMIZERS)):
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)
