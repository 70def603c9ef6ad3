# The W48 COCO MIPNet model validated and tested with the AP_H 56 detector boxes
# (see mipnet_hrnet-w32_3xb32-110e_coco-256x192_det.py).
#
#   mim test mmpose configs/mipnet_hrnet-w48_4xb10-110e_coco-384x288_det.py --checkpoint CKPT
_base_ = ['./mipnet_hrnet-w48_4xb10-110e_coco-384x288.py']

val_dataloader = dict(dataset=dict(bbox_file=_base_.coco_det_file))
test_dataloader = val_dataloader
