# Crowd-evidence experiment, baseline: a stock MMPose top-down HRNet (one pose per box).
#
# Only stock MMPose types: TopdownPoseEstimator, HRNet, HeatmapHead, MSRAHeatmap,
# CocoDataset, OCHumanDataset, CocoMetric. The MIPNet config of the pair
# (crowd_evidence_mipnet_n2.py) inherits everything from this file and changes only
# what MIPNet needs (N=2 backbone/head/codec, instance slots, multi-instance datasets
# and metric), so both models see the same data, schedule, seed and augmentation.
#
# Trained from scratch on CPU on the crowded sample images: coco_mini train (28 images,
# 86 persons) + the OCHuman sample (3 images, 5 persons, two heavily overlapping pairs).
# Validation: coco_mini val (held out). The whole experiment (both models, the
# evaluations with all / fewer boxes, the table and the pictures) is one command:
#
#   python tools/experiments/crowd_evidence.py
#
# which also gives both models the same initial weights. This config alone trains too:
#
#   mim train mmpose configs/experiments/crowd_evidence_stock-hrnet_n1.py
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)

max_epochs = 350
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=max_epochs, milestones=[int(max_epochs * 0.85)],
         gamma=0.1, by_epoch=True),
]
randomness = dict(seed=0)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=max_epochs, max_keep_ckpts=1,
                    save_last=True))

codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)

# A narrow HRNet (stage-4 widths 16/32/64/128, one block per branch): 2 CPU cores.
hrnet_extra = dict(
    stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                num_channels=(32, )),
    stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                num_channels=(16, 32)),
    stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                num_channels=(16, 32, 64)),
    stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                num_channels=(16, 32, 64, 128)))

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='HRNet', in_channels=3, extra=hrnet_extra),
    head=dict(
        type='HeatmapHead',
        in_channels=16,
        out_channels=17,
        deconv_out_channels=None,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

data_root = 'data/sample/'
# Read by MMPose's inferencer: top-down data with COCO keypoints.
data_mode = 'topdown'
dataset_type = 'CocoDataset'
# The MIPNet authors' augmentation: flip, half-body (p 0.3), scale ±0.35, rotation ±45°
# (p 0.6).
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', scale_factor=(0.65, 1.35), rotate_factor=45.0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]

# The two training sets share COCO's 17 keypoints and sigmas; only the name and the
# paper reference of their metainfo differ.
train_datasets = [
    dict(type='CocoDataset',
         data_root=data_root,
         data_mode='topdown',
         ann_file='coco_mini/annotations/person_keypoints_train2017.json',
         data_prefix=dict(img='coco_mini/train2017/'),
         pipeline=train_pipeline),
    dict(type='OCHumanDataset',
         data_root=data_root,
         data_mode='topdown',
         ann_file='ochuman/test_ochuman.json',
         data_prefix=dict(img='ochuman/'),
         pipeline=train_pipeline),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='ConcatDataset', datasets=train_datasets,
                 ignore_keys=['dataset_name', 'paper_info']))

val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='CocoDataset',
        data_root=data_root,
        data_mode='topdown',
        ann_file='coco_mini/annotations/person_keypoints_val2017.json',
        data_prefix=dict(img='coco_mini/val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric',
                     ann_file=data_root + 'coco_mini/annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator
