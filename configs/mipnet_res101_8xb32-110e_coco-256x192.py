# MIPNet SimpleBaseline ResNet-101 256x192 on COCO, N=2 (MIMBs before layer3 and layer4):
# the ResNet-50 MIPNet config with a deeper backbone (MMPose's two stock configs differ
# only in the depth), initialised from MMPose's ResNet-101 COCO checkpoint.
_base_ = ['./mipnet_res50_8xb32-110e_coco-256x192.py']

# Download MMPose's COCO checkpoint first (see README); MIMB weights start from their init.
load_from = 'checkpoints/td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth'
model = dict(backbone=dict(depth=101))
