# The OCHuman W32 MIPNet model tested on OCHuman test with detector boxes for the
# test images (see _base_/ochuman_protocol.py), every detection kept, OKS-NMS 0.9.
_base_ = ['./mipnet_hrnet_w32_ochuman_test.py']

test_dataloader = dict(dataset=dict(bbox_file=_base_.ochuman_splits.test.bbox_file))
