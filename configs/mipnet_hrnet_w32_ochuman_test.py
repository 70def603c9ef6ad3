# The OCHuman W32 MIPNet model tested on OCHuman test with GT boxes.
_base_ = ['./mipnet_hrnet_w32_ochuman.py']

test_dataloader = dict(dataset=dict(ann_file=_base_.ochuman_splits.test.ann_file))
test_evaluator = dict(ann_file=_base_.ochuman_data_root + _base_.ochuman_splits.test.ann_file)
