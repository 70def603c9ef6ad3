# MIPNet HRNet-W32 256x192 on COCO, N=2, trained as the authors trained it.
#
# MMPose's stock HRNet-W32 config plus the MIPNet overrides below. Every setting
# that decides the result follows the authors' public code (rawalkhirodkar/MIPNet):
#   scripts/train/lambda/train.sh lines 31-57: 3 GPUs x 32 boxes, Adam lr 1e-3,
#     110 epochs, steps 70/100, initialised from the HRNet-W32 COCO model
#     (TEST.MODEL_FILE), validated every epoch on COCO val with GT boxes;
#   experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml lines 13-24, 91-121:
#     flip, half body p 0.3, scale 0.35, rotation 45, RGB input, OKS-NMS 0.9.
# docs/reproduce.md lists every setting with its source and what we do differently.
#
#   mim train mmpose configs/mipnet_hrnet-w32_3xb32-110e_coco-256x192.py --launcher pytorch --gpus 3
#
# Validation and test use COCO val with GT boxes (the paper's COCO val table);
# the `_det` config tests with the AP_H_56 detector boxes instead.
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py']

# The start checkpoint: a COCO HRNet-W32 256x192 pose model; MIMB weights start
# from their init (mmengine reports them as missing keys, nothing else).
#   authors: HRNet's own release, pose_hrnet_w32_256x192.pth (TEST.MODEL_FILE of
#     scripts/train/lambda/train.sh line 36), converted with
#     tools/convert_official_ckpt.py --release (see docs/reproduce.md);
#   mmpose: MMPose's HRNet-W32 model (same architecture and data; its AP differs
#     by a few tenths). Choose with --cfg-options load_from=...
start_checkpoints = dict(
    authors='checkpoints/pose_hrnet_w32_256x192_mmpose.pth',
    mmpose='checkpoints/td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth')
load_from = start_checkpoints['authors']

# The authors' boxes per step: GPUs x boxes per GPU. --auto-scale-lr scales the
# lr from this batch when you train on another number of GPUs.
num_gpus, boxes_per_gpu = 3, 32
auto_scale_lr = dict(base_batch_size=num_gpus * boxes_per_gpu)
# Validated every epoch, as the authors (EPOCH_EVAL_FREQ 1); the best COCO AP
# checkpoint is kept (save_best of the base).
train_cfg = dict(max_epochs=110, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
# No warm-up: the authors' schedule is MultiStepLR alone (tools/lambda/train_lambda_real.py
# lines 231-234).
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=110, milestones=[70, 100], gamma=0.1, by_epoch=True),
]

# The person detections (AP_H 56) that MMPose and the authors test COCO val with
# (w32_256x192_adam_lr1e-3.yaml line 111), used by the `_det` configs.
coco_det_file = 'data/coco/person_detection_results/COCO_val2017_detections_AP_H_56_person.json'

# ---------------------------- MIPNet overrides ----------------------------
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)
# N poses per box (λ = 0..N-1), set once: the estimator builds the backbone and
# head for it, BuildInstanceSlots fills N slots. 3 and 4 use lambda_encoding='binary'.
num_instances = 2
lambda_encoding = 'one_hot'
codec = _base_.codec
# The stock HRNet and HeatmapHead of the base: the estimator builds them as
# MIPHRNet (MIMBs on stage 4) and a head trained on all N instances.
model = dict(
    type='MultiInstanceTopdownPoseEstimator',
    num_instances=num_instances,
    lambda_encoding=lambda_encoding,
    backbone=dict(init_cfg=None))  # the weights come from load_from
# The authors' augmentation (JointsLambdaDataset.__getitem__, lines 179-201): half
# body with p 0.3 on persons with > 8 labelled keypoints, upper body first when
# randn() < 0.5 (p 0.6915) and > 2 upper keypoints; scale clip(1 + 0.35 n, 0.65,
# 1.35), rotation clip(45 n, -90, 90) with p 0.6, no shift; flip p 0.5. Then the
# instance slots (keypoints outside the crop get no target, as the authors) and one
# heatmap set per instance.
# The other persons of a box, two rules (BuildInstanceSlots):
#   authors (used here): the N-1 nearest other persons, each replaced by the box's
#     own person when at most 3 of its labelled keypoints lie in the crop
#     (lib/dataset/coco_lambda.py lines 215-230, JointsLambdaDataset.py lines
#     214-218; N=3/4: JointsLambdaGeneralDataset.py lines 259-268, 397-412);
#   paper: the nearest N-1 of the other persons with >= 3 labelled keypoints in the
#     crop (the *_paper-selection config).
neighbour_rules = dict(authors=dict(selection='authors', min_keypoints=4),
                       paper=dict(selection='paper', min_keypoints=3))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody', prob=0.3, min_total_keypoints=9, min_upper_keypoints=3,
         min_lower_keypoints=3, upper_prioritized_prob=0.6915),
    dict(type='ClippedRandomBBoxTransform', scale_sigma=0.35, rotate_sigma=45, rotate_prob=0.6,
         shift_prob=0.),
    dict(type='TopdownAffine', input_size=codec['input_size'],
         use_udp=codec['type'] == 'UDPHeatmap'),
    dict(type='BuildInstanceSlots', num_instances=num_instances, **neighbour_rules['authors'],
         drop_outside_crop=True, use_udp=codec['type'] == 'UDPHeatmap'),
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
