"""Where :class:`~mipnet_mmpose.apis.MIPNetInferencer` writes, checked before it writes.

The inferencer writes MMPose's layout: ``vis_out_dir/<image file name>``
(picture), ``pred_out_dir/<image stem>.json`` (its pose records); for a video,
``vis_out_dir/<video file name>`` and ``pred_out_dir/<video stem>.json``
(``[{"frame_id", "instances"}]``); webcam: ``webcam.mp4`` / ``webcam.json``.
MMPose replaces whatever is there. Here, before the first input is run, every
output passes :func:`mipnet_mmpose.utils.output_paths.check_output`: none may
be an input (or a file the run reads) or a link out of its folder, two inputs
may not share an output, and an existing file is replaced only when the
folder's :class:`~mipnet_mmpose.utils.output_paths.OutputRecords` list it
with its present content (written by an earlier run, unchanged since).
"""
import os.path as osp
from typing import Dict, List, Optional, Sequence

from ..utils.output_paths import (
    Inputs,
    OutputPathError,
    OutputRecords,
    check_out_dir,
    check_output,
)


def planned_outputs(inputs: Sequence[object], video_name: Optional[str], vis_out_dir: str,
                    pred_out_dir: str) -> List[str]:
    """Every file a run will write.

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
    return list(owners)


def check_outputs(inputs: Sequence[object], video_name: Optional[str], vis_out_dir: str,
                  pred_out_dir: str, reads: Sequence[Optional[str]] = ()) -> OutputRecords:
    """Refuse a run whose outputs would replace an input or a file it did not write.

    Args:
        inputs, video_name, vis_out_dir, pred_out_dir: See :func:`planned_outputs`.
        reads (Sequence[str | None]): Other files the run reads (config,
            checkpoint, detection file, the video itself).

    Returns:
        OutputRecords: The records of the output folders, to which the run
        adds each file it writes (``add``).

    Raises:
        OutputPathError: Naming the file.
    """
    for folder in (pred_out_dir, vis_out_dir if not (video_name and
                                                     osp.splitext(vis_out_dir)[1]) else ''):
        if folder:
            check_out_dir(folder, what='output folder')
    outputs = planned_outputs(inputs, video_name, vis_out_dir, pred_out_dir)
    read = Inputs([i for i in inputs if isinstance(i, str)] + list(reads))
    records = OutputRecords()
    for path in outputs:
        check_output(path, read, records.owner, what='the output')
        records.check_folder(osp.dirname(osp.abspath(path)))
    return records
