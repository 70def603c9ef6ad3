# MIPNet SimpleBaseline ResNet-50 256x192 on COCO, N=2, with the authors' ResNet
# settings. Their repository has no MIPNet training script for COCO ResNets, so the
# settings are those of experiments/coco/resnet/res50_256x192_d256x3_adam_lr1e-3.yaml:
#   lines 7, 50: 4 GPUs x 32 boxes; lines 49-62: Adam lr 1e-3, 140 epochs, steps
#   90/120; line 24: ImageNet initialisation (no COCO pose model: TEST.MODEL_FILE '');
#   lines 14-21: BGR input (COLOR_RGB false), flip, scale 0.3, rotation 40, no half
#   body (PROB_HALF_BODY is unset: 0.0 in lib/config/default.py line 96).
# MIMBs before layer3 and layer4 (the paper: "the last two ResNet blocks").
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py']

# ImageNet weights through the stock backbone init_cfg (torchvision's ResNet-50, the
# authors' resnet50-19c8e357.pth); MIMB weights start from their init.
load_from = None

num_gpus, boxes_per_gpu = 4, 32
auto_scale_lr = dict(base_batch_size=num_gpus * boxes_per_gpu)
train_cfg = dict(max_epochs=140, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=140, milestones=[90, 120], gamma=0.1, by_epoch=True),
]
coco_det_file = 'data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json'

# ---------------------------- MIPNet overrides ----------------------------
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)
# N poses per box (λ = 0..N-1), set once: the estimator builds the backbone and
# head for it, BuildInstanceSlots fills N slots. 3 and 4 use lambda_encoding='binary'.
num_instances = 2
lambda_encoding = 'one_hot'
codec = _base_.codec
model = dict(
    type='MultiInstanceTopdownPoseEstimator',
    # The authors feed BGR images to the ResNets (normalised with the RGB mean/std).
    data_preprocessor=dict(bgr_to_rgb=False),
    num_instances=num_instances,
    lambda_encoding=lambda_encoding,
    # MIMBs before layer3 and layer4, the authors' "last two ResNet blocks".
    backbone=dict(type='MIPResNet', mimb_before_layers=(3, 4)))
# The authors' ResNet augmentation: flip p 0.5, scale clip(1 + 0.3 n, 0.7, 1.3),
# rotation clip(40 n, -80, 80) with p 0.6, no shift, no half body.
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='ClippedRandomBBoxTransform', scale_sigma=0.3, rotate_sigma=40, rotate_prob=0.6,
         shift_prob=0.),
    dict(type='TopdownAffine', input_size=codec['input_size'],
         use_udp=codec['type'] == 'UDPHeatmap'),
    # The authors' choice of the other persons (see mipnet_hrnet-w32_3xb32-110e_coco-256x192.py).
    dict(type='BuildInstanceSlots', num_instances=num_instances, selection='authors',
         min_keypoints=4, drop_outside_crop=True, use_udp=codec['type'] == 'UDPHeatmap'),
    dict(type='GenerateTarget',
         encoder=dict(type='MultiInstanceCodec', encoder=codec)),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(batch_size=boxes_per_gpu,
                        dataset=dict(type='MultiInstance' + _base_.train_dataloader.dataset.type,
                                     pipeline=train_pipeline))
# COCO val with GT boxes (the authors' TEST.USE_GT_BBOX True).
val_dataloader = dict(dataset=dict(type='MultiInstance' + _base_.val_dataloader.dataset.type,
                                   bbox_file=None))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiInstanceCocoMetric', nms_thr=0.9)
test_evaluator = val_evaluator
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='MultiInstanceVisualizationHook', max_images=20),
    # One training run per work directory (checkpoints are not overwritten).
    dict(type='WorkDirLockHook'),
    # A corrupt or truncated checkpoint to load stops the run with an error naming it.
    dict(type='CheckpointFileCheckHook'),
]
# Checkpoints go to a temporary file, then are renamed: a killed run never leaves a
# half-written one (resume with --resume).
# The test-time n and λ>0 score decay (the authors' 0.5) have one owner, the
# test-time hook, addressed by name:
#   --cfg-options default_hooks.multi_instance_test.num_instances=1
default_hooks = dict(checkpoint=dict(backend_args=dict(backend='atomic_local')),
                     multi_instance_test=dict(type='MultiInstanceTestHook',
                                              lambda_score_decay=0.5))
# --------------------------------------------------------------------------
