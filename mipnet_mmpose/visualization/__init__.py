from .multi_instance_drawing import (
    LAMBDA_COLOURS,
    draw_merged_poses,
    draw_multi_instance_poses,
    lambda_colour,
    readable_sizes,
)

__all__ = ['LAMBDA_COLOURS', 'draw_merged_poses', 'draw_multi_instance_poses', 'lambda_colour',
           'readable_sizes']
