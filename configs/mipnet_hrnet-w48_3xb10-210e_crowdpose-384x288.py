# MIPNet HRNet-W48 384x288 on CrowdPose, N=2 (the paper's CrowdPose model), trained
# as the authors trained it: scripts/train/lambda/crowdpose/train_lambda_real.sh
# lines 5-30: 3 GPUs x 10 boxes, 210 epochs, from ImageNet weights
# (experiments/crowdpose/hrnet/w48_384x288_adam_lr1e-3.yaml line 29: hrnet_w48-8ef0771d.pth);
# heatmap 96x72, sigma 3. Everything else is the W32 CrowdPose MIPNet config's.
_base_ = ['./mipnet_hrnet-w32_3xb32-210e_crowdpose-256x192.py']

num_gpus, boxes_per_gpu = 3, 10
auto_scale_lr = dict(base_batch_size=num_gpus * boxes_per_gpu)

codec = dict(type='MSRAHeatmap', input_size=(288, 384), heatmap_size=(72, 96), sigma=3)
model = dict(
    backbone=dict(
        extra=dict(
            stage2=dict(num_channels=(48, 96)),
            stage3=dict(num_channels=(48, 96, 192)),
            stage4=dict(num_channels=(48, 96, 192, 384))),
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmpose/'
                      'pretrain_models/hrnet_w48-8ef0771d.pth')),
    head=dict(in_channels=48, decoder=codec))
# The W32 config's pipelines, warping to the W48 input size and encoding W48 targets.
train_pipeline = [
    dict(t, input_size=codec['input_size']) if t['type'] == 'TopdownAffine' else
    dict(t, encoder=dict(t['encoder'], encoder=codec)) if t['type'] == 'GenerateTarget' else t
    for t in _base_.train_pipeline
]
val_pipeline = [
    dict(t, input_size=codec['input_size']) if t['type'] == 'TopdownAffine' else t
    for t in _base_.val_pipeline
]
train_dataloader = dict(batch_size=boxes_per_gpu, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
