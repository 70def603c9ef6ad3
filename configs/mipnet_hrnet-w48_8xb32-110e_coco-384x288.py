# MIPNet HRNet-W48 384x288 on COCO, N=2 (the authors' released model is this one):
# the W32 COCO MIPNet config widened as MMPose's stock HRNet-W48 384x288 config,
# initialised from MMPose's HRNet-W48 384x288 COCO checkpoint; the authors' schedule.
_base_ = ['./mipnet_hrnet-w32_8xb32-110e_coco-256x192.py']

# Download MMPose's COCO checkpoint first (see README); MIMB weights start from their init.
load_from = 'checkpoints/td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth'

# HRNet-W48 at 384x288 (heatmap 96x72, sigma 3), as the authors' W48 models.
codec = dict(type='MSRAHeatmap', input_size=(288, 384), heatmap_size=(72, 96), sigma=3)
model = dict(
    backbone=dict(extra=dict(
        stage2=dict(num_channels=(48, 96)),
        stage3=dict(num_channels=(48, 96, 192)),
        stage4=dict(num_channels=(48, 96, 192, 384)))),
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
