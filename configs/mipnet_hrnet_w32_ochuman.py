# MIPNet HRNet-W32 256x192, N=2, for OCHuman (the project's main config; in MMPose's naming
# scheme it would read mipnet_hrnet-w32_3xb32-110e_ochuman-256x192: 3 GPUs x 32 boxes, 110
# epochs): trained and validated on COCO exactly as
# mipnet_hrnet-w32_3xb32-110e_coco-256x192.py (best checkpoint by COCO val AP), then
# tested on OCHuman, which has no training split (see _base_/ochuman_protocol.py).
# This config tests OCHuman val with GT boxes; its children test the other cases:
#   mipnet_hrnet_w32_ochuman_val-det.py   OCHuman val, detector boxes (AP_H 27)
#   mipnet_hrnet_w32_ochuman_test.py      OCHuman test, GT boxes
#   mipnet_hrnet_w32_ochuman_test-det.py  OCHuman test, detector boxes
#
#   mim train mmpose configs/mipnet_hrnet_w32_ochuman.py --launcher pytorch --gpus 3
#   mim test mmpose configs/mipnet_hrnet_w32_ochuman.py --checkpoint work_dirs/mipnet_hrnet_w32_ochuman/best_coco_AP_epoch_*.pth
#   mim test mmpose configs/mipnet_hrnet_w32_ochuman_val-det.py --checkpoint CKPT
_base_ = ['./mipnet_hrnet-w32_3xb32-110e_coco-256x192.py', './_base_/ochuman_protocol.py']

test_dataloader = dict(
    dataset=dict(_delete_=True, **_base_.ochuman_test_dataset, pipeline=_base_.val_pipeline))
test_evaluator = dict(ann_file=_base_.ochuman_data_root + _base_.ochuman_splits.val.ann_file)
