# Kept as an alias of mipnet_hrnet-w48_4xb10-110e_coco-384x288.py, so earlier commands
# and work directories still work: every reproduction config now chooses the other
# persons of a box with the authors' rule (the nearest others, replaced by the box's
# own person when at most 3 of their labelled keypoints lie in the crop:
# lib/dataset/coco_lambda.py lines 215-230, lib/dataset/JointsLambdaDataset.py lines
# 214-218). The paper's rule is mipnet_hrnet-w48_4xb10-110e_coco-384x288_paper-selection.py.
_base_ = ['./mipnet_hrnet-w48_4xb10-110e_coco-384x288.py']
