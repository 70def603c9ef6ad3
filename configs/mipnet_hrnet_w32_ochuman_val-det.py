# The OCHuman W32 MIPNet model tested on OCHuman val with the authors' detector boxes
# (Faster R-CNN, AP_H 27), every detection kept (their TEST.IMAGE_THRE 0.0), OKS-NMS 0.9.
_base_ = ['./mipnet_hrnet_w32_ochuman.py']

test_dataloader = dict(dataset=dict(bbox_file=_base_.ochuman_splits.val.bbox_file))
