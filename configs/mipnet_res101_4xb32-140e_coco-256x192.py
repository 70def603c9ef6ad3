# MIPNet SimpleBaseline ResNet-101 256x192 on COCO, N=2: the ResNet-50 MIPNet config
# with a deeper backbone, as the authors' res101 yaml differs from the res50 one only
# in the depth and its ImageNet weights (experiments/coco/resnet/res101_256x192_d256x3_adam_lr1e-3.yaml).
_base_ = ['./mipnet_res50_4xb32-140e_coco-256x192.py']

model = dict(backbone=dict(depth=101, init_cfg=dict(checkpoint='torchvision://resnet101')))
