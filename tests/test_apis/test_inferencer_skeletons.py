"""The inferencer (and so the demo over it) draws each data set's skeleton, not COCO's.

Real configs of four tasks (AP-10K animals, COCO-WholeBody's 133 keypoints,
OneHand10K hands, WFLW faces), made small (narrow HRNet, half the input
size) with random weights, one real sample image each with its annotated box:
the model's and the visualizer's data set meta are the data set's own (keypoints,
skeleton links, colours), and drawing K != 17 keypoints works.
"""
import copy
import json
import warnings

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS

from mipnet_mmpose import convert_config
from mipnet_mmpose.apis import MIPNetInferencer
from mipnet_mmpose.conversion import resolve_config_path
from tests.conftest import REPO, SAMPLE, small_hrnet_extra

TD = 'mmpose::{}/topdown_heatmap/{}/{}.py'

# (config: a file of ours or a stock one to convert, stock data set class, sample
#  annotation file, number of keypoints)
CASES = [
    ('configs/mipnet_hrnet-w32_8xb64-210e_ap10k-256x256.py', 'AP10KDataset',
     'ap10k/test_ap10k.json', 17),
    ('configs/mipnet_hrnet-w32_8xb64-210e_coco-wholebody-256x192.py', 'CocoWholeBodyDataset',
     'coco/test_coco_wholebody.json', 133),
    (TD.format('hand_2d_keypoint', 'onehand10k',
               'td-hm_hrnetv2-w18_8xb64-210e_onehand10k-256x256'), 'OneHand10KDataset',
     'onehand10k/test_onehand10k.json', 21),
    (TD.format('face_2d_keypoint', 'wflw', 'td-hm_hrnetv2-w18_8xb64-60e_wflw-256x256'),
     'WFLWDataset', 'wflw/test_wflw.json', 98),
]


def _halve_sizes(node) -> None:
    """Every ``input_size``/``heatmap_size`` below ``node`` halved (HRNet's stage 4
    needs multiples of 32: a quarter of 192 is not)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ('input_size', 'heatmap_size'):
                node[key] = tuple(v // 2 for v in value)
            else:
                _halve_sizes(value)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _halve_sizes(item)


def _config(source: str) -> Config:
    """The config (converted when stock), with a narrow HRNet at half its input
    size: the data set parts (meta, head's K, pipeline) stay as they are."""
    if source.startswith('mmpose::'):
        cfg = convert_config(Config.fromfile(resolve_config_path(source)), num_instances=2)
    else:
        cfg = Config.fromfile(str(REPO / source))
    width = 8
    extra = cfg.model.backbone.extra
    for stage, small in small_hrnet_extra(width).items():
        extra[stage].update(small)  # keeps multiscale_output (HRNetV2) as it is
    # HRNetV2 (hands, faces) concatenates its four branches in the neck
    concat = (cfg.model.get('neck') or {}).get('concat', False)
    cfg.model.head.in_channels = 15 * width if concat else width
    cfg.model.backbone.init_cfg = None
    _halve_sizes(cfg.model)
    _halve_sizes(cfg.test_dataloader)
    return cfg


def _stock_meta(dataset_type: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # MMPose's note on reading its installed meta file
        return parse_pose_metainfo(copy.deepcopy(DATASETS.get(dataset_type).METAINFO))


def _first_box(ann_file: str):
    """The first annotated box of the sample and its image (path)."""
    data = json.loads((SAMPLE / ann_file).read_text())
    ann = data['annotations'][0]
    (image, ) = [img for img in data['images'] if img['id'] == ann['image_id']]
    x, y, w, h = ann['bbox']
    return SAMPLE / ann_file.split('/')[0] / image['file_name'], [x, y, x + w, y + h]


COCO_META = _stock_meta('CocoDataset')


@pytest.mark.parametrize('source, dataset_type, ann_file, num_keypoints', CASES,
                         ids=[c[1] for c in CASES])
def test_inferencer_draws_the_data_sets_skeleton(source, dataset_type, ann_file, num_keypoints):
    cfg = _config(source)
    assert cfg.test_dataloader.dataset.type == 'MultiInstance' + dataset_type
    torch.manual_seed(0)
    inferencer = MIPNetInferencer(cfg, device='cpu', det_model='whole_image')
    want = _stock_meta(dataset_type)
    assert want['num_keypoints'] == num_keypoints
    for meta in (inferencer.model.dataset_meta, inferencer.visualizer.dataset_meta):
        assert meta['dataset_name'] == want['dataset_name']
        assert meta['num_keypoints'] == num_keypoints
        for key in ('skeleton_links', 'keypoint_colors', 'skeleton_link_colors', 'flip_indices'):
            assert np.array_equal(np.asarray(meta[key]), np.asarray(want[key])), key
    # what MMPose's drawing reads: this data set's links and one colour per keypoint
    visualizer = inferencer.visualizer
    assert [tuple(link) for link in visualizer.skeleton] == \
        [tuple(link) for link in want['skeleton_links']]
    assert len(visualizer.kpt_color) == num_keypoints
    assert len(visualizer.link_color) == len(want['skeleton_links'])
    if num_keypoints == 17:  # AP-10K: 17 keypoints, but an animal's, not COCO's person
        assert [tuple(link) for link in visualizer.skeleton] != \
            [tuple(link) for link in COCO_META['skeleton_links']]

    image_path, box = _first_box(ann_file)
    image = mmcv.imread(str(image_path), channel_order='rgb')
    result = next(inferencer(str(image_path), bboxes=[box], return_vis=True, kpt_thr=0.0))
    poses = result['predictions'][0]
    assert {pose['lambda'] for pose in poses} == {0, 1}  # N = 2 poses for the one box
    assert all(np.shape(pose['keypoints']) == (num_keypoints, 2) for pose in poses)
    (picture, ) = result['visualization']
    assert picture.shape == image.shape
    # keypoints (all drawn at kpt_thr 0) and limbs changed pixels inside the box
    x0, y0, x1, y1 = (int(v) for v in box)
    assert (picture[y0:y1, x0:x1] != image[y0:y1, x0:x1]).any(axis=-1).mean() > 0.001
