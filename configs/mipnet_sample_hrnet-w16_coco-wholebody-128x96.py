# MIPNet (N = 2) on the bundled COCO-WholeBody sample: 133 keypoints (body, feet,
# face, hands), under a minute on 2 CPU cores (44 s alone on the machine, 2026-12-03).
#
# A narrow HRNet (stage-4 widths 16/32/64/128, one block per branch) at 128x96,
# trained from scratch on the 4 real COCO val2017 images of data/sample/coco with
# their COCO-WholeBody annotations (12 persons with keypoints, up to 5 per image,
# so most boxes have neighbours for λ = 1), and validated on the same images (GT
# boxes) with the whole-body metric that merges both poses of every box. It shows
# the whole-body path working (data set, instance slots, N poses, merged metric,
# pictures with the 133-keypoint skeleton); it is not a model to use: for real
# training see configs/mipnet_hrnet-w32_8xb64-210e_coco-wholebody-256x192.py.
#
#   mim train mmpose configs/mipnet_sample_hrnet-w16_coco-wholebody-128x96.py \
#       --work-dir work_dirs/mipnet_sample_wholebody
_base_ = ['mmpose::_base_/default_runtime.py']
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)

# N, poses per box (λ = 0..N-1): set once here, read by the model and the
# instance slots of the training pipeline.
num_instances = 2

# 12 boxes: 2 iterations per epoch at batch size 8.
train_cfg = dict(max_epochs=120, val_interval=60)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [dict(type='MultiStepLR', begin=0, end=120, milestones=[100], gamma=0.1,
                        by_epoch=True)]
randomness = dict(seed=0)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    # Checkpoints are written to a temporary file and renamed: never half-written.
    checkpoint=dict(type='CheckpointHook', interval=60, max_keep_ckpts=2,
                    backend_args=dict(backend='atomic_local'),
                    save_best='coco-wholebody/AP', rule='greater'),
    # The test-time n and λ>0 score decay, addressed by name.
    multi_instance_test=dict(type='MultiInstanceTestHook'))
custom_hooks = [
    dict(type='SyncBuffersHook'),
    # One picture per validation image with every kept pose, coloured by λ; the
    # keypoint threshold is low because a model this small scores keypoints low.
    dict(type='MultiInstanceVisualizationHook', out_dir='pose_pictures', kpt_thr=0.1),
    dict(type='WorkDirLockHook'),
]

codec = dict(type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=1.5)

# Stock MMPose backbone and head configs: the estimator owns N and builds them
# multi-instance (MIMBs on stage 4, a head trained on all N instances).
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
        out_channels=133,  # COCO-WholeBody's keypoints
        deconv_out_channels=None,
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

data_root = 'data/sample/'
data_mode = 'topdown'
dataset_type = 'CocoWholeBodyDataset'
ann_file = 'coco/test_coco_wholebody.json'
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
        type='MultiInstanceCocoWholeBodyDataset',
        data_root=data_root,
        data_mode=data_mode,
        ann_file=ann_file,
        data_prefix=dict(img='coco/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type='MultiInstanceCocoWholeBodyDataset',
        data_root=data_root,
        data_mode=data_mode,
        ann_file=ann_file,
        data_prefix=dict(img='coco/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# Every (box, λ) pose kept, rescored and merged per image by OKS-NMS (threshold 0.9)
# with the 133 whole-body sigmas; then the stock body, foot, face, hand and
# whole-body evaluation.
val_evaluator = dict(type='MultiInstanceCocoWholeBodyMetric', ann_file=data_root + ann_file)
test_evaluator = val_evaluator
