# The W32 CrowdPose MIPNet config under MMPose's CrowdPose protocol: train on
# trainval, validate and test on test with MMPose's detector boxes. Everything else
# (schedule, ImageNet start, model, augmentation) stays the authors'. The evaluation is
# MMPose's too: detector boxes with OKS-NMS (the authors ran no detector boxes on
# CrowdPose; their GT-box protocol keeps no NMS).
_base_ = ['./mipnet_hrnet-w32_3xb32-210e_crowdpose-256x192.py']

protocol = _base_.crowdpose_splits.mmpose
train_dataloader = dict(dataset=dict(ann_file=protocol.train))
val_dataloader = dict(dataset=dict(ann_file=protocol.test, bbox_file=protocol.bbox_file))
test_dataloader = val_dataloader
# MMPose's CrowdPose evaluation: OKS-NMS at 0.9 (CocoMetric's defaults in MMPose's
# CrowdPose configs); only the authors' GT-box protocol submits every pose.
val_evaluator = dict(ann_file=_base_.data_root + protocol.test, nms_mode='oks_nms', nms_thr=0.9)
test_evaluator = val_evaluator
