# RTMPose-m MIPNet (N=2) on the bundled sample data: the converted RTMPose-m config
# (configs/mipnet_rtmpose-m_8xb256-420e_coco-256x192.py, MMPose's own RTMPose-m plus
# what MIPNet changes) trained a few epochs from scratch on 8 coco_mini persons and
# validated on the OCHuman sample. It shows the converted model training and testing
# with MMPose's tools; it is not a model to use.
#
#   mim train mmpose configs/mipnet_sample_rtmpose-m_coco-mini-256x192.py --work-dir W
_base_ = ['./mipnet_rtmpose-m_8xb256-420e_coco-256x192.py']

data_root = 'data/sample/'
train_cfg = dict(max_epochs=3, val_interval=3)
model = dict(backbone=dict(init_cfg=None))  # nothing to download
# Albumentation needs the albumentations package, which this plugin does not install.
train_pipeline = [t for t in _base_.train_pipeline if t['type'] != 'Albumentation']
train_pipeline_stage2 = [t for t in _base_.train_pipeline_stage2 if t['type'] != 'Albumentation']
custom_hooks = [
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002, update_buffers=True,
         priority=49),
    # RTMPose's second stage (milder augmentation) for the last epoch.
    dict(type='mmdet.PipelineSwitchHook', switch_epoch=2,
         switch_pipeline=train_pipeline_stage2),
    dict(type='MultiInstanceVisualizationHook', out_dir='pose_pictures', kpt_thr=0.0),
    dict(type='WorkDirLockHook'),
    # A corrupt or truncated checkpoint to load stops the run with an error naming it.
    dict(type='CheckpointFileCheckHook'),
]
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=3))
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, indices=8, pipeline=train_pipeline,
                 ann_file='coco_mini/annotations/person_keypoints_train2017.json',
                 data_prefix=dict(img='coco_mini/train2017/')))
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(type='MultiInstanceOCHumanDataset', data_root=data_root,
                 ann_file='ochuman/test_ochuman.json', data_prefix=dict(img='ochuman/'),
                 bbox_file=None))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiInstanceCocoMetric', ann_file=data_root + 'ochuman/test_ochuman.json')
test_evaluator = val_evaluator
