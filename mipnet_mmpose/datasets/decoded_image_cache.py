"""Decode each image once for the many top-down samples that crop it.

A top-down test set holds one sample per box, and MMPose's ``LoadImage``
decodes the image file again for every one of them: on an image with 10,000
detector boxes that is 10,000 decodes of the same file (several ms each),
more than the rest of the input pipeline. The samples of one image are
consecutive in the data list (annotations and detections are grouped by
image), so keeping the last decoded image or two is enough.
"""
from collections import OrderedDict
from typing import Dict, Optional

import numpy as np
from mmcv.transforms import LoadImageFromFile


class DecodedImageCache:
    """The last ``size`` images decoded by a pipeline's loading transform.

    :meth:`fill` puts ``img`` into a sample's data info before the pipeline
    runs; MMPose's ``LoadImage`` then takes that array instead of reading
    the file (its documented ``results['img']`` input) and sets the same
    ``img_shape`` and ``ori_shape``. Each sample gets its own copy, so a
    transform that writes into its image cannot change another sample's.

    Args:
        loader (LoadImageFromFile): The pipeline's loading transform; it
            decodes on a miss, so its ``color_type``, ``imdecode_backend``,
            ``backend_args`` and ``to_float32`` apply unchanged.
        size (int): Images kept (least recently used dropped first).
            Defaults to 1.

    Attributes:
        decodes (int): Images decoded so far (misses).
    """

    def __init__(self, loader: LoadImageFromFile, size: int = 1) -> None:
        if size < 1:
            raise ValueError(f'DecodedImageCache size must be >= 1, got {size}.')
        self.loader = loader
        self.size = size
        self.decodes = 0
        self._images: Dict[str, np.ndarray] = OrderedDict()

    def fill(self, data_info: dict) -> dict:
        """Add the decoded image of ``data_info['img_path']`` as ``img``.

        Data infos that already carry an ``img`` or no path are returned
        unchanged, as are those the loader skips (``ignore_empty``): the
        pipeline then handles them as it would without the cache.

        Args:
            data_info (dict): A sample's data info, before the pipeline.

        Returns:
            dict: The same dict, with ``img`` (H, W, C) when decoded.
        """
        path = data_info.get('img_path')
        if 'img' in data_info or not isinstance(path, str):
            return data_info
        img = self._images.get(path)
        if img is None:
            loaded = self.loader.transform({'img_path': path})
            if loaded is None:
                return data_info
            img = loaded['img']
            self.decodes += 1
            self._images[path] = img
            if len(self._images) > self.size:
                self._images.popitem(last=False)
        else:
            self._images.move_to_end(path)
        data_info['img'] = img.copy()
        return data_info


def image_cache_for(pipeline: object, size: int = 1) -> Optional[DecodedImageCache]:
    """A cache decoding with the pipeline's first transform, if that loads files.

    Args:
        pipeline (Compose): A built pipeline (``.transforms``).
        size (int): Images kept. Defaults to 1.

    Returns:
        DecodedImageCache | None: None when the pipeline does not start with
        a file-loading transform (MMPose's ``LoadImage`` or mmcv's
        ``LoadImageFromFile``): then there is nothing to decode with.
    """
    transforms = getattr(pipeline, 'transforms', None) or [None]
    if isinstance(transforms[0], LoadImageFromFile):
        return DecodedImageCache(transforms[0], size=size)
    return None
