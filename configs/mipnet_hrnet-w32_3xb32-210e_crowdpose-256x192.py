# MIPNet HRNet-W32 256x192 on CrowdPose, N=2, trained as the authors trained it:
# scripts/train/lambda/crowdpose/train_lambda_real.sh lines 94-119: 3 GPUs x 32 boxes,
# Adam lr 1e-3, 210 epochs (steps 170/200 from experiments/crowdpose/hrnet/
# w32_256x192_adam_lr1e-3.yaml lines 101-103), trained on CrowdPose train and
# validated every epoch on CrowdPose val with GT boxes, starting from ImageNet weights
# (the script sets no TEST.MODEL_FILE: no COCO pose model). No OKS-NMS: the authors
# submit every pose on CrowdPose. Same augmentation as the COCO HRNet configs.
# mipnet_hrnet-w32_3xb32-210e_crowdpose-256x192_trainval-test.py is MMPose's CrowdPose
# protocol instead (train on trainval, test on test with detector boxes).
_base_ = ['mmpose::body_2d_keypoint/topdown_heatmap/crowdpose/td-hm_hrnet-w32_8xb64-210e_crowdpose-256x192.py']

# ImageNet weights through the stock backbone init_cfg (hrnet_w32-36af842e.pth, the
# authors' MODEL.PRETRAINED); MIMB weights start from their init.
load_from = None

num_gpus, boxes_per_gpu = 3, 32
auto_scale_lr = dict(base_batch_size=num_gpus * boxes_per_gpu)
train_cfg = dict(max_epochs=210, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3))
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=210, milestones=[170, 200], gamma=0.1, by_epoch=True),
]
# The two CrowdPose protocols: the authors' (train -> val, GT boxes) here, MMPose's
# (trainval -> test, detector boxes) in the `_trainval-test` configs.
crowdpose_splits = dict(
    authors=dict(train='annotations/mmpose_crowdpose_train.json',
                 test='annotations/mmpose_crowdpose_val.json', bbox_file=None),
    mmpose=dict(train='annotations/mmpose_crowdpose_trainval.json',
                test='annotations/mmpose_crowdpose_test.json',
                bbox_file='data/crowdpose/annotations/det_for_crowd_test_0.1_0.5.json'))
protocol = crowdpose_splits['authors']

# ---------------------------- MIPNet overrides ----------------------------
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)
# N poses per box (λ = 0..N-1), set once: the estimator builds the backbone and
# head for it, BuildInstanceSlots fills N slots. 3 and 4 use lambda_encoding='binary'.
num_instances = 2
lambda_encoding = 'one_hot'
codec = _base_.codec
model = dict(type='MultiInstanceTopdownPoseEstimator', num_instances=num_instances,
             lambda_encoding=lambda_encoding)
# The authors' HRNet augmentation (see mipnet_hrnet-w32_3xb32-110e_coco-256x192.py).
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
    # The authors' choice of the other persons (see mipnet_hrnet-w32_3xb32-110e_coco-256x192.py).
    dict(type='BuildInstanceSlots', num_instances=num_instances, selection='authors',
         min_keypoints=4, drop_outside_crop=True, use_udp=codec['type'] == 'UDPHeatmap'),
    dict(type='GenerateTarget',
         encoder=dict(type='MultiInstanceCodec', encoder=codec)),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(batch_size=boxes_per_gpu,
                        dataset=dict(type='MultiInstance' + _base_.train_dataloader.dataset.type,
                                     ann_file=protocol['train'], pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='MultiInstance' + _base_.val_dataloader.dataset.type,
                                   ann_file=protocol['test'], bbox_file=protocol['bbox_file']))
test_dataloader = val_dataloader
# The authors' CrowdPose protocol submits all poses, without OKS-NMS.
val_evaluator = dict(type='MultiInstanceCocoMetric', nms_mode='none',
                     ann_file=_base_.data_root + protocol['test'])
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
