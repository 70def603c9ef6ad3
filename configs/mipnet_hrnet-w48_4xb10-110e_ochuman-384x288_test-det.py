# The OCHuman W48 MIPNet model tested on OCHuman test with detector boxes for the
# test images (see _base_/ochuman_protocol.py), every detection kept, OKS-NMS 0.9.
_base_ = ['./mipnet_hrnet-w48_4xb10-110e_ochuman-384x288_test.py']

test_dataloader = dict(dataset=dict(bbox_file=_base_.ochuman_splits.test.bbox_file))
