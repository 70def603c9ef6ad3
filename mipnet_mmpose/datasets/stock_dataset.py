"""The stock MMPose data set a (MIPNet) data set type stands for.

MIPNet's data sets are MMPose's classes with our neighbours mixin
(``MultiInstanceOCHumanDataset`` derives from ``OCHumanDataset``). Whatever is
keyed by MMPose's data sets (the inferencer's default detector, the metafile's
data set names and tasks) asks this one helper which stock class a type stands
for, through the registry, not by its spelling.
"""
from mmpose.registry import DATASETS


def stock_dataset_type(dataset_type: str) -> str:
    """The first MMPose dataset class a registered dataset type derives from.

    Args:
        dataset_type (str): e.g. ``'MultiInstanceOCHumanDataset'``.

    Returns:
        str: e.g. ``'OCHumanDataset'``; ``dataset_type`` itself when it is
        MMPose's, unregistered, or derives from no MMPose dataset.
    """
    for base in getattr(DATASETS.get(dataset_type), '__mro__', ()):
        if base.__module__.startswith('mmpose.datasets') and \
                DATASETS.get(base.__name__) is base:
            return base.__name__
    return dataset_type
