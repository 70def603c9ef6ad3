# MIPNet's runtime block, written once: the plugin import, the hooks every MIPNet run
# needs, and where the test-time settings live. A MIPNet config lists this file after
# its stock MMPose base:
#
#   _base_ = ['mmpose::<stock config>.py', './_base_/mipnet_runtime.py']
#   default_hooks = _base_.mipnet_default_hooks
#   custom_hooks = _base_.mipnet_custom_hooks
#
# The hooks are named `mipnet_*` here and assigned by the config because the stock base
# already sets `default_hooks` and `custom_hooks`, and mmengine refuses a key that two
# bases both set; assigned in the config, `default_hooks` merges into the stock one.
custom_imports = dict(imports=['mipnet_mmpose'], allow_failed_imports=False)

mipnet_default_hooks = dict(
    # Checkpoints go to a temporary file, then are renamed: a killed run never leaves a
    # half-written one (resume with --resume).
    checkpoint=dict(backend_args=dict(backend='atomic_local')),
    # The test-time n and λ>0 score decay (the authors' 0.5) have one owner, this hook,
    # addressed by name: --cfg-options default_hooks.multi_instance_test.num_instances=1
    multi_instance_test=dict(type='MultiInstanceTestHook', lambda_score_decay=0.5))

mipnet_custom_hooks = [
    dict(type='SyncBuffersHook'),
    # The poses the metric keeps, drawn per instance (λ=0 green, λ=1 orange ...).
    dict(type='MultiInstanceVisualizationHook', max_images=20),
    # One training run per work directory (checkpoints are not overwritten).
    dict(type='WorkDirLockHook'),
    # A corrupt or truncated load_from / resume checkpoint is named before mmengine loads it.
    dict(type='CheckpointFileCheckHook'),
]
