# MIPNet (N=2) version of mmpose::wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/td-hm_hrnet-w32_8xb64-210e_coco-wholebody-256x192.py,
# written by tools/convert_config.py: the stock config plus what MIPNet changes.
_base_ = ['mmpose::wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/td-hm_hrnet-w32_8xb64-210e_coco-wholebody-256x192.py']

# N, poses per box (λ = 0..N-1): set once, read by the model and the
# instance slots of the training pipeline(s).
num_instances = 2

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=(192, 256)),
    dict(type='BuildInstanceSlots', num_instances=num_instances, use_udp=False),
    dict(
        type='GenerateTarget',
        encoder=dict(
            type='MultiInstanceCodec',
            encoder=dict(type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2))),
    dict(type='PackPoseInputs'),
]
default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')),
    multi_instance_test=dict(type='MultiInstanceTestHook'))
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='MultiInstanceVisualizationHook', max_images=20),
    dict(type='WorkDirLockHook'),
    dict(type='CheckpointFileCheckHook'),
]
model = dict(
    type='MultiInstanceTopdownPoseEstimator',
    num_instances=num_instances,
    lambda_encoding='one_hot')
train_dataloader = dict(dataset=dict(type='MultiInstanceCocoWholeBodyDataset', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='MultiInstanceCocoWholeBodyDataset'))
test_dataloader = dict(dataset=dict(type='MultiInstanceCocoWholeBodyDataset'))
val_evaluator = dict(type='MultiInstanceCocoWholeBodyMetric')
test_evaluator = dict(type='MultiInstanceCocoWholeBodyMetric')
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)
# stamp of tools/convert_config.py (sha256 of the other lines; an edited file is not overwritten): a3834692cb339ae7728ff12a3f3a30e984a165798c879ee25919f636aea3231b
