from .mip_hrnet import MIPHRNet
from .mip_resnet import MIPResNet
from .multi_instance_backbone import (
    MULTI_STAGE_BACKBONES,
    build_multi_instance_backbone,
    check_not_multi_stage,
    multi_instance_class,
)
from .multi_instance_mixin import MIMBSite, MultiInstanceBackboneMixin, family_mimb_init_std

__all__ = [
    'MIPHRNet', 'MIPResNet', 'MIMBSite', 'MultiInstanceBackboneMixin',
    'build_multi_instance_backbone', 'check_not_multi_stage', 'multi_instance_class',
    'MULTI_STAGE_BACKBONES', 'family_mimb_init_std'
]
