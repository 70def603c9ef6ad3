"""Person boxes of one image from a detection results file (mmdet / COCO results format).

The file MMPose's test configs read as ``bbox_file``: a JSON list of
``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``. Every record
is checked when the file is read, so a malformed one is a single error naming
the file and the record, not a numpy error (or a silently scrambled box)
while predicting.
"""
import json
import os.path as osp
import warnings
from typing import Dict, List, Optional, Tuple

import numpy as np

#: Category id of a person in COCO-format detection files.
FILE_PERSON_ID = 1


class DetectionFileError(ValueError):
    """A detection results file (or COCO annotation file) that cannot be used as given."""


def _load_json(path: str, what: str):
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DetectionFileError(f'{what} {path} is not valid JSON: {e}') from e


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _clip(value: object, length: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= length else text[:length - 3] + '...'


def describe_bad_record(record: object) -> Optional[str]:
    """Why a record is not a usable detection, or None.

    A record needs ``bbox``, exactly four numbers ``[x, y, w, h]``; ``score``
    (default 1) must be a number and ``image_id`` / ``category_id``, where
    present, an int or a string.
    """
    if not isinstance(record, dict):
        return f'is a {type(record).__name__} ({_clip(record)}), not a dict'
    if 'bbox' not in record:
        return f'({_clip(record)}) has no "bbox"'
    bbox = record['bbox']
    if not isinstance(bbox, (list, tuple)) or len(bbox) != 4 or \
            not all(_is_number(v) for v in bbox):
        return f'has "bbox" {_clip(bbox)}, expected 4 numbers [x, y, w, h]'
    if 'score' in record and not _is_number(record['score']):
        return f'has "score" {_clip(record["score"])}, expected a number'
    for key in ('image_id', 'category_id'):
        if key in record and (isinstance(record[key], bool) or
                              not isinstance(record[key], (int, str))):
            return f'has "{key}" {_clip(record[key])}, expected an int or a string'
    return None


def image_ids_by_name(ann_file: str) -> Dict[str, object]:
    """Base file name -> image id, from the ``images`` of a COCO annotation file."""
    images = _load_json(ann_file, 'annotation file')
    images = images.get('images', []) if isinstance(images, dict) else []
    return {osp.basename(str(entry.get('file_name', ''))): entry['id'] for entry in images
            if isinstance(entry, dict) and 'id' in entry}


class DetectionFile:
    """The detections of an mmdet/COCO results file, by image id.

    Args:
        bbox_file (str): A JSON list of ``{"image_id", "category_id",
            "bbox": [x, y, w, h], "score"}``.

    Raises:
        DetectionFileError: The file is no such list, or a record is
            malformed (the error names the record's index).
    """

    def __init__(self, bbox_file: str):
        dets = _load_json(bbox_file, 'bbox file')
        if not isinstance(dets, list):
            raise DetectionFileError(f'bbox file {bbox_file} is not a detection results list '
                                     '(a JSON list of {"image_id", "bbox", "score", ...})')
        self.path = bbox_file
        self.by_id: Dict[str, List[dict]] = {}
        for index, det in enumerate(dets):
            problem = describe_bad_record(det)
            if problem:
                raise DetectionFileError(f'bbox file {bbox_file}: record {index} {problem}')
            # Ids compared as text, so "785" matches 785.
            self.by_id.setdefault(str(det.get('image_id')), []).append(det)

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
        kept = [d for d in matches if d.get('score', 1.0) >= bbox_thr]
        boxes = np.array([d['bbox'] for d in kept], dtype=np.float64).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
        scores = np.array([d.get('score', 1.0) for d in kept], dtype=np.float64)
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
