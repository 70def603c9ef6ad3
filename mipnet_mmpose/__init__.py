"""MIPNet (Multi-Instance Pose Networks, ICCV 2021) as an MMPose plugin.

Importing this package registers its components in MMPose's registries
(``mmpose.registry``): load it from a config with
``custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)``.
"""
from . import apis, codecs, datasets, engine, evaluation, models, visualization  # noqa: F401
from .conversion import ConversionError, convert_config, set_data_paths
from .version import __version__

__all__ = ['__version__', 'convert_config', 'set_data_paths', 'ConversionError']
