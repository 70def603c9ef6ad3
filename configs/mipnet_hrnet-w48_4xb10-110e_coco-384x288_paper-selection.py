# The W48 COCO MIPNet model with the paper's choice of the other persons instead of
# the authors' code's (every other reproduction config uses the authors'):
#   paper (here): the other persons with >= 3 labelled keypoints inside the crop,
#     nearest first (filter, then order);
#   authors' code: the nearest other person, replaced by the box's own person when at
#     most 3 of its labelled keypoints lie inside the crop (order, then filter:
#     lib/dataset/coco_lambda.py lines 215-230, JointsLambdaDataset.py lines 214-218).
# With the authors' order a nearer person with few visible keypoints hides a farther
# one that would qualify. Not the authors' training: its AP is not the paper's.
#
#   mim train mmpose configs/mipnet_hrnet-w48_4xb10-110e_coco-384x288_paper-selection.py --launcher pytorch --gpus 4
_base_ = ['./mipnet_hrnet-w48_4xb10-110e_coco-384x288.py']

train_pipeline = [
    dict(t, **_base_.neighbour_rules['paper']) if t['type'] == 'BuildInstanceSlots' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
