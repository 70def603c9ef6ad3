# MIPNet SimpleBaseline ResNet-101 256x192 on COCO, N=2 (MIMBs before layer3 and layer4).
# MMPose's stock config plus the MIPNet overrides (see
# mipnet_hrnet-w32_8xb32-110e_coco-256x192.py), with the authors' schedule.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res101_8xb64-210e_coco-256x192.py']

# Download MMPose's COCO checkpoint first (see README); MIMB weights start from their init.
load_from = 'checkpoints/td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth'

train_cfg = dict(max_epochs=110, val_interval=10)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=110, milestones=[70, 100], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=256)
train_dataloader = dict(batch_size=32)

# ---------------------------- MIPNet overrides ----------------------------
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)
num_instances = 2  # N poses per box (λ = 0..N-1); 3 and 4 use lambda_encoding='binary'
lambda_encoding = 'one_hot'
codec = _base_.codec
model = dict(
    type='MultiInstanceTopdownPoseEstimator',
    backbone=dict(type='MIP' + _base_.model.backbone.type, num_instances=num_instances,
                  lambda_encoding=lambda_encoding,
                  init_cfg=None),  # the weights come from load_from
    head=dict(type='MultiInstanceHeatmapHead', num_instances=num_instances),
    test_cfg=dict(num_instances=num_instances, lambda_score_decay=0.5))
# The authors' augmentation (flip, scale ±0.35, rotation ±45° with p 0.6, half body
# p 0.3), then the instance slots and one heatmap set per instance.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody', prob=0.3),
    dict(type='RandomBBoxTransform', scale_factor=(0.65, 1.35), rotate_factor=45,
         rotate_prob=0.6),
    dict(type='TopdownAffine', input_size=codec['input_size'],
         use_udp=codec['type'] == 'UDPHeatmap'),
    dict(type='BuildInstanceSlots', num_instances=num_instances, min_keypoints=3,
         use_udp=codec['type'] == 'UDPHeatmap'),
    dict(type='GenerateTarget',
         encoder=dict(type='MultiInstanceHeatmap', encoder=codec, num_instances=num_instances)),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(type='MultiInstance' + _base_.train_dataloader.dataset.type,
                                     pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='MultiInstance' + _base_.val_dataloader.dataset.type))
test_dataloader = dict(dataset=dict(type='MultiInstance' + _base_.test_dataloader.dataset.type))
val_evaluator = dict(type='MultiInstanceCocoMetric', nms_thr=0.9)
test_evaluator = val_evaluator
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='MultiInstanceTestHook'),
    dict(type='MultiInstanceVisualizationHook', max_images=20),
]
# Checkpoints go to a temporary file, then are renamed: a killed run never leaves a
# half-written one (resume with --resume).
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')))
# --------------------------------------------------------------------------
