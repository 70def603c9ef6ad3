# MIPNet HRNet-W48 384x288, N=2, for OCHuman (the model of the paper's OCHuman table):
# trained and validated on COCO exactly as mipnet_hrnet-w48_4xb10-110e_coco-384x288.py
# (best checkpoint by COCO val AP), then tested on OCHuman, which has no training
# split (see _base_/ochuman_protocol.py).
# This config tests OCHuman val with GT boxes; its children test the other cases:
#   mipnet_hrnet-w48_4xb10-110e_ochuman-384x288_val-det.py   OCHuman val, detector boxes (AP_H 27)
#   mipnet_hrnet-w48_4xb10-110e_ochuman-384x288_test.py      OCHuman test, GT boxes
#   mipnet_hrnet-w48_4xb10-110e_ochuman-384x288_test-det.py  OCHuman test, detector boxes
#
#   mim train mmpose configs/mipnet_hrnet-w48_4xb10-110e_ochuman-384x288.py --launcher pytorch --gpus 4
#   mim test mmpose configs/mipnet_hrnet-w48_4xb10-110e_ochuman-384x288.py --checkpoint work_dirs/mipnet_hrnet-w48_4xb10-110e_ochuman-384x288/best_coco_AP_epoch_*.pth
#   mim test mmpose configs/mipnet_hrnet-w48_4xb10-110e_ochuman-384x288_val-det.py --checkpoint CKPT
_base_ = ['./mipnet_hrnet-w48_4xb10-110e_coco-384x288.py', './_base_/ochuman_protocol.py']

test_dataloader = dict(
    dataset=dict(_delete_=True, **_base_.ochuman_test_dataset, pipeline=_base_.val_pipeline))
test_evaluator = dict(ann_file=_base_.ochuman_data_root + _base_.ochuman_splits.val.ann_file)
