# The W32 COCO MIPNet model validated and tested with detector boxes instead of GT
# boxes: the person detections (AP_H 56) of MMPose's and the authors' COCO configs
# (experiments/coco/hrnet/w32_256x192_adam_lr1e-3.yaml line 111), every detection
# kept (the authors' TEST.IMAGE_THRE 0.0), OKS-NMS 0.9.
#
#   mim test mmpose configs/mipnet_hrnet-w32_3xb32-110e_coco-256x192_det.py --checkpoint CKPT
_base_ = ['./mipnet_hrnet-w32_3xb32-110e_coco-256x192.py']

val_dataloader = dict(dataset=dict(bbox_file=_base_.coco_det_file))
test_dataloader = val_dataloader
