# MIPNet with N=4 (λ = 0..3), HRNet-W48 384x288 on COCO: the W48 N=2 config with
# the authors' N=4 run (scripts/train/lambda_general/coco/train_lambda_real_0123.sh
# lines 4-30: 3 GPUs x 16 boxes) and their 2-bit λ code for N > 2.
_base_ = ['./mipnet_hrnet-w48_4xb10-110e_coco-384x288.py']

num_instances = 4
lambda_encoding = 'binary'
num_gpus, boxes_per_gpu = 3, 16
auto_scale_lr = dict(base_batch_size=num_gpus * boxes_per_gpu)
model = dict(num_instances=num_instances, lambda_encoding=lambda_encoding)
train_pipeline = [
    dict(t, num_instances=num_instances) if t['type'] == 'BuildInstanceSlots' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(batch_size=boxes_per_gpu, dataset=dict(pipeline=train_pipeline))
