"""MIPNet (Multi-Instance Pose Networks, ICCV 2021) as an MMPose plugin."""
from .version import __version__

__all__ = ['__version__']
