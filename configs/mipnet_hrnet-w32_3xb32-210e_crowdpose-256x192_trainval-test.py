# The W32 CrowdPose MIPNet config under MMPose's CrowdPose protocol: train on
# trainval, validate and test on test with MMPose's detector boxes. Everything else
# (schedule, ImageNet start, no OKS-NMS) stays the authors'.
_base_ = ['./mipnet_hrnet-w32_3xb32-210e_crowdpose-256x192.py']

protocol = _base_.crowdpose_splits.mmpose
train_dataloader = dict(dataset=dict(ann_file=protocol.train))
val_dataloader = dict(dataset=dict(ann_file=protocol.test, bbox_file=protocol.bbox_file))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=_base_.data_root + protocol.test)
test_evaluator = val_evaluator
