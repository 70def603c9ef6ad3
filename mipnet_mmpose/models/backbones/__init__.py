from .mip_hrnet import MIPHRNet
from .mip_resnet import MIPResNet
from .multi_instance_backbone import (
    MULTI_STAGE_BACKBONES,
    build_multi_instance_backbone,
    check_not_multi_stage,
    default_mimb_sites,
)
from .multi_instance_mixin import MIMBSite, MultiInstanceBackboneMixin, family_mimb_init_std

__all__ = [
    'MIPHRNet', 'MIPResNet', 'MIMBSite', 'MultiInstanceBackboneMixin',
    'build_multi_instance_backbone', 'default_mimb_sites', 'check_not_multi_stage',
    'MULTI_STAGE_BACKBONES', 'family_mimb_init_std'
]
