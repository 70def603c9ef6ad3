# MIPNet (N=2) version of mmpose::animal_2d_keypoint/topdown_heatmap/ap10k/td-hm_hrnet-w32_8xb64-210e_ap10k-256x256.py,
# written by tools/convert_config.py: the stock config plus what MIPNet changes.
_base_ = ['mmpose::animal_2d_keypoint/topdown_heatmap/ap10k/td-hm_hrnet-w32_8xb64-210e_ap10k-256x256.py']

# N, poses per box (λ = 0..N-1): set once, read by the model and the
# instance slots of the training pipeline(s).
num_instances = 2

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform'),
    dict(type='TopdownAffine', input_size=(256, 256)),
    dict(type='BuildInstanceSlots', num_instances=num_instances, use_udp=False),
    dict(
        type='GenerateTarget',
        encoder=dict(
            type='MultiInstanceCodec',
            encoder=dict(type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2))),
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
train_dataloader = dict(dataset=dict(type='MultiInstanceAP10KDataset', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='MultiInstanceAP10KDataset'))
test_dataloader = dict(dataset=dict(type='MultiInstanceAP10KDataset'))
val_evaluator = dict(type='MultiInstanceCocoMetric')
test_evaluator = dict(type='MultiInstanceCocoMetric')
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)
# stamp of tools/convert_config.py (sha256 of the other lines; an edited file is not overwritten): f99fd7c2a8e33f198c0a6f8cb1ab8f904917c8ccdafd3af88191c444683b6beb
