from .mip_hrnet import MIPHRNet
from .mip_resnet import MIPResNet

__all__ = ['MIPHRNet', 'MIPResNet']
