"""Which data files a config reads, whether they are there, and where each comes from.

The expected layout is read from the config itself (its data loaders' ``data_root``,
``ann_file``, ``data_prefix`` and ``bbox_file`` and its evaluators' ``ann_file``), so
the configs stay the one owner of the paths; this module only adds each file's source
(see docs/data.md).
"""
import os.path as osp
from dataclasses import dataclass
from fnmatch import fnmatch
from typing import List, Optional, Sequence

from mmengine.config import Config

#: Where each file of COCO, CrowdPose and OCHuman comes from, by name pattern (first match).
SOURCES = [
    ('person_keypoints_*2017.json',
     'COCO 2017 annotations: annotations_trainval2017.zip from https://cocodataset.org/#download '
     '(http://images.cocodataset.org/annotations/annotations_trainval2017.zip)'),
    ('train2017', 'COCO 2017 train images: http://images.cocodataset.org/zips/train2017.zip'),
    ('val2017', 'COCO 2017 val images: http://images.cocodataset.org/zips/val2017.zip'),
    ('COCO_val2017_detections_AP_H_56_person.json',
     "HRNet-Human-Pose-Estimation's person detections of COCO val2017, linked from MMPose's "
     'dataset page (docs/en/dataset_zoo/2d_body_keypoint.md, "COCO"): OneDrive '
     'https://1drv.ms/f/s!AhIXJn_J-blWzzDXoz5BeFl8sWM- or Google Drive '
     'https://drive.google.com/drive/folders/1fRUDNUDxe9fjqcRZ2bnF_TKMlO0nB_dk'),
    ('mmpose_crowdpose_*.json',
     "MMPose's CrowdPose annotations: "
     'https://download.openmmlab.com/mmpose/datasets/crowdpose_annotations.tar'),
    ('det_for_crowd_test_0.1_0.5.json',
     "CrowdPose test detections (YOLOv3), in MMPose's "
     'https://download.openmmlab.com/mmpose/datasets/crowdpose_annotations.tar'),
    ('crowdpose/images',
     'CrowdPose images: https://github.com/Jeff-sjtu/CrowdPose ("Train + Validation + Test '
     'Images", Google Drive)'),
    ('ochuman_coco_format_*.json',
     'OCHuman annotations (COCO format): https://github.com/liruilong940607/OCHumanApi'),
    ('ochuman/images', 'OCHuman images: https://github.com/liruilong940607/OCHumanApi'),
    ('OCHuman_val2017_detections_AP_H_27_person.json',
     "the authors' OCHuman val detections (their scripts/test/lambda/ochuman/"
     'test_lambda_ochuman.sh); no public download link is known: write your own with '
     '`python tools/prepare_data.py detect` (docs/data.md)'),
    ('OCHuman_test*_detections*.json',
     'not published: write it with `python tools/prepare_data.py detect` (docs/data.md)'),
]


@dataclass
class DataEntry:
    """One file or folder a config reads."""
    path: str  # as the config resolves it (data_root joined where MMPose joins it)
    field: str  # the config field that names it, e.g. 'val_dataloader.dataset.bbox_file'
    is_dir: bool

    @property
    def exists(self) -> bool:
        return osp.isdir(self.path) if self.is_dir else osp.isfile(self.path)

    @property
    def source(self) -> str:
        return source_of(self.path)


def source_of(path: str) -> str:
    """Where a data file or folder comes from (docs/data.md), by its name."""
    norm = path.replace(osp.sep, '/').rstrip('/')
    for pattern, source in SOURCES:
        if fnmatch(osp.basename(norm), pattern) or norm.endswith('/' + pattern):
            return source
    return 'your own data (not a file of COCO, CrowdPose or OCHuman)'


def config_data_entries(cfg: Config) -> List[DataEntry]:
    """Every annotation file, image folder and detection file the config reads.

    Args:
        cfg (Config): A loaded config.

    Returns:
        list[DataEntry]: In loader order (train, val, test, then evaluators),
        each path once.
    """
    entries: List[DataEntry] = []
    seen = set()

    def add(path: Optional[str], field: str, is_dir: bool) -> None:
        if path and path not in seen:
            seen.add(path)
            entries.append(DataEntry(path, field, is_dir))

    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        datasets = dataset.get('datasets', []) if isinstance(dataset, dict) and \
            dataset.get('type') == 'CombinedDataset' else [dataset]
        for i, ds in enumerate(datasets):
            if not isinstance(ds, dict):
                continue
            where = f'{loader}.dataset' + (f'.datasets[{i}]' if len(datasets) > 1 else '')
            root = ds.get('data_root') or ''
            # MMPose joins ann_file and data_prefix with data_root, not bbox_file.
            if ds.get('ann_file'):
                add(osp.join(root, ds['ann_file']), f'{where}.ann_file', False)
            img = (ds.get('data_prefix') or {}).get('img')
            if img is not None:
                add(osp.join(root, img), f"{where}.data_prefix['img']", True)
            add(ds.get('bbox_file'), f'{where}.bbox_file', False)
    for key in ('val_evaluator', 'test_evaluator'):
        metrics = cfg.get(key)
        for metric in (metrics if isinstance(metrics, (list, tuple)) else [metrics]):
            if isinstance(metric, dict):
                add(metric.get('ann_file'), f'{key}.ann_file', False)
    return entries


def missing_data(configs: Sequence[Config]) -> List[DataEntry]:
    """The entries of ``configs`` that are not there (each path once)."""
    out, seen = [], set()
    for cfg in configs:
        for entry in config_data_entries(cfg):
            if entry.path not in seen and not entry.exists:
                seen.add(entry.path)
                out.append(entry)
    return out


def describe_missing(entries: Sequence[DataEntry]) -> str:
    """A report naming each missing file, the field that names it and its source."""
    lines = []
    for entry in entries:
        kind = 'folder' if entry.is_dir else 'file'
        lines.append(f'missing {kind} {entry.path} (config field {entry.field})\n'
                     f'    from: {entry.source}')
    return '\n'.join(lines)


#: The repository's bundled sample data (data/sample/README.md), beside tools/.
SAMPLE_ROOT = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                       'data', 'sample')


@dataclass(frozen=True)
class BundledSample:
    """A bundled sample of one data set, in that data set's own annotation format."""
    folder: str  # under data/sample/
    ann_file: str  # relative to the folder
    img_prefix: str = ''  # relative to the folder
    note: str = ''  # how the sample fits the data set, where it is not the data set's own

    def paths(self, root: str = SAMPLE_ROOT) -> dict:
        """``data_root``, ``ann_file`` and ``data_prefix`` of a data set config."""
        return dict(data_root=osp.join(root, self.folder) + '/', ann_file=self.ann_file,
                    data_prefix=dict(img=self.img_prefix))


_WHOLEBODY = ('coco', 'test_coco_wholebody.json')
#: MMPose data set type -> its bundled sample: the one table of which sample fits which
#: data set (docs/conversion_coverage.md, tests). A type missing here has none.
BUNDLED_SAMPLES = {
    'CocoDataset': BundledSample('coco_mini', 'annotations/person_keypoints_train2017.json',
                                 'train2017/'),
    'CrowdPoseDataset': BundledSample('crowdpose', 'test_crowdpose.json'),
    'OCHumanDataset': BundledSample('ochuman', 'test_ochuman.json'),
    'AicDataset': BundledSample('aic', 'test_aic.json'),
    'MpiiDataset': BundledSample('mpii', 'test_mpii.json'),
    # Bundled by issue 22's data work; each is used once its annotation file is there.
    'HumanArtDataset': BundledSample('humanart', 'test_humanart.json'),
    # MMPose's Halpe sample annotates the four COCO images of coco/ (no images of its own).
    'HalpeDataset': BundledSample('halpe', 'test_halpe.json', '../coco/',
                                  note='its images are those of coco/'),
    'CocoWholeBodyDataset': BundledSample(*_WHOLEBODY),
    # MMPose's hand and face subsets of COCO-WholeBody read the whole-body annotation file
    # (coco_wholebody_{train,val}_v1.0.json in their stock configs): the same sample fits.
    'CocoWholeBodyHandDataset': BundledSample(
        *_WHOLEBODY, note='its hands: the stock configs read the whole-body file too'),
    'CocoWholeBodyFaceDataset': BundledSample(
        *_WHOLEBODY, note='its faces: the stock configs read the whole-body file too'),
    'AP10KDataset': BundledSample('ap10k', 'test_ap10k.json'),
    'AnimalPoseDataset': BundledSample('animalpose', 'test_animalpose.json'),
    'OneHand10KDataset': BundledSample('onehand10k', 'test_onehand10k.json'),
    'WFLWDataset': BundledSample('wflw', 'test_wflw.json'),
}


def bundled_sample(dataset_type: str, root: str = SAMPLE_ROOT) -> Optional[BundledSample]:
    """The bundled sample of an MMPose data set type, or None where there is none here.

    Args:
        dataset_type (str): e.g. ``'AP10KDataset'`` (a ``mmpose.`` scope is ignored).
        root (str): The sample folder. Defaults to the repository's data/sample.
    """
    sample = BUNDLED_SAMPLES.get(dataset_type.split('.')[-1])
    if sample is None or not osp.isfile(osp.join(root, sample.folder, sample.ann_file)):
        return None
    return sample
