"""Early, explained failures for bad dataset inputs.

The stock COCO-style loader trusts its inputs: a truncated JSON fails with a
bare ``JSONDecodeError`` that names no file, a keypoint array of the wrong
length with a ``reshape`` error, a detection on an unknown image with a
``KeyError`` inside ``xtcocotools``, and a missing image only once the data
loader reaches it, hours into training. The helpers here check the inputs
before (or right after) the stock code reads them, so that every bad input
either raises an error naming the file, the config field and the fix, or, for
individual bad persons or boxes, is dropped with a logged count.

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
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Type

import numpy as np
from mmengine.fileio import exists, load
from mmengine.logging import print_log

# Reasons a detection box is dropped, in the order they are tested; a box is
# counted under the first reason that applies.
DROP_REASONS = ('non-person category', 'unknown image id', 'non-finite score',
                'non-finite box', 'non-positive width or height')

# How many offending ids or file names a message lists before eliding.
SHOWN = 5


class DatasetInputError(ValueError):
    """An input file of a dataset exists but its content is unusable."""


class AnnotationFileError(DatasetInputError):
    """The annotation file (``ann_file``) is malformed."""


class DetectionFileError(DatasetInputError):
    """The detection results file (``bbox_file``) is malformed or unusable."""


class DatasetFileNotFoundError(FileNotFoundError):
    """A file named by the dataset config does not exist."""


class MissingImagesError(DatasetFileNotFoundError):
    """Images that kept samples need are absent on disk."""


class UnreadableImageError(DatasetInputError):
    """An image file exists but cannot be decoded (empty, truncated, not an image)."""


def check_image_decodes(img_path: str, where: str) -> None:
    """Raise :class:`UnreadableImageError` if ``img_path`` is no decodable image.

    Called after the pipeline failed on a sample, to tell a broken image file
    (which the stock ``LoadImage`` reports as a bare ``cv2.error`` or
    ``failed to load image``) from any other failure.

    Args:
        img_path (str): The image file
        where (str): What uses it, e.g. the dataset and config fields
    """
    import cv2
    from mmengine.fileio import get
    try:
        content = get(img_path)
    except Exception as err:  # a vanished or unreadable file
        raise UnreadableImageError(f'Cannot read image `{img_path}` ({where}): {err}') from err
    image = None
    if content:
        image = cv2.imdecode(np.frombuffer(content, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        kind = 'is empty (0 bytes)' if not content else (
            f'is not a decodable image ({len(content)} bytes: truncated, or another '
            'file type under an image name)')
        raise UnreadableImageError(
            f'Image `{img_path}` {kind} ({where}). Download or copy it again, or '
            'remove its annotations.')


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
        field (str): The config field that names it
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
            f'Cannot parse `{path}` (config field `{field}`) as JSON: '
            f'{err.msg} (line {err.lineno} column {err.colno}, char '
            f'{err.pos} of {len(err.doc)}); {cause}, e.g. by an interrupted '
            'download or write. Download or regenerate it.') from err
    except UnicodeDecodeError as err:
        raise error_cls(
            f'Cannot read `{path}` (config field `{field}`) as JSON text: '
            f'{err}. Is it a JSON file at all (not an archive or image)?'
        ) from err


def load_json_file(path: str, field: str,
                   error_cls: Type[DatasetInputError]) -> object:
    """Load a JSON file, explaining parse errors.

    Args:
        path (str): Local path or URI of the file
        field (str): The config field that names it
        error_cls (type): The error to raise on a parse error

    Returns:
        object: The parsed JSON
    """
    with explain_json_errors(path, field, error_cls):
        # Explicit format: annotation files need not end in ``.json``.
        return load(path, file_format='json')


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


def _is_number(value: object) -> bool:
    """Whether ``value`` is a real number (bools are not)."""
    return isinstance(value, Real) and not isinstance(value, bool)


def describe_bad_annotation(ann: dict,
                            num_keypoints: int) -> Optional[str]:
    """Say why a COCO person annotation cannot be parsed, if it cannot.

    Only annotations the stock parser would read (with ``bbox`` and
    ``keypoints``) are checked; it skips the others itself.

    Args:
        ann (dict): A raw COCO annotation
        num_keypoints (int): The keypoint number K of the dataset

    Returns:
        str | None: The problem, or ``None`` if the annotation is fine
    """
    if 'bbox' not in ann or 'keypoints' not in ann:
        return None
    ann_id = ann.get('id', '?')
    keypoints = ann['keypoints']
    if not isinstance(keypoints, (list, tuple)):
        return (f'annotation id {ann_id}: `keypoints` is a '
                f'{type(keypoints).__name__}, expected a list')
    if len(keypoints) != 3 * num_keypoints:
        return (f'annotation id {ann_id}: `keypoints` has length '
                f'{len(keypoints)}, expected {3 * num_keypoints} '
                f'({num_keypoints} keypoints x (x, y, v))')
    bbox = ann['bbox']
    # A NaN box passes the stock validity test (NaN <= 0 is false) and
    # would become a sample with a NaN crop.
    if (not isinstance(bbox, (list, tuple)) or len(bbox) != 4
            or not all(_is_number(v) and math.isfinite(v) for v in bbox)):
        return (f'annotation id {ann_id}: `bbox` is {bbox!r}, expected four '
                'finite numbers [x, y, w, h]')
    # A NaN coordinate or flag trains silently into NaN weights, and a flag
    # outside {0, 1, 2} is no COCO visibility (the stock loader clips it).
    for index in range(num_keypoints):
        x, y, v = keypoints[3 * index:3 * index + 3]
        if not all(_is_number(c) and math.isfinite(c) for c in (x, y)):
            return (f'annotation id {ann_id}: `keypoints` of keypoint '
                    f'{index} has x, y = {x!r}, {y!r}, expected finite '
                    'numbers')
        if not _is_number(v) or v not in (0, 1, 2):
            return (f'annotation id {ann_id}: `keypoints` of keypoint '
                    f'{index} has visibility {v!r}, expected 0, 1 or 2')
    return None


# Annotations checked per block by find_bad_annotations: bounds the float64
# copy of the keypoints (about 3 MiB a block at K = 17).
_CHECK_BLOCK = 8192


def find_bad_annotations(annotations: Sequence[dict],
                         num_keypoints: int) -> List[int]:
    """Indices of the annotations :func:`describe_bad_annotation` rejects.

    The same result as calling :func:`describe_bad_annotation` on every
    annotation, in one vectorised pass: at COCO scale (150,000 persons, 8
    million numbers) the per-value Python checks took longer than the stock
    loading itself. Annotations whose ``bbox`` and ``keypoints`` are lists of
    the right length holding plain JSON numbers (``int`` or ``float``, so no
    ``bool``, text or ``None``) are checked as one array per block; the
    others, and those the array check rejects, go through
    :func:`describe_bad_annotation` itself, which has the final say.

    Args:
        annotations (Sequence[dict]): The raw annotations of a file
        num_keypoints (int): The keypoint number K of the dataset

    Returns:
        list[int]: The indices of the bad annotations, ascending
    """
    length = 3 * num_keypoints
    suspects: List[int] = []
    for begin in range(0, len(annotations), _CHECK_BLOCK):
        indices, keypoints, bboxes = [], [], []
        for index in range(begin, min(begin + _CHECK_BLOCK, len(annotations))):
            ann = annotations[index]
            if type(ann) is not dict:
                suspects.append(index)
                continue
            if 'bbox' not in ann or 'keypoints' not in ann:
                continue  # the stock parser skips it; so does the check
            kpts, bbox = ann['keypoints'], ann['bbox']
            if (type(kpts) is list and len(kpts) == length
                    and type(bbox) is list and len(bbox) == 4):
                indices.append(index)
                keypoints.append(kpts)
                bboxes.append(bbox)
            else:
                suspects.append(index)
        if not indices:
            continue
        # ``type`` and not ``isinstance``: a bool is an int to numpy but no
        # coordinate or flag to describe_bad_annotation.
        types = set(map(type, chain.from_iterable(keypoints)))
        types.update(map(type, chain.from_iterable(bboxes)))
        if not types <= {int, float}:
            suspects.extend(indices)
            continue
        try:
            # fromiter on the flat values: faster than np.array on the lists
            kpt = np.fromiter(chain.from_iterable(keypoints), dtype=np.float64,
                              count=len(indices) * length).reshape(-1, num_keypoints, 3)
            box = np.fromiter(chain.from_iterable(bboxes), dtype=np.float64,
                              count=len(indices) * 4).reshape(-1, 4)
        except OverflowError:  # an int beyond float64: let the exact check say
            suspects.extend(indices)
            continue
        good = (np.isfinite(box).all(axis=1)
                & np.isfinite(kpt[..., :2]).all(axis=(1, 2))
                & np.isin(kpt[..., 2], (0, 1, 2)).all(axis=1))
        suspects.extend(np.asarray(indices)[~good].tolist())
    return sorted(index for index in suspects
                  if describe_bad_annotation(annotations[index], num_keypoints))


def _is_id(value: object) -> bool:
    """Whether ``value`` can be a COCO id (an int or a string, not a bool)."""
    return isinstance(value, (int, str)) and not isinstance(value, bool)


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


def _describe_bad_record(ann: object, num_keypoints: int) -> Optional[str]:
    """Say why an ``annotations`` record is unusable, if it is (types and values)."""
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
    return describe_bad_annotation(ann, num_keypoints)


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
    for key, describe in (('images', _describe_bad_image),
                          ('annotations', lambda a: _describe_bad_record(a, num_keypoints))):
        records = dataset.get(key, [])
        if not isinstance(records, list):
            problems.append(f'`{key}` is a {type(records).__name__}, not a list')
            continue
        problems.extend(p for p in map(describe, records) if p)
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
                      get_category) -> Tuple[List[dict], Counter]:
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


def raise_bad_annotations(annotations: Iterable[dict], num_keypoints: int,
                          path: str, dataset_name: str) -> None:
    """Raise an error listing every unparsable annotation of a file.

    Called on the first bad annotation; scanning the whole file then says
    at once whether one person or the whole file is broken (e.g. a file of
    another keypoint layout).

    Args:
        annotations (Iterable[dict]): All raw annotations of the file
        num_keypoints (int): The keypoint number K of the dataset
        path (str): The annotation file, for the message
        dataset_name (str): The dataset class, for the message

    Raises:
        AnnotationFileError: Always
    """
    problems = [
        problem for problem in (describe_bad_annotation(ann, num_keypoints)
                                for ann in annotations) if problem
    ]
    wrong_length = any('has length' in problem for problem in problems)
    hint = (' Check that `ann_file` belongs to this dataset type (or set '
            '`metainfo` to the right keypoint layout), or fix or remove these '
            'annotations.' if wrong_length else
            ' Fix or remove these annotations: a non-finite value would train '
            'into NaN weights.')
    raise AnnotationFileError(
        f'{len(problems)} annotation(s) in `{path}` (config field `ann_file`) '
        f'do not fit {dataset_name} ({num_keypoints} keypoints): '
        f'{shorten(problems, 3)}.{hint}')


def clean_detections(dets: object, bbox_file: str, ann_file: str,
                     image_ids: Iterable) -> Tuple[List[dict], Dict[str, int]]:
    """Check detection results and drop the boxes that cannot be used.

    File-level problems (not a list of detection dicts, empty, no box on any
    image of the annotation file) raise; single unusable boxes are dropped
    and counted per reason (:data:`DROP_REASONS`). A box may start slightly
    outside the image (detectors do that); it is clipped later.

    Args:
        dets (object): The parsed detection file
        bbox_file (str): Its path, for messages
        ann_file (str): The annotation file, for messages
        image_ids (Iterable): The image ids of the annotation file

    Returns:
        tuple:
        - list[dict]: The kept detections, unchanged, except that a missing
          ``category_id`` is filled in as 1 (person) on a copy
        - dict[str, int]: Dropped box count per reason, in the order of
          :data:`DROP_REASONS`

    Raises:
        DetectionFileError: On a file-level problem
    """
    where = f'Detection file `{bbox_file}` (config field `bbox_file`)'
    if not isinstance(dets, list):
        hint = (' It looks like a COCO annotation file: pass it as '
                '`ann_file`, and the detector output as `bbox_file`.'
                if isinstance(dets, dict) and 'images' in dets else '')
        raise DetectionFileError(
            f'{where} must hold a JSON list of detections, each '
            '{"image_id", "bbox": [x, y, w, h], "score", "category_id"} '
            f'(COCO results format), but holds a {type(dets).__name__}.{hint}')
    if not dets:
        raise DetectionFileError(
            f'{where} holds no detections (an empty list). Rerun the person '
            'detector on the images of `ann_file`, or check that it wrote '
            'its results to this file.')

    malformed = []
    for index, det in enumerate(dets):
        problem = _describe_bad_detection(det)
        if problem:
            malformed.append(f'entry {index} {problem}')
    if malformed:
        raise DetectionFileError(
            f'{where} must be a list of dicts with `image_id`, `bbox` '
            '([x, y, w, h] numbers) and `score` (COCO results format), but '
            f'{len(malformed)} of {len(dets)} entries are not: '
            f'{shorten(malformed, 3)}.')

    known = set(image_ids)
    dropped = OrderedDict((reason, 0) for reason in DROP_REASONS)
    kept, unknown = [], []
    for det in dets:
        reason = None
        x, y, w, h = det['bbox'][:4]
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
            # "When present": a file without categories holds persons only;
            # the stock loader indexes the key unconditionally.
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
            f'{where} has no usable person box left: {len(dets)} boxes, '
            f'dropped {format_counts(dropped)}. Check the detector output.')
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


def _describe_bad_detection(det: object) -> Optional[str]:
    """Say why a detection entry is not a COCO result dict, if it is not."""
    if not isinstance(det, dict):
        return f'is a {type(det).__name__} ({_clip(det)}), not a dict'
    missing = [key for key in ('image_id', 'bbox', 'score') if key not in det]
    if missing:
        return (f'({_clip(det)}) lacks '
                f'{", ".join(f"`{key}`" for key in missing)}')
    for key in ('image_id', 'category_id'):
        if key in det and not _is_id(det[key]):
            return f'has `{key}` {_clip(det[key])}, expected an int or string'
    bbox = det['bbox']
    if (not isinstance(bbox, (list, tuple)) or len(bbox) < 4
            or not all(_is_number(v) for v in bbox[:4])):
        return f'has `bbox` {_clip(bbox)}, expected [x, y, w, h] numbers'
    if not _is_number(det['score']):
        return f'has `score` {_clip(det["score"])}, expected a number'
    return None


def _clip(value: object, length: int = 60) -> str:
    """``repr`` of a value, cut to ``length`` characters."""
    text = repr(value)
    return text if len(text) <= length else text[:length - 3] + '...'


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


def log_detection_summary(dataset_name: str, bbox_file: str, num_total: int,
                          num_kept: int, dropped: Dict[str, int]) -> None:
    """Log how many boxes of a detection file were kept and dropped why.

    Args:
        dataset_name (str): The dataset class
        bbox_file (str): The detection file
        num_total (int): Its number of entries
        num_kept (int): How many boxes were kept
        dropped (dict[str, int]): Dropped boxes per reason
    """
    level = logging.WARNING if num_kept < num_total else logging.INFO
    print_log(
        f'{dataset_name}: kept {num_kept} of {num_total} boxes from '
        f'`{bbox_file}`; dropped {format_counts(dropped)}.',
        logger='current', level=level)


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
        raise UnreadableImageError(
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
