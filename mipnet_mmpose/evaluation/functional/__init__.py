from .pose_merging import merge_instance_poses, rescore_poses

__all__ = ['merge_instance_poses', 'rescore_poses']
