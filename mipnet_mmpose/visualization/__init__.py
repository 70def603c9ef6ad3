from .multi_instance_drawing import LAMBDA_COLOURS, draw_multi_instance_poses, lambda_colour

__all__ = ['LAMBDA_COLOURS', 'draw_multi_instance_poses', 'lambda_colour']
