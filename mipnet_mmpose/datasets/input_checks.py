"""Early, explained failures for bad data set inputs.

The stock COCO-style loader trusts its inputs: a truncated JSON fails with a
bare ``JSONDecodeError`` that names no file, a keypoint array of the wrong
length with a ``reshape`` error, a detection on an unknown image with a
``KeyError`` inside ``xtcocotools``, and a missing image only once the data
loader reaches it, hours into training. Every bad input here either raises an
error naming the file, the config field and the fix, or, for individual bad
persons or boxes, is dropped with a logged count.

:class:`DatasetInputChecks` is the part a ``MultiInstance<Name>`` data set
holds and calls where it reads its inputs; the functions below are the rules,
one implementation each. The detection record rule
(:func:`read_detection_file`) and the image error
(:class:`UndecodableImageError`) are also those of the inference API
(:mod:`mipnet_mmpose.apis`), so a file or image is accepted or refused alike
by ``mim test`` and ``tools/demo.py``.

All errors are plain subclasses of :class:`ValueError` or
:class:`FileNotFoundError` taking one message, so that callers may catch the
builtin types and registries may re-raise them unchanged.
"""
import json
import logging
import math
import os
import os.path as osp
import re
import stat
from collections import Counter, OrderedDict
from contextlib import contextmanager
from itertools import chain
from numbers import Real
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Type

import cv2
import numpy as np
from mmengine.fileio import exists, get, load
from mmengine.logging import print_log

# Reasons a detection box is dropped, in the order they are tested; a box is
# counted under the first reason that applies.
DROP_REASONS = ('non-person category', 'unknown image id', 'non-finite score',
                'non-finite box', 'non-positive width or height')

# What names the data sets' input files, in messages.
ANN_FILE, BBOX_FILE = 'config field `ann_file`', 'config field `bbox_file`'

# How many offending ids or file names a message lists before eliding.
SHOWN = 5

# The COCO results format a detection record must follow.
DETECTION_FORMAT = ('{"image_id", "bbox": [x, y, w, h], "score"} (COCO results format; '
                    '"category_id", when present, 1 for a person)')


class DatasetInputError(ValueError):
    """An input file (annotations, detections, an image) exists but its content is unusable."""


class AnnotationFileError(DatasetInputError):
    """The annotation file (``ann_file``) is malformed."""


class DetectionFileError(DatasetInputError):
    """A detection results file (``bbox_file``) is malformed, or does not fit the inputs."""


class UndecodableImageError(DatasetInputError):
    """An image file exists but cannot be decoded (empty, truncated, not an image)."""


class DatasetFileNotFoundError(FileNotFoundError):
    """A file named by the dataset config does not exist."""


class MissingImagesError(DatasetFileNotFoundError):
    """Images that kept samples need are absent on disk."""


# ---------------------------------------------------------------------------------------------
# Files


def is_local_path(path: str) -> bool:
    """Whether ``path`` is on the local file system (not ``s3://`` etc.).

    Args:
        path (str): A file path or URI

    Returns:
        bool: ``False`` for URIs with a scheme other than ``file``
    """
    path = str(path)
    if '://' not in path:  # the common case, without a regex per image
        return True
    match = re.match(r'^([a-zA-Z][a-zA-Z0-9+.-]*)://', path)
    return match is None or match.group(1).lower() == 'file'


def shorten(items: Sequence, num: int = SHOWN) -> str:
    """Format the first ``num`` items of a list, noting how many are left.

    Args:
        items (Sequence): Items to show
        num (int): How many to show. Defaults to :data:`SHOWN`

    Returns:
        str: e.g. ``"1, 2, 3 (and 4 more)"``
    """
    shown = ', '.join(str(item) for item in items[:num])
    if len(items) > num:
        shown += f' (and {len(items) - num} more)'
    return shown


def _clip(value: object, length: int = 60) -> str:
    """``repr`` of a value, cut to ``length`` characters."""
    text = repr(value)
    return text if len(text) <= length else text[:length - 3] + '...'


def _is_number(value: object) -> bool:
    """Whether ``value`` is a real number (bools are not)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def _is_id(value: object) -> bool:
    """Whether ``value`` can be a COCO id (an int or a string, not a bool)."""
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def require_file(path: str, what: str, field: str, hint: str) -> None:
    """Raise if the file a config field names does not exist.

    Args:
        path (str): The resolved file path
        what (str): What the file is, e.g. ``'Annotation file'``
        field (str): The config field that names it, e.g. ``'ann_file'``
        hint (str): What to check or do, appended to the message

    Raises:
        DatasetFileNotFoundError: If ``path`` is not a file
    """
    # A directory passes ``exists`` but fails later in ``open``; remote files
    # can only be asked through their backend.
    found = osp.isfile(path) if is_local_path(path) else exists(path)
    if not found:
        raise DatasetFileNotFoundError(
            f'{what} `{path}` does not exist (config field `{field}`). '
            f'{hint}')


@contextmanager
def explain_json_errors(path: str, field: str,
                        error_cls: Type[DatasetInputError]) -> Iterator[None]:
    """Turn JSON parse errors raised inside the block into explained ones.

    A bare :class:`json.JSONDecodeError` names neither the file nor the
    dataset field, and the usual cause, an interrupted download or write,
    is not obvious from "Expecting ',' delimiter".

    Args:
        path (str): The file being parsed
        field (str): What names it, e.g. ``'config field `ann_file`'``
        error_cls (type): The error to raise

    Raises:
        DatasetInputError: ``error_cls``, chained to the parse error
    """
    try:
        yield
    except json.JSONDecodeError as err:
        # A cut-short file fails at its very end or inside its last token
        # (e.g. an unterminated string), and no longer ends like a JSON
        # object or list.
        ended = (not err.doc[err.pos:].strip()
                 or not err.doc.rstrip().endswith(('}', ']')))
        cause = ('the text ends before the JSON does, so the file is '
                 'truncated' if ended else
                 'the file may be truncated or corrupted')
        raise error_cls(
            f'Cannot parse `{path}` ({field}) as JSON: '
            f'{err.msg} (line {err.lineno} column {err.colno}, char '
            f'{err.pos} of {len(err.doc)}); {cause}, e.g. by an interrupted '
            'download or write. Download or regenerate it.') from err
    except UnicodeDecodeError as err:
        raise error_cls(
            f'Cannot read `{path}` ({field}) as JSON text: '
            f'{err}. Is it a JSON file at all (not an archive or image)?'
        ) from err


def load_json_file(path: str, field: str,
                   error_cls: Type[DatasetInputError]) -> object:
    """Load a JSON file, explaining parse errors.

    Args:
        path (str): Local path or URI of the file
        field (str): What names it, e.g. ``'config field `ann_file`'``
        error_cls (type): The error to raise on a parse error

    Returns:
        object: The parsed JSON
    """
    with explain_json_errors(path, field, error_cls):
        # Explicit format: annotation files need not end in ``.json``.
        return load(path, file_format='json')


# ---------------------------------------------------------------------------------------------
# Annotation files


def check_coco_keys(dataset: object, path: str,
                    required: Sequence[str]) -> None:
    """Raise unless a parsed annotation file is a dict with ``required`` keys.

    Without ``images`` or ``annotations`` ``xtcocotools`` silently builds an
    empty index and the dataset ends up with no samples.

    Args:
        dataset (object): The parsed annotation file
        path (str): Its path, for the message
        required (Sequence[str]): Keys it must have

    Raises:
        AnnotationFileError: If ``dataset`` is no dict or lacks a key
    """
    if not isinstance(dataset, dict):
        raise not_a_coco_dict_error(type(dataset).__name__, path)
    missing = [key for key in required if key not in dataset]
    if missing:
        raise AnnotationFileError(
            f'Annotation file `{path}` (config field `ann_file`) has no '
            f'{" and no ".join(f"`{key}`" for key in missing)} key (it has: '
            f'{", ".join(map(str, dataset)) or "nothing"}). A COCO keypoint '
            'annotation file needs `images` and `annotations` lists; check '
            'that `ann_file` names the person keypoints file, not e.g. an '
            'image-info or captions file.')


def not_a_coco_dict_error(kind: str, path: str) -> AnnotationFileError:
    """The error for an annotation file whose JSON is no object.

    Args:
        kind (str): The type name of the parsed JSON, e.g. ``'list'``
        path (str): The annotation file

    Returns:
        AnnotationFileError: The error to raise
    """
    hint = (' It looks like detection results: pass it as `bbox_file`, with '
            'the COCO annotation file as `ann_file`.' if kind == 'list' else '')
    return AnnotationFileError(
        f'Annotation file `{path}` (config field `ann_file`) must hold a '
        f'COCO-format JSON object, but holds a {kind}.{hint}')


# Annotations checked per block by find_bad_annotations: bounds the float64
# copy of the keypoints (about 3 MiB a block at K = 17).
_CHECK_BLOCK = 8192
_PLAIN_NUMBERS = {int, float}


def _as_floats(rows: List[Sequence]) -> np.ndarray:
    """The values of equally long rows as one float64 array, NaN for a value
    that is no number (text, ``None``, a bool, a list), +-inf for an int beyond
    float64."""
    count = sum(map(len, rows))
    # Plain JSON numbers (the common case) in one fromiter; ``type`` and not
    # ``isinstance``: a bool is an int to numpy but no coordinate or flag.
    if set(map(type, chain.from_iterable(rows))) <= _PLAIN_NUMBERS:
        try:
            return np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=count)
        except OverflowError:
            pass

    def as_float(value: object) -> float:
        if not _is_number(value):
            return math.nan
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf

    return np.fromiter(map(as_float, chain.from_iterable(rows)), dtype=np.float64,
                       count=count)


def find_bad_annotations(annotations: Sequence[dict],
                         num_keypoints: int) -> Dict[int, str]:
    """The annotations the stock COCO parser would misread, and why.

    Only annotations the stock parser reads (dicts with ``bbox`` and
    ``keypoints``) are checked; it skips the others itself. An annotation is
    bad when its ``keypoints`` are no list of K x (x, y, v) (a wrong length
    fails the stock reshape, or, a multiple of 3, passes it with a wrong K),
    its ``bbox`` is not four finite numbers (a NaN box passes the stock
    validity test, NaN <= 0 being false, and makes a NaN crop), a keypoint's
    x or y is not a finite number (NaN weights in training) or a visibility
    is not 0, 1 or 2 (the stock loader clips it to 1).

    The values of a block of annotations are tested as one array: at COCO
    scale (150,000 persons, 8 million numbers) per-value Python checks took
    longer than the stock loading itself.

    Args:
        annotations (Sequence[dict]): The raw annotations of a file
        num_keypoints (int): The keypoint number K of the dataset

    Returns:
        dict[int, str]: The problem of each bad annotation by its index,
        ascending (empty if all are fine)
    """
    length = 3 * num_keypoints
    problems: Dict[int, str] = {}
    for begin in range(0, len(annotations), _CHECK_BLOCK):
        rows, keypoints, bboxes = [], [], []
        for index in range(begin, min(begin + _CHECK_BLOCK, len(annotations))):
            ann = annotations[index]
            if not isinstance(ann, dict) or 'bbox' not in ann or 'keypoints' not in ann:
                continue  # the stock parser skips it (or xtcocotools fails before)
            ann_id = ann.get('id', '?')
            kpts, bbox = ann['keypoints'], ann['bbox']
            if not isinstance(kpts, (list, tuple)):
                problems[index] = (f'annotation id {ann_id}: `keypoints` is a '
                                   f'{type(kpts).__name__}, expected a list')
            elif len(kpts) != length:
                problems[index] = (f'annotation id {ann_id}: `keypoints` has length '
                                   f'{len(kpts)}, expected {length} ({num_keypoints} '
                                   'keypoints x (x, y, v))')
            elif not isinstance(bbox, (list, tuple)) or len(bbox) != 4:
                problems[index] = _bad_bbox(ann_id, bbox)
            else:
                rows.append(index)
                keypoints.append(kpts)
                bboxes.append(bbox)
        if not rows:
            continue
        box = _as_floats(bboxes).reshape(-1, 4)
        kpt = _as_floats(keypoints).reshape(-1, num_keypoints, 3)
        bad_box = ~np.isfinite(box).all(axis=1)
        bad_xy = ~np.isfinite(kpt[..., :2]).all(axis=2)  # (R, K)
        bad_point = bad_xy | ~np.isin(kpt[..., 2], (0, 1, 2))
        for row in np.flatnonzero(bad_box | bad_point.any(axis=1)).tolist():
            index = rows[row]
            ann_id = annotations[index].get('id', '?')
            if bad_box[row]:
                problems[index] = _bad_bbox(ann_id, bboxes[row])
                continue
            point = int(np.argmax(bad_point[row]))  # the first bad keypoint
            x, y, v = keypoints[row][3 * point:3 * point + 3]
            problems[index] = (
                f'annotation id {ann_id}: `keypoints` of keypoint {point} has x, y = '
                f'{x!r}, {y!r}, expected finite numbers' if bad_xy[row, point] else
                f'annotation id {ann_id}: `keypoints` of keypoint {point} has visibility '
                f'{v!r}, expected 0, 1 or 2')
    return dict(sorted(problems.items()))


def _bad_bbox(ann_id: object, bbox: object) -> str:
    return f'annotation id {ann_id}: `bbox` is {bbox!r}, expected four finite numbers [x, y, w, h]'


def bad_annotations_error(problems: Dict[int, str], num_keypoints: int, path: str,
                          dataset_name: str) -> AnnotationFileError:
    """The error listing every unparsable annotation of a file.

    Listing them all says at once whether one person or the whole file is
    broken (e.g. a file of another keypoint layout).

    Args:
        problems (dict[int, str]): :func:`find_bad_annotations` of the file
        num_keypoints (int): The keypoint number K of the dataset
        path (str): The annotation file, for the message
        dataset_name (str): The dataset class, for the message

    Returns:
        AnnotationFileError: The error to raise
    """
    listed = list(problems.values())
    hint = (' Check that `ann_file` belongs to this dataset type (or set '
            '`metainfo` to the right keypoint layout), or fix or remove these '
            'annotations.' if any('has length' in p for p in listed) else
            ' Fix or remove these annotations: a non-finite value would train '
            'into NaN weights.')
    return AnnotationFileError(
        f'{len(listed)} annotation(s) in `{path}` (config field `ann_file`) '
        f'do not fit {dataset_name} ({num_keypoints} keypoints): '
        f'{shorten(listed, 3)}.{hint}')


def _describe_bad_image(image: object) -> Optional[str]:
    """Say why an ``images`` record is unusable, if it is."""
    if not isinstance(image, dict):
        return f'an `images` entry is a {type(image).__name__} ({_clip(image)}), not a dict'
    image_id = image.get('id', '?')
    if not _is_id(image.get('id')):
        return f'an `images` entry has `id` {_clip(image.get("id"))}, expected an int or string'
    if not isinstance(image.get('file_name'), str):
        return (f'image id {image_id}: `file_name` is {_clip(image.get("file_name"))}, '
                'expected a string')
    for key in ('width', 'height'):
        value = image.get(key)
        if not (_is_number(value) and math.isfinite(value) and value > 0):
            return (f'image id {image_id}: `{key}` is {_clip(value)}, expected a positive '
                    'number')
    return None


def _describe_bad_fields(ann: object) -> Optional[str]:
    """Say why an ``annotations`` record's ids, counts or flags are unusable, if they are."""
    if not isinstance(ann, dict):
        return f'an `annotations` entry is a {type(ann).__name__} ({_clip(ann)}), not a dict'
    if not _is_id(ann.get('id')):
        return (f'an annotation ({_clip(ann)}) has `id` {_clip(ann.get("id"))}, expected an '
                'int or string')
    ann_id = ann['id']
    for key in ('image_id', 'category_id'):
        if key not in ann and key == 'category_id' and 'keypoints' not in ann:
            continue
        if not _is_id(ann.get(key)):
            return (f'annotation id {ann_id}: `{key}` is {_clip(ann.get(key))}, expected an '
                    'int or string')
    for key, check, expected in (
            ('num_keypoints', lambda v: isinstance(v, int) and not isinstance(v, bool)
             and v >= 0, 'a non-negative int'),
            ('area', lambda v: _is_number(v) and math.isfinite(v) and v >= 0,
             'a non-negative number'),
            ('iscrowd', lambda v: v in (0, 1) and not isinstance(v, float), '0 or 1')):
        if key in ann and not check(ann[key]):
            return f'annotation id {ann_id}: `{key}` is {_clip(ann[key])}, expected {expected}'
    return None


def find_bad_records(dataset: object, num_keypoints: int) -> List[str]:
    """Every unusable ``images`` and ``annotations`` record of a parsed COCO file.

    Used to explain a failure of the stock loader, which indexes and converts the
    records without checking them (a missing ``image_id`` fails as a bare
    ``KeyError`` inside ``xtcocotools``, a text ``area`` as a ``ValueError``).

    Args:
        dataset (object): The parsed annotation file
        num_keypoints (int): The keypoint number K of the dataset

    Returns:
        list[str]: One description per bad record (empty if none is found)
    """
    if not isinstance(dataset, dict):
        return [f'the file holds a {type(dataset).__name__}, not a JSON object']
    problems = []
    images, annotations = dataset.get('images', []), dataset.get('annotations', [])
    for key, records in (('images', images), ('annotations', annotations)):
        if not isinstance(records, list):
            problems.append(f'`{key}` is a {type(records).__name__}, not a list')
    if isinstance(images, list):
        problems.extend(p for p in map(_describe_bad_image, images) if p)
    if isinstance(annotations, list):
        values = find_bad_annotations(annotations, num_keypoints)
        for index, ann in enumerate(annotations):
            problem = _describe_bad_fields(ann) or values.get(index)
            if problem:
                problems.append(problem)
    return problems


def check_annotation_list(annotations: Sequence[dict], path: str) -> None:
    """Raise on file-level problems of a GT annotation list.

    An empty list would give a dataset without samples (and a bare
    ``need at least one array to concatenate`` much later); repeated
    annotation ids make ``xtcocotools`` keep only the last annotation of
    each id, so persons vanish from training and evaluation unnoticed.

    Args:
        annotations (Sequence[dict]): The ``annotations`` of the file
        path (str): The annotation file, for the message

    Raises:
        AnnotationFileError: If the list is empty or ids repeat
    """
    if not annotations:
        raise AnnotationFileError(
            f'Annotation file `{path}` (config field `ann_file`) has an empty '
            '`annotations` list: no person to train or evaluate on. Check '
            'that `ann_file` is the person keypoints file of this split, or, '
            'to test with detector boxes on images without annotations, set '
            '`bbox_file`.')
    counts = Counter(ann.get('id') for ann in annotations)
    repeated = sorted((ann_id for ann_id, num in counts.items() if num > 1),
                      key=str)
    if repeated:
        lost = sum(counts[ann_id] - 1 for ann_id in repeated)
        raise AnnotationFileError(
            f'Annotation file `{path}` (config field `ann_file`) repeats '
            f'annotation ids (field `id`): {shorten([repr(i) for i in repeated])}'
            f'; {lost} annotation(s) would silently replace others. Give '
            'every annotation its own `id`.')


def person_category_ids(categories: Sequence[dict]) -> List[int]:
    """The ids of the categories named ``person`` in a COCO file.

    Args:
        categories (Sequence[dict]): The file's ``categories``

    Returns:
        list[int]: Their ids; ``[1]`` (COCO's person) when the file declares
        no category named ``person``
    """
    ids = [cat.get('id') for cat in categories
           if str(cat.get('name', '')).lower() == 'person']
    return ids or [1]


def names_a_person_category(categories: Sequence[dict]) -> bool:
    """Whether a COCO file's ``categories`` name one ``person`` (a file of
    persons, whose other categories are skipped); AP-10K's species or
    Animal-Pose's animals name none, and all their categories are kept."""
    return any(str(cat.get('name', '')).lower() == 'person' for cat in categories)


def split_by_category(items: Sequence[dict], person_ids: Sequence[int],
                      get_category: Callable[[dict], object]) -> Tuple[List[dict], Counter]:
    """Keep the items of the person categories; count the others per id.

    Args:
        items (Sequence[dict]): Annotations or parsed instances
        person_ids (Sequence[int]): The person category ids
        get_category (callable): Reads an item's category id

    Returns:
        tuple: the kept items and a :class:`Counter` of skipped category ids
    """
    kept, skipped = [], Counter()
    for item in items:
        category = get_category(item)
        if category in person_ids:
            kept.append(item)
        else:
            skipped[category] += 1
    return kept, skipped


def describe_skipped_categories(skipped: Counter,
                                categories: Sequence[dict]) -> str:
    """e.g. ``"3 of category 18 (dog), 1 of category 2 (not declared)"``."""
    names = {cat.get('id'): cat.get('name') for cat in categories}
    return ', '.join(
        f'{num} of category {cat} '
        f'({names[cat] if cat in names else "not declared"})'
        for cat, num in sorted(skipped.items(), key=lambda item: str(item[0])))


# ---------------------------------------------------------------------------------------------
# Detection files


def describe_bad_detection(record: object) -> Optional[str]:
    """Say why a detection record is not one the stock test loader can read, if it is not.

    MMPose's loader of ``bbox_file`` reads ``image_id``, ``bbox`` (the first
    four numbers, as ``[x, y, w, h]``) and ``score`` of every record, and
    ``category_id`` (here optional: absent means a person). A record needs
    ``image_id`` (an int or string), ``bbox`` of exactly four numbers (a fifth
    means another format, e.g. a score or corners) and a number ``score``.
    Values (NaN, a box of no size) are judged per box, not here.

    Args:
        record (object): One entry of the parsed file

    Returns:
        str | None: The problem, e.g. ``'has `bbox` [1, 2, 3], expected ...'``,
        or ``None`` if the record is fine
    """
    if not isinstance(record, dict):
        return f'is a {type(record).__name__} ({_clip(record)}), not a dict'
    missing = [key for key in ('image_id', 'bbox', 'score') if key not in record]
    if missing:
        return f'({_clip(record)}) lacks {", ".join(f"`{key}`" for key in missing)}'
    for key in ('image_id', 'category_id'):
        if key in record and not _is_id(record[key]):
            return f'has `{key}` {_clip(record[key])}, expected an int or a string'
    bbox = record['bbox']
    if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
            or not all(_is_number(v) for v in bbox)):
        return f'has `bbox` {_clip(bbox)}, expected 4 numbers [x, y, w, h]'
    if not _is_number(record['score']):
        return f'has `score` {_clip(record["score"])}, expected a number'
    return None


def read_detection_file(path: str, field: str = BBOX_FILE) -> List[dict]:
    """Load a detection results file, checking it and every record.

    Args:
        path (str): The file (local path or URI)
        field (str): What names it, for the messages. Defaults to the data
            sets' config field

    Returns:
        list[dict]: Its records, as parsed (at least one)

    Raises:
        DetectionFileError: Naming the file and, for a malformed record, its
            index: the file is no JSON list of records or is empty, or a record
            breaks :func:`describe_bad_detection`
    """
    dets = load_json_file(path, field, DetectionFileError)
    where = f'Detection file `{path}` ({field})'
    if not isinstance(dets, list):
        hint = (' It looks like a COCO annotation file: pass it as '
                '`ann_file`, and the detector output as `bbox_file`.'
                if isinstance(dets, dict) and 'images' in dets else '')
        raise DetectionFileError(
            f'{where} must hold a JSON list of detections, each {DETECTION_FORMAT}, but '
            f'holds a {type(dets).__name__}.{hint}')
    if not dets:
        raise DetectionFileError(
            f'{where} holds no detections (an empty list). Rerun the person '
            'detector on the images, or check that it wrote its results to this file.')
    malformed = [f'record {index} {problem}' for index, problem in
                 enumerate(map(describe_bad_detection, dets)) if problem]
    if malformed:
        raise DetectionFileError(
            f'{where}: {len(malformed)} of {len(dets)} records are not detections '
            f'{DETECTION_FORMAT}: {shorten(malformed, 3)}.')
    return dets


def drop_unusable_detections(dets: List[dict], image_ids: Iterable,
                             bbox_file: str, ann_file: str
                             ) -> Tuple[List[dict], Dict[str, int]]:
    """Drop the detections no sample can be made of, counting them per reason.

    A box may start slightly outside the image (detectors do that); it is
    clipped later.

    Args:
        dets (list[dict]): Records passing :func:`describe_bad_detection`
        image_ids (Iterable): The image ids of the annotation file
        bbox_file (str): The detection file, for messages
        ann_file (str): The annotation file, for messages

    Returns:
        tuple:
        - list[dict]: The kept detections, unchanged, except that a missing
          ``category_id`` is filled in as 1 (person) on a copy
        - dict[str, int]: Dropped box count per reason, in the order of
          :data:`DROP_REASONS`

    Raises:
        DetectionFileError: If no box is on an image of the annotation file,
            or none is left
    """
    known = set(image_ids)
    dropped = OrderedDict((reason, 0) for reason in DROP_REASONS)
    kept, unknown = [], []
    for det in dets:
        reason = None
        x, y, w, h = det['bbox']
        if det.get('category_id', 1) != 1:
            reason = 'non-person category'
        elif det['image_id'] not in known:
            reason = 'unknown image id'
            unknown.append(det['image_id'])
        elif not math.isfinite(det['score']):
            reason = 'non-finite score'
        elif not all(math.isfinite(v) for v in (x, y, w, h)):
            reason = 'non-finite box'
        elif w <= 0 or h <= 0:
            reason = 'non-positive width or height'
        if reason:
            dropped[reason] += 1
        elif 'category_id' in det:
            kept.append(det)
        else:
            # "When present": a file without categories holds persons only.
            kept.append(dict(det, category_id=1))

    num_person = len(dets) - dropped['non-person category']
    if num_person and dropped['unknown image id'] == num_person:
        raise DetectionFileError(
            f'None of the {num_person} person boxes in `{bbox_file}` (config '
            'field `bbox_file`) is on an image of the annotation file '
            f'`{ann_file}` (config field `ann_file`): detection image ids '
            f'{shorten([repr(i) for i in sorted(set(unknown), key=str)])}; '
            'annotation image ids '
            f'{shorten([repr(i) for i in sorted(known, key=str)])}.'
            f'{_id_type_hint(unknown, known)} Check that both files belong '
            'to the same split (e.g. val2017).')
    if not kept:
        raise DetectionFileError(
            f'Detection file `{bbox_file}` (config field `bbox_file`) has no usable person '
            f'box left: {len(dets)} boxes, dropped {format_counts(dropped)}. Check the '
            'detector output.')
    return kept, dropped


def warn_suspicious_detections(dets: Sequence[dict], bbox_file: str,
                               image_sizes: Dict[object, Tuple[float, float]]) -> None:
    """Warn when usable detections look like another format than COCO results.

    Two mistakes pass every per-box check and change the AP silently: boxes
    written as ``[x1, y1, x2, y2]`` instead of ``[x, y, w, h]`` (then nearly
    every "width" exceeds x, and many boxes overrun the image), and scores
    in percent (then ``bbox_score_thr`` keeps nearly every box).

    Args:
        dets (Sequence[dict]): The kept detections
        bbox_file (str): The detection file, for the message
        image_sizes (dict): ``image_id`` -> (width, height) of the images
    """
    if not dets:
        return
    where = f'Detection file `{bbox_file}` (config field `bbox_file`)'
    max_score = max(det['score'] for det in dets)
    if max_score > 1:
        print_log(
            f'{where} has scores up to {max_score:g}, above 1: they look like '
            'percentages. Box score thresholds (`filter_cfg.bbox_score_thr`) and '
            'the pose scores use them as they are; divide them by 100 if so.',
            logger='current', level=logging.WARNING)
    sized = [(det['bbox'], image_sizes[det['image_id']]) for det in dets
             if det['image_id'] in image_sizes]
    if len(sized) < 5:
        return
    corner_like = sum(w > x and h > y for (x, y, w, h), _ in sized) / len(sized)
    overrun = sum(x + w > 1.05 * img_w or y + h > 1.05 * img_h
                  for (x, y, w, h), (img_w, img_h) in sized) / len(sized)
    if corner_like >= 0.9 and overrun >= 0.2:
        print_log(
            f'{where} looks like [x1, y1, x2, y2] boxes: {overrun:.0%} of them '
            'overrun their image when read as [x, y, w, h] (the COCO results '
            'format). Convert them to [x, y, w - x, h - y] if so.',
            logger='current', level=logging.WARNING)


def _id_type_hint(det_ids: Sequence, image_ids: Iterable) -> str:
    """A hint if detection and image ids differ only by type ("1" vs 1)."""
    as_text = {str(image_id) for image_id in image_ids}
    if any(str(det_id) in as_text for det_id in det_ids):
        return (' Some ids differ only by type (e.g. "785" vs 785): write '
                'the detection `image_id`s as in the annotation file.')
    return ''


def format_counts(counts: Dict[str, int]) -> str:
    """Format counts per reason, e.g. ``"2 non-finite score, 0 ..."``."""
    return ', '.join(f'{num} {reason}' for reason, num in counts.items())


# ---------------------------------------------------------------------------------------------
# Images


def check_images_exist(img_paths: Iterable[str], ann_file: str,
                       data_root: Optional[str], img_prefix: str) -> None:
    """Raise if images that samples need are absent on the local disk.

    Only the images of kept samples are checked: annotation files may list
    images that hold no usable person, and subsets of COCO leave those out.
    Remote paths (``s3://`` etc.) are not checked; asking the backend for
    every image would be slow.

    Args:
        img_paths (Iterable[str]): The ``img_path`` of every kept sample
        ann_file (str): The annotation file, for the message
        data_root (str, optional): The ``data_root`` config field
        img_prefix (str): ``data_prefix['img']``, joined with ``data_root``

    Raises:
        MissingImagesError: If any local image is absent
        UndecodableImageError: If any is empty (0 bytes)
    """
    unique = list(OrderedDict.fromkeys(img_paths))
    missing, empty = [], []
    for path in unique:
        if not is_local_path(path):
            continue
        # One stat per image (as osp.isfile, following links): a COCO-scale
        # training set has 64,000 of them.
        try:
            status = os.stat(path)
        except (OSError, ValueError):
            missing.append(path)
            continue
        if not stat.S_ISREG(status.st_mode):
            missing.append(path)
        elif status.st_size == 0:
            empty.append(path)
    if empty:
        raise UndecodableImageError(
            f'{len(empty)} of the {len(unique)} images needed by the samples of '
            f'`{ann_file}` are empty (0 bytes): {shorten(empty)}. An interrupted '
            'download or copy leaves such files; download them again (config '
            f"fields `data_root`={data_root!r}, `data_prefix['img']`={img_prefix!r}).")
    if missing:
        names = [osp.basename(path) for path in missing]
        raise MissingImagesError(
            f'{len(missing)} of the {len(unique)} images needed by the '
            f'samples of `{ann_file}` are missing: {shorten(names)} (first '
            f'missing path: `{missing[0]}`). Images are looked up in '
            f'`data_prefix[\'img\']` joined with `data_root` = `{img_prefix}` '
            f'(data_root={data_root!r}); check both config fields, or '
            'download the images.')


# ---------------------------------------------------------------------------------------------
# The checks of one data set


def _category_of(info: Dict) -> object:
    """A parsed instance's category id (a numpy scalar from the COCO parser, an
    int from COCO-WholeBody's); 1 (person) where the stock parser keeps none
    (COCO-WholeBody's face and hand subsets parse persons' parts only)."""
    category = info.get('category_id', 1)
    return category.item() if isinstance(category, np.ndarray) else category


def _has_no_area(info: Dict) -> bool:
    """Whether a parsed instance's (1, 4) xyxy box has no positive area."""
    bbox = info.get('bbox')
    if bbox is None:
        return False
    x1, y1, x2, y2 = bbox[0]
    return x2 - x1 <= 0 or y2 - y1 <= 0  # the stock validity test's


class DatasetInputChecks:
    """The input checks of one COCO-style data set, called where it reads its inputs.

    A ``MultiInstance<Name>`` data set makes one per load (its paths are
    final then) and calls it around the stock loading:

    - :meth:`reading_annotations` around the stock parse of ``ann_file``, and
      :meth:`check_annotation` on each annotation the stock parser reads;
      :meth:`check_loaded_annotations` and :meth:`keep_persons` on the result;
    - :meth:`log_boxless` on the persons the stock top-down filter dropped;
    - :meth:`detections` in place of the stock reading of ``bbox_file``;
    - :meth:`check_images_exist` after filtering, and :meth:`explain_image`
      when a sample's pipeline fails.

    Args:
        dataset_name (str): The data set class, for the messages
        ann_file (str): The annotation file (joined with ``data_root``)
        bbox_file (str, optional): The detection file
        data_root (str, optional): The ``data_root`` config field
        img_prefix (str): ``data_prefix['img']`` (joined with ``data_root``)
        num_keypoints (int): The keypoint number K of the data set
    """

    def __init__(self, dataset_name: str, ann_file: str, bbox_file: Optional[str],
                 data_root: Optional[str], img_prefix: str, num_keypoints: int) -> None:
        self.dataset_name = dataset_name
        self.ann_file = ann_file
        self.bbox_file = bbox_file
        self.data_root = data_root
        self.img_prefix = img_prefix
        self.num_keypoints = num_keypoints
        # The annotation list last checked and its bad annotations (by id():
        # the stock loader hands over the file's own dicts); set on the first
        # check_annotation call of a load, cleared when reading_annotations ends.
        self._checked: Optional[Sequence[dict]] = None
        self._bad: Set[int] = set()
        self._problems: Dict[int, str] = {}

    def require_ann_file(self) -> None:
        """Raise if ``ann_file`` does not exist, naming the fields to check."""
        require_file(
            self.ann_file, 'Annotation file', 'ann_file',
            f'It is `ann_file` joined with `data_root` (data_root={self.data_root!r}); check '
            'both fields, or download the annotations (docs/data.md says where each file '
            'comes from).')

    def require_bbox_file(self) -> None:
        """Raise if ``bbox_file`` does not exist, naming the field."""
        require_file(
            self.bbox_file, 'Detection file', 'bbox_file',
            'Unlike `ann_file` it is not joined with `data_root`: give it '
            'absolute or relative to the working directory, or run the '
            'person detector to create it.')

    @contextmanager
    def reading_annotations(self, coco_file: bool, coco_records: bool) -> Iterator[None]:
        """Explain a failure of the stock loading of ``ann_file`` inside the block.

        A JSON parse error names the file and the likely truncation. For the
        stock COCO-file loader (``coco_file``), ``xtcocotools``' assertion
        that the JSON is an object becomes :func:`not_a_coco_dict_error`, and,
        with the stock COCO parser (``coco_records``), a bare ``KeyError`` /
        ``TypeError`` / ... on a malformed record becomes an error naming the
        records (:func:`find_bad_records`).

        Args:
            coco_file (bool): The stock loader reads a COCO file (``self.coco``)
            coco_records (bool): The stock parser reads COCO keypoints (K*3)
        """
        try:
            with explain_json_errors(self.ann_file, ANN_FILE, AnnotationFileError):
                yield
        except AssertionError as err:
            # xtcocotools asserts that the JSON is an object, naming only its
            # type; anything else asserted is not ours to reword.
            message = str(err)
            if not coco_file or 'annotation file format' not in message:
                raise
            kind = message.split("'")[1] if message.count("'") >= 2 else '?'
            raise not_a_coco_dict_error(kind, self.ann_file) from err
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            if isinstance(err, DatasetInputError) or not (coco_file and coco_records):
                raise
            raw = load_json_file(self.ann_file, ANN_FILE, AnnotationFileError)
            problems = find_bad_records(raw, self.num_keypoints)
            if not problems:
                raise
            raise AnnotationFileError(
                f'{len(problems)} record(s) of `{self.ann_file}` ({ANN_FILE}) are malformed: '
                f'{shorten(problems, 3)}. Fix or remove them (the stock loader failed on '
                f'them with {type(err).__name__}: {err}).') from err
        finally:
            self._checked, self._bad, self._problems = None, set(), {}

    def check_annotation(self, ann: dict, annotations: Optional[Sequence[dict]]) -> None:
        """Raise, listing every bad annotation of the file, if ``ann`` is one.

        The stock parser reshapes ``keypoints`` to (1, -1, 3): a wrong length
        either fails there with a bare reshape error or, worse, passes with a
        wrong K and fails in a transform much later. All of ``annotations``
        are checked at once on the first call (:func:`find_bad_annotations`),
        so the same annotations fail, at the same point, as when each were
        checked on its own, in a fraction of the time.

        Args:
            ann (dict): The raw annotation the stock parser is given
            annotations (Sequence[dict], optional): All annotations of the file
                (``ann`` among them); ``None`` checks ``ann`` alone
        """
        if annotations is None:
            annotations = [ann]
        if annotations is not self._checked:
            self._checked = annotations
            self._problems = find_bad_annotations(annotations, self.num_keypoints)
            self._bad = {id(annotations[index]) for index in self._problems}
        if id(ann) in self._bad:
            raise bad_annotations_error(self._problems, self.num_keypoints, self.ann_file,
                                        self.dataset_name)

    def check_loaded_annotations(self, dataset: dict) -> None:
        """Raise on file-level problems of the parsed ``ann_file``.

        Without ``images`` or ``annotations`` xtcocotools builds an empty
        index and the data set would silently have no samples; see also
        :func:`check_annotation_list`.

        Args:
            dataset (dict): The parsed file (``coco.dataset``)
        """
        check_coco_keys(dataset, self.ann_file, ('images', 'annotations'))
        check_annotation_list(dataset['annotations'], self.ann_file)

    def keep_persons(self, instance_list: List[dict],
                     categories: Sequence[dict]) -> List[dict]:
        """Drop the parsed instances of other categories, with a logged count.

        The stock loader takes every annotation as a person, whatever its
        ``category_id``. A file of persons (one that names a category
        ``person``, or declares none: COCO's id 1) keeps only those; a file
        whose categories are all something else (AP-10K's species, AnimalPose's
        cat and dog, OneHand10K's hand, WFLW's face) keeps all, as the stock
        loader does: they are the data set's subjects.

        Args:
            instance_list (list[dict]): The parsed instances
            categories (Sequence[dict]): The file's ``categories``

        Returns:
            list[dict]: The kept instances
        """
        if categories and not names_a_person_category(categories):
            return instance_list
        kept, skipped = split_by_category(instance_list, person_category_ids(categories),
                                          _category_of)
        if skipped:
            described = describe_skipped_categories(skipped, categories)
            if not kept:
                raise AnnotationFileError(
                    f'Annotation file `{self.ann_file}` (config field `ann_file`) has no '
                    f'person annotation: {described}. {self.dataset_name} trains and '
                    "evaluates the category named 'person' (id 1 when none is named so).")
            print_log(
                f'{self.dataset_name}: skipped {sum(skipped.values())} annotation(s) of '
                f'`{self.ann_file}` that are not persons: {described}.',
                logger='current', level=logging.WARNING)
        return kept

    def log_boxless(self, dropped: Iterable[dict],
                    is_valid_instance: Callable[[dict], bool]) -> None:
        """Log the persons the stock top-down filter dropped for their box alone.

        The stock filter drops persons whose box, clipped to the image, has no
        area: otherwise they would silently vanish from training.

        Args:
            dropped (Iterable[dict]): The parsed instances the filter dropped
            is_valid_instance (callable): The stock validity test; asked
                without the box, it tells those that would have been samples
        """
        no_area = [
            info['id'] for info in dropped
            if _has_no_area(info) and is_valid_instance(
                {k: v for k, v in info.items() if k != 'bbox'})
        ]
        if no_area:
            print_log(
                f'{self.dataset_name}: skipped {len(no_area)} person(s) of '
                f'`{self.ann_file}` whose box has non-positive width or '
                'height (after clipping to the image), annotation ids '
                f'{shorten(no_area)}; fix their `bbox` to keep them.',
                logger='current', level=logging.WARNING)

    def detections(self) -> Tuple[List[dict], Dict[object, dict], List[dict]]:
        """Read and check ``bbox_file`` and the images of ``ann_file``.

        File-level problems and malformed records raise
        (:func:`read_detection_file`); unusable boxes are dropped
        (:func:`drop_unusable_detections`) with a logged count.

        Returns:
            tuple:
            - list[dict]: The usable person detections, in file order
            - dict: ``image_id`` -> the ``images`` record of ``ann_file``
            - list[dict]: The ``categories`` of ``ann_file``
        """
        self.require_ann_file()
        self.require_bbox_file()
        dets = read_detection_file(self.bbox_file)
        annotations = load_json_file(self.ann_file, ANN_FILE, AnnotationFileError)
        check_coco_keys(annotations, self.ann_file, ('images', ))
        if not isinstance(annotations['images'], list):
            raise AnnotationFileError(
                f'Annotation file `{self.ann_file}` ({ANN_FILE}) has `images` of type '
                f"{type(annotations['images']).__name__}, expected a list.")
        images = {image['id']: image for image in annotations['images']
                  if isinstance(image, dict) and _is_id(image.get('id'))}
        kept, dropped = drop_unusable_detections(dets, images, self.bbox_file, self.ann_file)
        bad_images = list(OrderedDict.fromkeys(
            problem for problem in (_describe_bad_image(images[det['image_id']])
                                    for det in kept) if problem))
        if bad_images:
            raise AnnotationFileError(
                f'{len(bad_images)} `images` record(s) of `{self.ann_file}` (config field '
                f'`ann_file`) that detections of `{self.bbox_file}` are on are malformed: '
                f'{shorten(bad_images, 3)}. Fix them.')
        warn_suspicious_detections(kept, self.bbox_file, {
            image_id: (image['width'], image['height']) for image_id, image in images.items()
            if 'width' in image and 'height' in image})
        level = logging.WARNING if len(kept) < len(dets) else logging.INFO
        print_log(
            f'{self.dataset_name}: kept {len(kept)} of {len(dets)} boxes from '
            f'`{self.bbox_file}`; dropped {format_counts(dropped)}.',
            logger='current', level=level)
        return kept, images, annotations.get('categories', [])

    def check_images_exist(self, img_paths: Iterable[str]) -> None:
        """Raise if images of kept samples are absent (see :func:`check_images_exist`)."""
        check_images_exist(img_paths, self.ann_file, self.data_root, self.img_prefix)

    def explain_image(self, img_path: Optional[str], index: int) -> None:
        """Raise :class:`UndecodableImageError` if a failed sample's image is broken.

        Called after the pipeline failed on a sample, to tell a broken image
        file (which the stock ``LoadImage`` reports as a bare ``cv2.error`` or
        ``failed to load image``) from any other failure.

        Args:
            img_path (str, optional): The sample's ``img_path``
            index (int): The sample's index, for the message
        """
        if not img_path:
            return
        where = (f"sample {index} of {self.dataset_name}, `ann_file` {self.ann_file}; config "
                 "fields `data_root`, `data_prefix['img']`")
        try:
            content = get(img_path)
        except Exception as err:  # a vanished or unreadable file
            raise UndecodableImageError(
                f'Cannot read image `{img_path}` ({where}): {err}') from err
        image = None
        if content:
            image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            kind = 'is empty (0 bytes)' if not content else (
                f'is not a decodable image ({len(content)} bytes: truncated, or another '
                'file type under an image name)')
            raise UndecodableImageError(
                f'Image `{img_path}` {kind} ({where}). Download or copy it again, or '
                'remove its annotations.')
