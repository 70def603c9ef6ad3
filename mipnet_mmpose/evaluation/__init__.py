"""Evaluation components of MIPNet."""
from .metrics import MultiInstanceCocoMetric, PoseId

__all__ = ['MultiInstanceCocoMetric', 'PoseId']
