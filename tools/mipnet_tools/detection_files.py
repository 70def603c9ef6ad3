"""Write a person-detection file (the ``bbox_file`` of MMPose's top-down data sets).

An mmdet detector is run on every image of a COCO-format annotation file and its
person boxes are written in the COCO results format that ``bbox_file`` reads:
``[{"image_id", "category_id": 1, "bbox": [x, y, w, h], "score"}, ...]``. This is how
the OCHuman test detections, which nobody publishes, are made (docs/data.md).
"""
import json
import os
import os.path as osp
from typing import List, Optional

from mmengine.utils import ProgressBar


def write_person_detections(det_config: str, det_checkpoint: Optional[str], ann_file: str,
                            img_dir: str, out_file: str, person_label: int = 0,
                            score_thr: float = 0.0, device: str = 'cpu',
                            cfg_options: Optional[dict] = None) -> List[dict]:
    """Detect persons on the images of ``ann_file`` and write them as a detection file.

    Args:
        det_config (str): An mmdet config file (``mmdet::<path>`` works)
        det_checkpoint (str, optional): Its weights; None for the detector's
            initial (random) weights, only to check the path
        ann_file (str): COCO-format annotations whose ``images`` are detected
            (their ``id`` becomes ``image_id``)
        img_dir (str): The folder the images' ``file_name`` is relative to
        out_file (str): The detection file to write (JSON)
        person_label (int): The detector's class index of "person" (0 for
            mmdet's COCO detectors). Defaults to 0.
        score_thr (float): Boxes scoring below it are left out. Defaults to 0
            (all; the pose configs' data sets filter by score themselves).
        device (str): Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides of the detector config.

    Returns:
        list[dict]: The written detections.
    """
    from mmdet.apis import inference_detector, init_detector
    from mmengine.config import Config

    from mipnet_mmpose.conversion import resolve_config_path
    if det_config.startswith('mmdet::'):
        import mmdet
        det_config = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs',
                              det_config[len('mmdet::'):])
    else:
        det_config = resolve_config_path(det_config)
    cfg = Config.fromfile(det_config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    detector = init_detector(cfg, det_checkpoint, device=device)
    if det_checkpoint is None:
        # The detector's own initialisation (init_detector leaves the modules' defaults).
        detector.init_weights()
    with open(ann_file) as f:
        images = json.load(f)['images']
    detections: List[dict] = []
    progress = ProgressBar(len(images))
    for image in images:
        result = inference_detector(detector, osp.join(img_dir, image['file_name']))
        pred = result.pred_instances
        keep = (pred.labels == person_label) & (pred.scores >= score_thr)
        for (x1, y1, x2, y2), score in zip(pred.bboxes[keep].tolist(),
                                           pred.scores[keep].tolist()):
            detections.append(dict(image_id=image['id'], category_id=1,
                                   bbox=[x1, y1, x2 - x1, y2 - y1], score=score))
        progress.update()
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with open(out_file, 'w') as f:
        json.dump(detections, f)
    return detections
