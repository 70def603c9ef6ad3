"""Where :class:`~mipnet_mmpose.apis.MIPNetInferencer` writes, checked before it writes.

The inferencer writes MMPose's layout: ``vis_out_dir/<image file name>``
(picture), ``pred_out_dir/<image stem>.json`` (its pose records); for a video,
``vis_out_dir/<video file name>`` and ``pred_out_dir/<video stem>.json``
(``[{"frame_id", "instances"}]``); webcam: ``webcam.mp4`` / ``webcam.json``.
MMPose replaces whatever is there. Here, before the first input is run, every
output is checked with :mod:`mipnet_mmpose.utils.output_paths`: none may be
an input (or a file the run reads), two inputs may not share an output, and an
existing file is replaced only when it is this inferencer's earlier output
(a prediction JSON of pose records; a picture whose prediction JSON is one).
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

from ..utils.output_paths import (
    OutputPathError,
    check_not_an_input,
    check_out_dir,
    check_replaceable,
)

#: Keys every pose record of :func:`~mipnet_mmpose.apis.pose_records` has.
RECORD_KEYS = {'lambda', 'box_index', 'kept_after_nms'}


def is_prediction_file(path: str) -> bool:
    """Whether ``path`` is a prediction JSON this inferencer wrote (pose records)."""
    try:
        with open(path) as f:
            content = json.load(f)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    if not isinstance(content, list):
        return False
    # A video's file: [{"frame_id", "instances": [records]}].
    if all(isinstance(item, dict) and {'frame_id', 'instances'} <= set(item)
           for item in content):
        content = [r for item in content for r in item['instances']]
    return all(isinstance(r, dict) and RECORD_KEYS <= set(r) for r in content)


def planned_outputs(inputs: Sequence[object], video_name: Optional[str], vis_out_dir: str,
                    pred_out_dir: str) -> Dict[str, Optional[str]]:
    """Every file a run will write -> the prediction JSON that marks it as ours.

    Args:
        inputs (Sequence): The listed inputs (image files or arrays, named
            ``00000<i>.jpg`` as MMPose names them); ignored for a video.
        video_name (str, optional): The video's file name (``webcam.mp4``
            for a webcam); None for images.
        vis_out_dir (str): The pictures' folder (a video: folder or file);
            empty: none written.
        pred_out_dir (str): The prediction JSON's folder; empty: none.

    Raises:
        OutputPathError: When two inputs would write the same file.
    """
    names = [video_name] if video_name else [
        osp.basename(i) if isinstance(i, str) else f'{index}.jpg'.rjust(10, '0')
        for index, i in enumerate(inputs)]
    outputs: Dict[str, Optional[str]] = {}
    owners: Dict[str, str] = {}
    for index, name in enumerate(names):
        json_path = (osp.join(pred_out_dir, osp.splitext(name)[0] + '.json')
                     if pred_out_dir else None)
        planned = [json_path] if json_path else []
        if vis_out_dir:
            video_file = video_name and osp.splitext(vis_out_dir)[1]
            planned.append(vis_out_dir if video_file else osp.join(vis_out_dir, name))
        source = video_name or str(inputs[index])
        for path in planned:
            if path in owners:
                raise OutputPathError(f'{owners[path]} and {source} would both be written to '
                                      f'{path}: rename one')
            owners[path] = source
            outputs[path] = json_path
    return outputs


def check_outputs(inputs: Sequence[object], video_name: Optional[str], vis_out_dir: str,
                  pred_out_dir: str, reads: Sequence[Optional[str]] = ()) -> List[str]:
    """Refuse a run whose outputs would replace an input or a file it did not write.

    Args:
        inputs, video_name, vis_out_dir, pred_out_dir: See :func:`planned_outputs`.
        reads (Sequence[str | None]): Other files the run reads (config,
            checkpoint, detection file, the video itself).

    Returns:
        list[str]: The files the run will write.

    Raises:
        OutputPathError: Naming the file.
    """
    for folder in (pred_out_dir, vis_out_dir if not (video_name and
                                                     osp.splitext(vis_out_dir)[1]) else ''):
        if folder:
            check_out_dir(folder, what='output folder')
    outputs = planned_outputs(inputs, video_name, vis_out_dir, pred_out_dir)
    read = [i for i in inputs if isinstance(i, str)] + list(reads)
    for path, json_path in outputs.items():
        check_not_an_input(path, read, what='the output')
        check_replaceable(path, (lambda _, json_path=json_path: bool(json_path) and
                                 is_prediction_file(json_path)), what='the output')
    return list(outputs)
