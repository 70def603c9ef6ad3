# MIPNet on the bundled sample data: the README's main job.
#
# A narrow HRNet (stage-4 widths 16/32/64/128, one block per branch) at 128x96,
# trained from scratch on the real coco_mini train images (28 images, 86 persons)
# on 2 CPU cores in about 2 minutes (119 s alone on the machine, 2026-12-03),
# validated on the OCHuman sample (3 images whose two pairs of persons overlap
# heavily, GT boxes). It shows the whole path working, it is not a model to use:
# for real training see the COCO/CrowdPose configs.
#
#   mim train mmpose configs/mipnet_sample_hrnet-w16_coco-mini-128x96.py \
#       --work-dir work_dirs/mipnet_sample
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)

# N, poses per box (λ = 0..N-1): set once here, read by the model and the
# instance slots of the training pipeline.
num_instances = 2

train_cfg = dict(max_epochs=80, val_interval=40)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=80, milestones=[70], gamma=0.1,
                        by_epoch=True)]
randomness = dict(seed=0)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    # Checkpoints are written to a temporary file and renamed: never half-written.
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=2,
                    backend_args=dict(backend='atomic_local'),
                    save_best='coco/AP', rule='greater'),
    # The test-time n and λ>0 score decay, addressed by name, e.g.
    # --cfg-options default_hooks.multi_instance_test.num_instances=1
    multi_instance_test=dict(type='MultiInstanceTestHook'))
custom_hooks = [
    dict(type='SyncBuffersHook'),
    # One picture per validation/test image with every kept pose, coloured by λ.
    # kpt_thr is low because a model this small and briefly trained scores its
    # keypoints low; raise it for real models.
    dict(type='MultiInstanceVisualizationHook', out_dir='pose_pictures', kpt_thr=0.1),
    # One training run per work directory (checkpoints are not overwritten).
    dict(type='WorkDirLockHook'),
    # A corrupt or truncated checkpoint to load stops the run with an error naming it.
    dict(type='CheckpointFileCheckHook'),
]

codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)

# Stock MMPose backbone and head configs: the estimator owns N and builds them
# as MIPHRNet (MIMBs on stage 4) and a head trained on all N instances.
model = dict(
    type='MultiInstanceTopdownPoseEstimator',
    num_instances=num_instances,
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(
        type='HRNet',
        in_channels=3,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                        num_channels=(32, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                        num_channels=(16, 32)),
            stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                        num_channels=(16, 32, 64)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                        num_channels=(16, 32, 64, 128)))),
    head=dict(
        type='HeatmapHead',
        in_channels=16,
        out_channels=17,
        deconv_out_channels=None,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

data_root = 'data/sample/'
# Read by MMPose's inferencer (MMPoseInferencer / MIPNetInferencer): top-down data,
# COCO keypoints, so a person detector for COCO persons is picked by default.
data_mode = 'topdown'
dataset_type = 'CocoDataset'
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='BuildInstanceSlots', num_instances=num_instances, min_keypoints=3),
    dict(type='GenerateTarget', encoder=dict(type='MultiInstanceCodec', encoder=codec)),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='MultiInstanceCocoDataset',
        data_root=data_root,
        data_mode='topdown',
        ann_file='coco_mini/annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='coco_mini/train2017/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='MultiInstanceOCHumanDataset',
        data_root=data_root,
        data_mode='topdown',
        ann_file='ochuman/test_ochuman.json',
        data_prefix=dict(img='ochuman/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# Every (box, λ) pose kept, rescored, merged per image by OKS-NMS (threshold 0.9).
val_evaluator = dict(type='MultiInstanceCocoMetric',
                     ann_file=data_root + 'ochuman/test_ochuman.json')
test_evaluator = val_evaluator
