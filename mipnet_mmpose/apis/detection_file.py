"""Person boxes of one image from a detection results file (mmdet / COCO results format).

The file MMPose's test configs read as ``bbox_file``: a JSON list of
``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``. It is read
and checked by the data sets' rule (:func:`~mipnet_mmpose.datasets.input_checks.
read_detection_file`), so a file that ``mim test`` refuses is refused here
too, with the same :class:`DetectionFileError` naming the file and the
record, not a numpy error (or a silently scrambled box) while predicting.
"""
import os.path as osp
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..datasets.input_checks import (
    AnnotationFileError,
    DetectionFileError,
    load_json_file,
    read_detection_file,
)

#: Category id of a person in COCO-format detection files.
FILE_PERSON_ID = 1


def image_ids_by_name(ann_file: str) -> Dict[str, object]:
    """Base file name -> image id, from the ``images`` of a COCO annotation file."""
    images = load_json_file(ann_file, '`ann_file`', AnnotationFileError)
    images = images.get('images', []) if isinstance(images, dict) else []
    return {osp.basename(str(entry.get('file_name', ''))): entry['id'] for entry in images
            if isinstance(entry, dict) and 'id' in entry}


class DetectionFile:
    """The detections of an mmdet/COCO results file, by image id.

    Args:
        bbox_file (str): A JSON list of ``{"image_id", "category_id",
            "bbox": [x, y, w, h], "score"}``.

    Raises:
        DetectionFileError: The file is no such list or empty, or a record is
            malformed (the error names the records' indices).
    """

    def __init__(self, bbox_file: str):
        self.path = bbox_file
        self.by_id: Dict[str, List[dict]] = {}
        for det in read_detection_file(bbox_file, '`bbox_file`'):
            # Ids compared as text, so "785" matches 785.
            self.by_id.setdefault(str(det['image_id']), []).append(det)

    def only_image_id(self) -> Optional[str]:
        """The image id when the file holds a single image's detections, else None."""
        return next(iter(self.by_id)) if len(self.by_id) == 1 else None

    def boxes(self, image_id: object, cat_id: int = FILE_PERSON_ID, bbox_thr: float = 0.0,
              required: bool = True, image: str = '') -> Tuple[np.ndarray, np.ndarray]:
        """The boxes of one image scoring at least ``bbox_thr``.

        Args:
            image_id: The image's id; compared as text.
            cat_id (int): Keep records of this ``category_id`` (records
                without one are kept).
            bbox_thr (float): Keep records scoring at least this.
            required (bool): Raise when the image has no record of the
                category; False warns (a ``UserWarning``, as the inference
                API warns about unusable boxes) and gives no boxes.
            image (str): The image, named in the warning.

        Returns:
            tuple: ``boxes`` (B, 4) xyxy and ``scores`` (B, ), float64 (as
            stored in the file); B may be 0.
        """
        matches = [d for d in self.by_id.get(str(image_id), [])
                   if d.get('category_id', cat_id) == cat_id]
        if not matches:
            ids = sorted(self.by_id)
            shown = ', '.join(ids[:10]) + (', ...' if len(ids) > 10 else '')
            message = (f'no detections of category {cat_id} for image_id {image_id} in '
                       f'{self.path} (its image ids: {shown})')
            if required:
                raise DetectionFileError(message)
            warnings.warn(f'{image or "image"}: {message}; no poses', stacklevel=2)
        kept = [d for d in matches if d['score'] >= bbox_thr]
        boxes = np.array([d['bbox'] for d in kept], dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
        scores = np.array([d['score'] for d in kept], dtype=np.float64)
        return boxes, scores


def boxes_from_file(bbox_file: str, image_id: object, cat_id: int = FILE_PERSON_ID,
                    bbox_thr: float = 0.0) -> Tuple[np.ndarray, np.ndarray]:
    """The detections of one image from an mmdet/COCO results file.

    Args:
        bbox_file (str): A JSON list of ``{"image_id", "category_id",
            "bbox": [x, y, w, h], "score"}``.
        image_id: The image's id; compared as text, so ``"785"`` matches 785.
        cat_id (int): Keep entries of this ``category_id`` (entries without
            one are kept). Defaults to 1 (COCO person).
        bbox_thr (float): Keep entries scoring at least this.

    Returns:
        tuple: ``boxes`` (B, 4) xyxy and ``scores`` (B, ), float64 (as
        stored in the file); B may be 0 when every box of the image scores
        under the threshold.
    """
    return DetectionFile(bbox_file).boxes(image_id, cat_id, bbox_thr)


class DetectionFileBoxes:
    """Boxes of every input of an inferencer run from one detection results file.

    Given as ``bboxes`` to :class:`~mipnet_mmpose.apis.MIPNetInferencer`, it
    gives each image (or video frame) its detections, matched to the inputs
    when the run starts, so a file that fits no input is refused before
    anything is written:

    - an image's ``image_id`` is ``image_id`` (one image only), else the id of
      its file name in the ``images`` of the COCO annotation file
      ``ann_file``, else, when the file holds one image's detections, that
      image's (with a warning: nothing ties that id to the image);
    - a video's (or webcam's) frames are matched by their number (0-based).

    Boxes of ``category_id`` ``cat_id`` scoring at least the run's
    ``bbox_thr`` are used, as MMPose's test data sets keep a detection file's
    boxes (``filter_cfg.bbox_score_thr``: score >= thr). An image or frame
    without such boxes has no poses (it is not taken as one whole-image box).

    Args:
        bbox_file (str): A JSON list of ``{"image_id", "category_id",
            "bbox": [x, y, w, h], "score"}``.
        image_id (optional): The id of the single image of the run.
        ann_file (str, optional): A COCO annotation file naming the images.
        cat_id (int): The person ``category_id``. Defaults to 1 (COCO).
    """

    def __init__(self, bbox_file: str, image_id: object = None,
                 ann_file: Optional[str] = None, cat_id: int = FILE_PERSON_ID) -> None:
        self.dets = DetectionFile(bbox_file)
        self.image_id = image_id
        self.ann_file = ann_file
        self.cat_id = cat_id

    def for_inputs(self, inputs: List[object], video: bool, bbox_thr: float,
                   source: str = 'the input'):
        """The function ``(index, input) -> boxes (B, 5)`` of one run.

        Args:
            inputs (list): The run's listed images (ignored for a video).
            video (bool): Whether the inputs are frames of a video or webcam.
            bbox_thr (float): Least box score kept.
            source (str): The input as the user gave it, for the messages.

        Raises:
            DetectionFileError: When the file cannot be matched to the inputs.
        """
        if video:
            if self.image_id is not None or self.ann_file:
                raise DetectionFileError(
                    "image_id and ann_file are for images: a video's detections have the "
                    'frame number (0-based) as image_id')
            return lambda index, _: self._boxes(index, bbox_thr, f'frame {index}', False)
        images = [i for i in inputs if isinstance(i, str)]
        if self.image_id is not None:
            if len(inputs) != 1:
                raise DetectionFileError(
                    f'--image-id names one image, the folder {source} has {len(inputs)}: '
                    'give --ann-file to match each by file name')
            ids = {images[0]: self.image_id} if images else {}
        elif self.ann_file:
            by_name = image_ids_by_name(self.ann_file)
            ids = {}
            for path in images:
                name = osp.basename(path)
                if name not in by_name:
                    raise DetectionFileError(f'no image named {name} in the "images" of '
                                             f'{self.ann_file}')
                ids[path] = by_name[name]
        elif len(images) == 1 and len(inputs) == 1 and self.dets.only_image_id() is not None:
            ids = {images[0]: self.dets.only_image_id()}
            warnings.warn(f'bbox file {self.dets.path} holds the detections of one image '
                          f'(image_id {ids[images[0]]}), used for {images[0]} without a '
                          'check; give --image-id or --ann-file to match them by id',
                          stacklevel=2)
        else:
            raise DetectionFileError(
                f'--bbox-file {self.dets.path} holds the detections of {len(self.dets.by_id)} '
                "images: give --image-id (one image) or --ann-file to find each image's id "
                'by file name')
        # A single image must be in the file; a folder may hold images nobody is in.
        required = len(inputs) == 1

        def boxes(index: int, image: object) -> np.ndarray:
            if image not in ids:
                raise DetectionFileError(f'input {index} is not an image file: its boxes '
                                         f'cannot be looked up in {self.dets.path}')
            return self._boxes(ids[image], bbox_thr, str(image), required)
        return boxes

    def _boxes(self, image_id: object, bbox_thr: float, image: str,
               required: bool) -> np.ndarray:
        boxes, scores = self.dets.boxes(image_id, self.cat_id, bbox_thr, required=required,
                                        image=image)
        if len(boxes) == 0 and self.dets.by_id.get(str(image_id)):
            warnings.warn(f'{image}: no person box scores at least bbox_thr {bbox_thr}; '
                          'no poses', stacklevel=2)
        return np.concatenate([boxes, scores[:, None]], axis=1)
