# MIPNet (N = 2) on the bundled COCO-WholeBody sample: 133 keypoints (body, feet,
# face, hands), under a minute on 2 CPU cores (44 s alone on the machine, 2026-12-03).
#
# The README's sample model (configs/mipnet_sample_hrnet-w16_coco-mini-128x96.py:
# a narrow HRNet at 128x96, its pipelines, hooks and optimizer), trained from
# scratch on the 4 real COCO val2017 images of data/sample/coco with their
# COCO-WholeBody annotations (12 persons with keypoints, up to 5 per image, so most
# boxes have neighbours for λ = 1), and validated on the same images (GT boxes)
# with the whole-body metric that merges both poses of every box. It shows the
# whole-body path working (data set, instance slots, N poses, merged metric,
# pictures with the 133-keypoint skeleton); it is not a model to use: for real
# training see configs/mipnet_hrnet-w32_8xb64-210e_coco-wholebody-256x192.py.
#
#   mim train mmpose configs/mipnet_sample_hrnet-w16_coco-wholebody-128x96.py \
#       --work-dir work_dirs/mipnet_sample_wholebody
_base_ = ['./mipnet_sample_hrnet-w16_coco-mini-128x96.py']

# 12 boxes: 2 iterations per epoch at batch size 8.
train_cfg = dict(max_epochs=120, val_interval=60)
param_scheduler = [dict(type='MultiStepLR', begin=0, end=120, milestones=[100], gamma=0.1,
                        by_epoch=True)]
default_hooks = dict(checkpoint=dict(interval=60, save_best='coco-wholebody/AP'))

model = dict(head=dict(out_channels=133))  # COCO-WholeBody's keypoints

# Read by MMPose's inferencer: whole-body keypoints, its skeleton and detector.
dataset_type = 'CocoWholeBodyDataset'
ann_file = 'coco/test_coco_wholebody.json'
train_dataloader = dict(dataset=dict(type='MultiInstanceCocoWholeBodyDataset',
                                     ann_file=ann_file, data_prefix=dict(img='coco/')))
val_dataloader = dict(dataset=dict(type='MultiInstanceCocoWholeBodyDataset',
                                   ann_file=ann_file, data_prefix=dict(img='coco/')))
test_dataloader = val_dataloader

# Every (box, λ) pose kept, rescored and merged per image by OKS-NMS (threshold 0.9)
# with the 133 whole-body sigmas; then the stock body, foot, face, hand and
# whole-body evaluation.
val_evaluator = dict(type='MultiInstanceCocoWholeBodyMetric',
                     ann_file='data/sample/' + ann_file)
test_evaluator = val_evaluator
