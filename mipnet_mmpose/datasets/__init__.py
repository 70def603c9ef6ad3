"""Multi-instance training data: datasets with neighbours, slot transform."""
from . import transforms  # noqa: F401 (registers the transforms)
from .input_checks import (
    AnnotationFileError,
    DatasetFileNotFoundError,
    DatasetInputError,
    DetectionFileError,
    MissingImagesError,
    UndecodableImageError,
)
from .multi_instance_dataset import (
    MultiInstanceCocoDataset,
    MultiInstanceCrowdPoseDataset,
    MultiInstanceDatasetMixin,
    MultiInstanceOCHumanDataset,
    multi_instance_dataset_class,
    register_multi_instance_datasets,
)
from .neighbours import count_keypoints_in_box, order_neighbours

__all__ = [
    'MultiInstanceCocoDataset', 'MultiInstanceCrowdPoseDataset',
    'MultiInstanceDatasetMixin', 'MultiInstanceOCHumanDataset',
    'count_keypoints_in_box', 'order_neighbours', 'multi_instance_dataset_class',
    'register_multi_instance_datasets', 'DatasetInputError', 'AnnotationFileError',
    'DetectionFileError', 'UndecodableImageError', 'DatasetFileNotFoundError',
    'MissingImagesError'
]
