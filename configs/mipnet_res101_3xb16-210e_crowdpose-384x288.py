# MIPNet SimpleBaseline ResNet-101 384x288 on CrowdPose, N=2, trained as the authors
# trained it: scripts/train/lambda/crowdpose/train_lambda_real.sh lines 125-150:
# 3 GPUs x 16 boxes, 210 epochs, MIMB before layer4 only (SE_MODULES
# [False, False, False, True]), from ImageNet weights; the script sets no LR_STEP, so
# the steps are the yaml's 90/120 (experiments/crowdpose/resnet/
# res101_384x288_d256x3_adam_lr1e-3.yaml lines 57-59), with BGR input, scale 0.3,
# rotation 40 and no half body (lines 14-21). Data protocol: the W32 CrowdPose
# MIPNet config's (train -> val, GT boxes, no OKS-NMS).
_base_ = ['./mipnet_hrnet-w32_3xb32-210e_crowdpose-256x192.py']

num_gpus, boxes_per_gpu = 3, 16
auto_scale_lr = dict(base_batch_size=num_gpus * boxes_per_gpu)
param_scheduler = [
    dict(type='MultiStepLR', begin=0, end=210, milestones=[90, 120], gamma=0.1, by_epoch=True),
]

codec = dict(type='MSRAHeatmap', input_size=(288, 384), heatmap_size=(72, 96), sigma=3)
model = dict(
    # The authors feed BGR images to the ResNets (normalised with the RGB mean/std).
    data_preprocessor=dict(bgr_to_rgb=False),
    backbone=dict(
        _delete_=True,
        type='MIPResNet',
        depth=101,
        mimb_before_layers=(4, ),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet101')),
    head=dict(in_channels=2048, deconv_out_channels=(256, 256, 256),
              deconv_kernel_sizes=(4, 4, 4), decoder=codec))
# The authors' ResNet augmentation: no half body, scale 0.3, rotation 40.
train_pipeline = [
    dict(t, scale_sigma=0.3, rotate_sigma=40) if t['type'] == 'ClippedRandomBBoxTransform' else
    dict(t, input_size=codec['input_size']) if t['type'] == 'TopdownAffine' else
    dict(t, encoder=dict(t['encoder'], encoder=codec)) if t['type'] == 'GenerateTarget' else t
    for t in _base_.train_pipeline if t['type'] != 'RandomHalfBody'
]
val_pipeline = [
    dict(t, input_size=codec['input_size']) if t['type'] == 'TopdownAffine' else t
    for t in _base_.val_pipeline
]
train_dataloader = dict(batch_size=boxes_per_gpu, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
