# MIPNet N=4, HRNet-W48 384x288 on COCO, all four slots trained in one optimizer
# step per batch (our way: the λ-independent trunk runs once per box, one update over
# the B x 4 rows) instead of the authors' four sequential updates
# (mipnet-n4_hrnet-w48_3xb16-110e_coco-384x288.py). Not the paper's run: its AP is not
# the paper's N = 4 figure (no AP was measured for it).
_base_ = ['./mipnet-n4_hrnet-w48_3xb16-110e_coco-384x288.py']

optimizer_step_per_lambda = False
model = dict(optimizer_step_per_lambda=optimizer_step_per_lambda)
model_wrapper_cfg = None
