from .multi_instance_drawing import (
    LAMBDA_COLOURS,
    draw_merged_poses,
    draw_multi_instance_poses,
    lambda_colour,
    legend_text_pixels,
    readable_sizes,
)

__all__ = ['LAMBDA_COLOURS', 'draw_merged_poses', 'draw_multi_instance_poses', 'lambda_colour',
           'legend_text_pixels', 'readable_sizes']
