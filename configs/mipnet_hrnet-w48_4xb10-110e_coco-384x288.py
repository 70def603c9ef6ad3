# MIPNet HRNet-W48 384x288 on COCO, N=2: the model of the paper's COCO and OCHuman
# tables and of the authors' one released checkpoint, trained as they trained it:
# scripts/train/lambda/coco/train.sh lines 35-61: 4 GPUs x 10 boxes, Adam lr 1e-3,
# 110 epochs, steps 70/100, initialised from the HRNet-W48 384x288 COCO model;
# experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml: heatmap 96x72, sigma 3.
# Everything else is the W32 MIPNet config's (same augmentation and protocol).
#
#   mim train mmpose configs/mipnet_hrnet-w48_4xb10-110e_coco-384x288.py --launcher pytorch --gpus 4
_base_ = ['./mipnet_hrnet-w32_3xb32-110e_coco-256x192.py']

# The start checkpoint, a COCO HRNet-W48 384x288 pose model (see the W32 config):
#   authors: HRNet's release pose_hrnet_w48_384x288.pth (TEST.MODEL_FILE of
#     scripts/train/lambda/coco/train.sh line 40), converted with
#     tools/convert_official_ckpt.py --release;
#   mmpose: MMPose's HRNet-W48 384x288 model (--cfg-options load_from=...).
start_checkpoints = dict(
    authors='checkpoints/pose_hrnet_w48_384x288_mmpose.pth',
    mmpose='checkpoints/td-hm_hrnet-w48_8xb32-210e_coco-384x288-c161b7de_20220915.pth')
load_from = start_checkpoints['authors']

num_gpus, boxes_per_gpu = 4, 10
auto_scale_lr = dict(base_batch_size=num_gpus * boxes_per_gpu)

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
train_dataloader = dict(batch_size=boxes_per_gpu, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
