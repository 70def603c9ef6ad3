"""Evaluation components of MIPNet."""
from .metrics import MultiInstanceCocoMetric, MultiInstanceCocoWholeBodyMetric, PoseId

__all__ = ['MultiInstanceCocoMetric', 'MultiInstanceCocoWholeBodyMetric', 'PoseId']
