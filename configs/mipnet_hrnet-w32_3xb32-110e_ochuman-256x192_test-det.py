# The OCHuman W32 MIPNet model tested on OCHuman test with detector boxes for the
# test images (see _base_/ochuman_protocol.py), every detection kept, OKS-NMS 0.9.
_base_ = ['./mipnet_hrnet-w32_3xb32-110e_ochuman-256x192_test.py']

test_dataloader = dict(dataset=dict(bbox_file=_base_.ochuman_splits.test.bbox_file))
