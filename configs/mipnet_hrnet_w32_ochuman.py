# MIPNet HRNet-W32 256x192, N=2: trained on COCO train2017, validated and tested on
# OCHuman (which has no training split), as in the paper.
#
#   mim train mmpose configs/mipnet_hrnet_w32_ochuman.py
#   mim test mmpose configs/mipnet_hrnet_w32_ochuman.py --checkpoint CKPT
#   # detector boxes (Faster R-CNN, AP_H 27) instead of GT boxes:
#   mim test mmpose configs/mipnet_hrnet_w32_ochuman.py --checkpoint CKPT --cfg-options \
#     test_dataloader.dataset.bbox_file=data/ochuman/OCHuman_val2017_detections_AP_H_27_person.json
#
# Expected layout: data/coco/ as for MMPose's COCO configs; data/ochuman/ with
# annotations/ochuman_coco_format_{val,test}_range_0.00_1.00.json and images/.
_base_ = ['./mipnet_hrnet-w32_8xb32-110e_coco-256x192.py']

ochuman_root = 'data/ochuman/'
val_ann = 'annotations/ochuman_coco_format_val_range_0.00_1.00.json'
test_ann = 'annotations/ochuman_coco_format_test_range_0.00_1.00.json'
ochuman_dataset = dict(
    _delete_=True,
    type='MultiInstanceOCHumanDataset',
    data_root=ochuman_root,
    data_mode='topdown',
    data_prefix=dict(img='images/'),
    test_mode=True,
    pipeline=_base_.val_pipeline)
val_dataloader = dict(dataset=dict(ochuman_dataset, ann_file=val_ann))
test_dataloader = dict(dataset=dict(ochuman_dataset, ann_file=test_ann))
val_evaluator = dict(type='MultiInstanceCocoMetric', ann_file=ochuman_root + val_ann)
test_evaluator = dict(type='MultiInstanceCocoMetric', ann_file=ochuman_root + test_ann)
default_hooks = dict(checkpoint=dict(save_best='coco/AP', rule='greater'))
