# MIPNet with N=3 (λ = 0, 1, 2: the box's own person and its two nearest others),
# HRNet-W32 256x192 on COCO: the W32 N=2 config with the authors' N=3 run
# (scripts/train/lambda_general/coco/train_lambda_real_012.sh lines 35-61: 3 GPUs
# x 20 boxes) and their 2-bit λ code for N > 2.
_base_ = ['./mipnet_hrnet-w32_3xb32-110e_coco-256x192.py']

num_instances = 3
lambda_encoding = 'binary'
num_gpus, boxes_per_gpu = 3, 20
auto_scale_lr = dict(base_batch_size=num_gpus * boxes_per_gpu)
model = dict(num_instances=num_instances, lambda_encoding=lambda_encoding)
train_pipeline = [
    dict(t, num_instances=num_instances) if t['type'] == 'BuildInstanceSlots' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(batch_size=boxes_per_gpu, dataset=dict(pipeline=train_pipeline))
