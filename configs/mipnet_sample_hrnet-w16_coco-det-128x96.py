# Test the sample model with detector boxes: the COCO sample's 4 images with the
# person detections of a Faster R-CNN (AP_H 56) in mmdet/COCO results format.
#
#   mim test mmpose configs/mipnet_sample_hrnet-w16_coco-det-128x96.py \
#       --checkpoint work_dirs/mipnet_sample/epoch_80.pth
_base_ = ['./mipnet_sample_hrnet-w16_coco-mini-128x96.py']

test_dataloader = dict(
    dataset=dict(
        type='MultiInstanceCocoDataset',
        ann_file='coco/test_coco.json',
        bbox_file='data/sample/coco/test_coco_det_AP_H_56.json',
        data_prefix=dict(img='coco/'),
        filter_cfg=dict(bbox_score_thr=0.3)))
test_evaluator = dict(type='MultiInstanceCocoMetric', ann_file='data/sample/coco/test_coco.json')
