# MIPNet SimpleBaseline ResNet-152 256x192 on COCO, N=2: the ResNet-50 MIPNet config
# with a deeper backbone (experiments/coco/resnet/res152_256x192_d256x3_adam_lr1e-3.yaml).
_base_ = ['./mipnet_res50_4xb32-140e_coco-256x192.py']

model = dict(backbone=dict(depth=152, init_cfg=dict(checkpoint='torchvision://resnet152')))
