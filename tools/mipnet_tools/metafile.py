"""MMPose-style metafile of the configs (what ``mim search mipnet_mmpose`` lists).

Every field but the results is read from the configs themselves, so the metafile
cannot drift from them (tools/write_metafile.py writes it, a test compares). Released
weights are listed too, one entry per evaluation: the authors' MIPNet checkpoint
(:data:`AUTHORS_RELEASE`, AP as they publish it) and MMPose's HRNet checkpoints that the
HRNet configs can start from, the N=1 baselines (AP read from MMPose's own metafile).
"""
import ast
import re
import shlex
from pathlib import Path
from typing import Dict, List, Optional

from mmengine.config import Config

from mipnet_mmpose.datasets.stock_dataset import stock_dataset_type
from mipnet_mmpose.utils.mmpose_install import installed_mmpose_path

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
          '# a model is trained on the full data set. Released weights (the authors\' MIPNet\n'
          "# checkpoint, MMPose's HRNet baselines) carry the AP their publishers report.\n")


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


#: The authors' model zoo (GitHub rawalkhirodkar/MIPNet, MODEL_ZOO.md at commit 245651d):
#: one checkpoint, HRNet-W48 384x288 N=2 trained on COCO, evaluated with GT boxes on COCO
#: val2017 and on OCHuman val. Their tables' numbers, in MMPose's fractions of 1.
AUTHORS_MODEL_ZOO = 'https://github.com/rawalkhirodkar/MIPNet/blob/main/MODEL_ZOO.md'
AUTHORS_W48_WEIGHTS = \
    'https://drive.google.com/file/d/1L_GZ_ppb896X01HTdjAg5FcYXAiir5QI/view?usp=sharing'
#: Where docs/weights_and_export.md saves the download, and what the conversion writes.
AUTHORS_W48_FILE = 'checkpoints/mipnet_official_w48_384x288.pth'
AUTHORS_W48_CONVERTED = 'checkpoints/mipnet_hrnet-w48_coco-384x288_converted.pth'
AUTHORS_W48_CONFIG = 'mipnet_hrnet-w48_4xb10-110e_coco-384x288.py'
#: What shows that the converted file is the authors' model (docs/weights_and_export.md,
#: "Parity with the authors' code"; the key layout: tests/test_tools/test_convert_official_ckpt.py).
AUTHORS_W48_PARITY = ("converted model = authors' pose_hrnet_se_lambda: max heatmap difference "
                      '1.5e-7 (heatmaps up to 0.27), both lambda, random weights '
                      '(docs/weights_and_export.md)')
AUTHORS_RELEASE = [
    # (entry name, config it is evaluated with, the authors' numbers)
    ('mipnet_hrnet-w48_coco-384x288_authors', 'mipnet_hrnet-w48_4xb10-110e_coco-384x288.py',
     {'AP': 0.788, 'AP@0.5': 0.944, 'AP@0.75': 0.857, 'AP (M)': 0.755, 'AP (L)': 0.837,
      'AR': 0.816}),
    ('mipnet_hrnet-w48_ochuman-384x288_authors',
     'mipnet_hrnet-w48_4xb10-110e_ochuman-384x288.py',
     {'AP': 0.741, 'AP@0.5': 0.897, 'AP@0.75': 0.801, 'AP (M)': 0.684, 'AP (L)': 0.741,
      'AR': 0.810}),
]
#: MMPose's HRNet checkpoints the HRNet configs can start from (their ``start_checkpoints``
#: ``mmpose``): the N=1 baselines, by MMPose's config name, with the MIPNet config of each.
MMPOSE_BASELINES = {
    'td-hm_hrnet-w32_8xb64-210e_coco-256x192': 'mipnet_hrnet-w32_3xb32-110e_coco-256x192.py',
    'td-hm_hrnet-w48_8xb32-210e_coco-384x288': 'mipnet_hrnet-w48_4xb10-110e_coco-384x288.py',
}
#: MMPose's metafile of those checkpoints (installed with MMPose, below its ``.mim/``).
MMPOSE_HRNET_METAFILE = 'configs/body_2d_keypoint/topdown_heatmap/coco/hrnet_coco.yml'
#: MMPose's COCO HRNet numbers are on COCO val2017 with detector boxes of human AP 56.4
#: (the sentence above the table of MMPose's hrnet_coco.md), not GT boxes as the authors'.
MMPOSE_AP_SOURCE = ('published by MMPose (hrnet_coco.yml), on COCO val2017 with detector boxes '
                    'of person AP 56.4; not re-measured here')
AUTHORS_AP_SOURCE = 'published by the authors (MODEL_ZOO.md), GT boxes; not re-measured here'
#: Results of released weights are labelled so in their data set name (mim search shows
#: each metric as ``<data set>/<metric>``).
PUBLISHED = ' (published)'


def authors_convert_command() -> str:
    """The one command that turns the authors' download into this plugin's checkpoint."""
    return (f'python tools/convert_official_ckpt.py {AUTHORS_W48_FILE} {AUTHORS_W48_CONVERTED} '
            f'--config configs/{AUTHORS_W48_CONFIG}')


def mmpose_download_command(name: str, dest: str = 'checkpoints') -> str:
    """``mim download`` of one MMPose checkpoint by its MMPose config name (writes
    ``dest/<name>-<hash>_<date>.pth``, the file of the config's ``start_checkpoints``)."""
    return f'mim download mmpose --config {shlex.quote(name)} --dest {dest}'


def mmpose_metafile_models(path: Optional[Path] = None) -> Dict[str, dict]:
    """MMPose's own metafile entries of its COCO HRNet configs, by name."""
    import yaml
    if path is None:
        path = Path(installed_mmpose_path(MMPOSE_HRNET_METAFILE))
    return {m['Name']: m for m in yaml.safe_load(Path(path).read_text())['Models']}


def released_entries(config_dir: Path) -> List[dict]:
    """The metafile entries of released weights: one per evaluation its publisher reports.

    The authors' MIPNet checkpoint under the config it is evaluated with (its metadata is
    that config's), and MMPose's HRNet checkpoints of :data:`MMPOSE_BASELINES` under
    MMPose's config, with the MIPNet config they are the N=1 baseline and start of.
    """
    entries = []
    for name, config, metrics in AUTHORS_RELEASE:
        entry = model_entry(Path(config_dir) / config)
        result, = entry['Results']
        entry['Metadata'].update({
            'Get it': f'by hand from Google Drive (the link of {AUTHORS_MODEL_ZOO}), '
                      f'saved as {AUTHORS_W48_FILE}',
            'Convert': authors_convert_command(),
            'Parity': AUTHORS_W48_PARITY,
            'AP source': AUTHORS_AP_SOURCE})
        # Weights last, as in MMPose's metafiles (mim shows it as given; metadata lower-cased).
        entry.update(Name=name, Results=[dict(
            result, Dataset=result['Dataset'] + PUBLISHED,
            Metrics=dict(metrics))], Weights=AUTHORS_W48_WEIGHTS)
        entries.append(entry)
    mmpose_models = mmpose_metafile_models()
    for name, config in MMPOSE_BASELINES.items():
        theirs = mmpose_models[name]
        ours = model_entry(Path(config_dir) / config)['Metadata']
        batch = re.search(r'_(\d+)xb(\d+)-(\d+)e_', name)
        result, = theirs['Results']
        entries.append({
            'Name': name, 'In Collection': 'MIPNet',
            'Config': 'mmpose::' + theirs['Config'].removeprefix('configs/'),
            'Metadata': {
                'Architecture': list(theirs['Metadata']['Architecture']),
                'Training Data': theirs['Metadata']['Training Data'],
                'Instances per box': 1,
                'Input Size': ours['Input Size'],
                'Batch Size': f'{batch.group(1)}x{batch.group(2)}',
                'Epochs': int(batch.group(3)),
                'Get it': mmpose_download_command(name),
                'Baseline of': f'configs/{config} (N=1, its start_checkpoints mmpose)',
                'AP source': MMPOSE_AP_SOURCE},
            'Results': [{'Task': result['Task'],
                         'Dataset': 'COCO, detector boxes' + PUBLISHED,
                         'Metrics': dict(result['Metrics'])}],
            'Weights': theirs['Weights']})
    return entries


def metafile(config_paths: List[Path]) -> dict:
    """The metafile (one MIPNet collection) of the given configs, and the released weights
    evaluated with the configs of their folder."""
    collection = {
        'Name': 'MIPNet',
        'Paper': {'Title': 'Multi-Instance Pose Networks: Rethinking Top-Down Pose Estimation',
                  'URL': 'https://arxiv.org/abs/2101.11223'},
        'README': 'README.md',
        'Metadata': {'Architecture': ['MIPNet', 'MIMB']}}
    paths = sorted(config_paths)
    released = released_entries(Path(paths[0]).parent) if paths else []
    return {'Collections': [collection], 'Models': [model_entry(p) for p in paths] + released}


def metafile_text(config_paths: List[Path]) -> str:
    """The metafile as YAML text, with its header."""
    import yaml
    return HEADER + yaml.safe_dump(metafile(config_paths), sort_keys=False,
                                   allow_unicode=True, width=100)
