# MIPNet (N=2) version of mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py,
# written by tools/convert_config.py: the stock config plus what MIPNet changes.
_base_ = ['mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py']

# N, poses per box (λ = 0..N-1): set once, read by the model and the
# instance slots of the training pipeline(s).
num_instances = 2

train_pipeline = [
    dict(type='LoadImage', backend_args=dict(backend='local')),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', scale_factor=[0.6, 1.4], rotate_factor=80),
    dict(type='TopdownAffine', input_size=(192, 256)),
    dict(type='BuildInstanceSlots', num_instances=num_instances, use_udp=False),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(
        type='Albumentation',
        transforms=[
            dict(type='Blur', p=0.1),
            dict(type='MedianBlur', p=0.1),
            dict(
                type='CoarseDropout',
                max_holes=1,
                max_height=0.4,
                max_width=0.4,
                min_holes=1,
                min_height=0.2,
                min_width=0.2,
                p=1.0),
        ]),
    dict(
        type='GenerateTarget',
        encoder=dict(
            type='MultiInstanceCodec',
            encoder=dict(
                type='SimCCLabel',
                input_size=(192, 256),
                sigma=(4.9, 5.66),
                simcc_split_ratio=2.0,
                normalize=False,
                use_dark=False))),
    dict(type='PackPoseInputs'),
]
train_pipeline_stage2 = [
    dict(type='LoadImage', backend_args=dict(backend='local')),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(
        type='RandomBBoxTransform',
        shift_factor=0.0,
        scale_factor=[0.75, 1.25],
        rotate_factor=60),
    dict(type='TopdownAffine', input_size=(192, 256)),
    dict(type='BuildInstanceSlots', num_instances=num_instances, use_udp=False),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(
        type='Albumentation',
        transforms=[
            dict(type='Blur', p=0.1),
            dict(type='MedianBlur', p=0.1),
            dict(
                type='CoarseDropout',
                max_holes=1,
                max_height=0.4,
                max_width=0.4,
                min_holes=1,
                min_height=0.2,
                min_width=0.2,
                p=0.5),
        ]),
    dict(
        type='GenerateTarget',
        encoder=dict(
            type='MultiInstanceCodec',
            encoder=dict(
                type='SimCCLabel',
                input_size=(192, 256),
                sigma=(4.9, 5.66),
                simcc_split_ratio=2.0,
                normalize=False,
                use_dark=False))),
    dict(type='PackPoseInputs'),
]
default_hooks = dict(
    checkpoint=dict(backend_args=dict(backend='atomic_local')),
    multi_instance_test=dict(type='MultiInstanceTestHook'))
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49),
    dict(
        type='mmdet.PipelineSwitchHook',
        switch_epoch=390,
        switch_pipeline=train_pipeline_stage2),
    dict(type='MultiInstanceVisualizationHook', max_images=20),
    dict(type='WorkDirLockHook'),
    dict(type='CheckpointFileCheckHook'),
]
model = dict(
    type='MultiInstanceTopdownPoseEstimator',
    num_instances=num_instances,
    lambda_encoding='one_hot')
train_dataloader = dict(dataset=dict(type='MultiInstanceCocoDataset', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(type='MultiInstanceCocoDataset'))
test_dataloader = dict(dataset=dict(type='MultiInstanceCocoDataset'))
val_evaluator = dict(type='MultiInstanceCocoMetric')
test_evaluator = dict(type='MultiInstanceCocoMetric')
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)
# stamp of tools/convert_config.py (sha256 of the other lines; an edited file is not overwritten): 780eb126bebc7638d40f861716ffed9abcdb143b2272c3efb600840d1e65e97c
