"""MMPose-style metafile of the configs (what ``mim search mipnet_mmpose`` lists).

Every field but the results is read from the configs themselves, so the metafile
cannot drift from them (tools/write_metafile.py writes it, a test compares).
"""
import ast
import re
from pathlib import Path
from typing import Dict, List

from mmengine.config import Config

from mipnet_mmpose.datasets.stock_dataset import stock_dataset_type

#: Results measured so far, by config name (everything else: 'to be measured').
MEASURED: Dict[str, Dict[str, float]] = {
    # CPU, from scratch, 80 epochs on coco_mini, tested on the OCHuman sample (README).
    'mipnet_sample_hrnet-w16_coco-mini-128x96': {'AP': 0.06, 'AP@0.5': 0.34},
}
TO_BE_MEASURED = 'to be measured'
#: Display names and MMPose metafile tasks of the stock data sets (by the stock class name
#: without ``Dataset``); others are listed under their class name, as body keypoints.
_DATA = {'Coco': 'COCO', 'CrowdPose': 'CrowdPose', 'OCHuman': 'OCHuman',
         'CocoWholeBody': 'COCO-WholeBody', 'AP10K': 'AP-10K'}
_ARCH = {'HRNet': 'HRNet', 'ResNet': 'SimpleBaseline2D', 'CSPNeXt': 'RTMPose'}
_TASK = {'CocoWholeBody': 'Wholebody 2D Keypoint', 'AP10K': 'Animal 2D Keypoint'}


def _stock_name(dataset_type: str) -> str:
    """``'MultiInstanceOCHumanDataset'`` -> ``'OCHuman'`` (the stock class, without ``Dataset``)."""
    return stock_dataset_type(dataset_type).removesuffix('Dataset')


def _data_name(dataset_type: str) -> str:
    stock = _stock_name(dataset_type)
    return _DATA.get(stock, stock)


HEADER = ("# MIPNet configs in MMPose's metafile format (read by `mim search mipnet_mmpose`).\n"
          '# Written by tools/write_metafile.py from the configs; results "to be measured" until\n'
          '# a model is trained on the full data set.\n')


def is_alias_config(path: Path) -> bool:
    """An old config name kept for another config: a file that only sets ``_base_``."""
    body = ast.parse(Path(path).read_text()).body
    return len(body) == 1 and isinstance(body[0], ast.Assign) and \
        [getattr(t, 'id', None) for t in body[0].targets] == ['_base_']


def listed_configs(config_dir: Path) -> List[Path]:
    """The configs the metafile lists: every ``mipnet*.py`` but the aliases."""
    return sorted(p for p in Path(config_dir).glob('mipnet*.py') if not is_alias_config(p))


def model_entry(path: Path) -> dict:
    """The metafile entry of one config file."""
    cfg = Config.fromfile(str(path))
    sample = ' (bundled sample)' if 'sample' in path.name else ''
    width, height = cfg.codec['input_size']
    name = re.search(r'_(\d+)xb(\d+)-(\d+)e_', path.name)
    meta = {
        'Architecture': ['MIPNet', _ARCH.get(cfg.model.backbone.type, cfg.model.backbone.type)],
        'Training Data': _data_name(cfg.train_dataloader.dataset.type) + sample,
        'Instances per box': cfg.model.num_instances,
        'Input Size': f'{height}x{width}',
        # GPUs x boxes per GPU as the name states it, else the sample's batch.
        'Batch Size': f'{name.group(1)}x{name.group(2)}' if name
        else cfg.train_dataloader.batch_size,
        'Epochs': cfg.train_cfg.max_epochs,
    }
    boxes = 'detector boxes' if cfg.test_dataloader.dataset.get('bbox_file') else 'GT boxes'
    return {
        'Name': path.stem, 'In Collection': 'MIPNet', 'Config': f'configs/{path.name}',
        'Metadata': meta,
        'Results': [{'Task': _TASK.get(_stock_name(cfg.test_dataloader.dataset.type),
                                       'Body 2D Keypoint'),
                     'Dataset': f'{_data_name(cfg.test_dataloader.dataset.type)}{sample}, {boxes}',
                     'Metrics': MEASURED.get(path.stem, {'AP': TO_BE_MEASURED})}]}


def metafile(config_paths: List[Path]) -> dict:
    """The metafile (one MIPNet collection) of the given configs."""
    collection = {
        'Name': 'MIPNet',
        'Paper': {'Title': 'Multi-Instance Pose Networks: Rethinking Top-Down Pose Estimation',
                  'URL': 'https://arxiv.org/abs/2101.11223'},
        'README': 'README.md',
        'Metadata': {'Architecture': ['MIPNet', 'MIMB']}}
    return {'Collections': [collection],
            'Models': [model_entry(p) for p in sorted(config_paths)]}


def metafile_text(config_paths: List[Path]) -> str:
    """The metafile as YAML text, with its header."""
    import yaml
    return HEADER + yaml.safe_dump(metafile(config_paths), sort_keys=False,
                                   allow_unicode=True, width=100)
