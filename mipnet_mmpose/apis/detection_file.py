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

