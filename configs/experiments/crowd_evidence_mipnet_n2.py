# Crowd-evidence experiment, MIPNet (N=2 poses per box): the other half of the pair.
#
# Everything (data, schedule, seed, augmentation, backbone widths, input size, test
# settings) comes from the stock baseline config; only what MIPNet needs changes:
# MIMBs in the HRNet (MIPHRNet), an N-slot head and codec, the instance slots in the
# training pipeline, the multi-instance datasets (they attach each box's neighbours)
# and the metric that keeps every (box, λ) pose before OKS-NMS (threshold 0.9, as the
# stock CocoMetric). Run both with:
#
#   python tools/experiments/crowd_evidence.py
_base_ = ['./crowd_evidence_stock-hrnet_n1.py']

num_instances = 2  # N: poses per box (λ = 0..N-1)

# The stock HRNet and head of the base, built by the estimator as MIPHRNet and a
# head trained on all N instances.
model = dict(type='MultiInstanceTopdownPoseEstimator', num_instances=num_instances)

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', scale_factor=(0.65, 1.35), rotate_factor=45.0),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    # Stock MMPose targets (joints outside the crop keep a clipped Gaussian), as the
    # stock HRNet it is compared with: only the instance slots differ.
    dict(type='BuildInstanceSlots', num_instances=num_instances, min_keypoints=3,
         drop_outside_crop=False),
    dict(type='GenerateTarget',
         encoder=dict(type='MultiInstanceCodec', encoder={{_base_.codec}})),
    dict(type='PackPoseInputs'),
]
val_pipeline = {{_base_.val_pipeline}}

train_datasets = [
    dict(type='MultiInstanceCocoDataset',
         data_root='data/sample/',
         data_mode='topdown',
         ann_file='coco_mini/annotations/person_keypoints_train2017.json',
         data_prefix=dict(img='coco_mini/train2017/'),
         pipeline=train_pipeline),
    dict(type='MultiInstanceOCHumanDataset',
         data_root='data/sample/',
         data_mode='topdown',
         ann_file='ochuman/test_ochuman.json',
         data_prefix=dict(img='ochuman/'),
         pipeline=train_pipeline),
]
train_dataloader = dict(dataset=dict(datasets=train_datasets))
val_dataloader = dict(dataset=dict(type='MultiInstanceCocoDataset'))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiInstanceCocoMetric')
test_evaluator = val_evaluator
default_hooks = dict(multi_instance_test=dict(type='MultiInstanceTestHook'))
