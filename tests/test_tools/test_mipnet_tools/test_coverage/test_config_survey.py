"""mipnet_tools.coverage.config_survey on MMPose 1.3.2's installed configs."""
import os.path as osp

import pytest

from mipnet_tools.coverage.config_survey import TASKS, group_configs, resolve_task, survey_configs


@pytest.fixture(scope='module')
def coco_body():
    return survey_configs(['body'], ['coco'])


def test_coco_body_groups_by_training_data_and_family(coco_body):
    groups = group_configs(coco_body.entries)
    # Every top-down config is in one group.
    assert sum(len(p) for p in groups.values()) == len(coco_body.entries)
    coco_only = {k[3] for k in groups if k[2] == 'Coco'}
    assert len(coco_only) == 34  # the families of the earlier COCO-only table
    # COCO + AIC configs (CombinedDataset, RepeatDataset of COCO) form their own groups.
    mixed = [k for k in groups if k[2] == 'Coco + Aic']
    assert ('body_2d_keypoint', 'coco', 'Coco + Aic', 'ResNet/VisPredictHead/MSRAHeatmap') in mixed
    assert all('aic' in osp.basename(p) for k in mixed for p in groups[k])
    assert not any('aic' in osp.basename(p) for k in groups if k[2] == 'Coco'
                   for p in groups[k])
    # The smallest input first, then by name.
    hrnet = groups[('body_2d_keypoint', 'coco', 'Coco', 'HRNet/HeatmapHead/MSRAHeatmap')]
    assert osp.basename(hrnet[0]) == 'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py'
    # Bottom-up configs of the folder are counted, not grouped.
    assert coco_body.not_top_down['body_2d_keypoint']['BottomupPoseEstimator'] > 0
    assert all(e.task == 'body_2d_keypoint' and e.dataset == 'coco' for e in coco_body.entries)


def test_combined_training_data_name_every_part_once():
    survey = survey_configs(['wholebody'], ['ubody'])
    assert {e.training_data for e in survey.entries} == {'CocoWholeBody + UBody2d'}


def test_tasks_by_first_word_and_unknown_ones_named():
    assert resolve_task('hand') == 'hand_2d_keypoint'
    assert resolve_task('face_2d_keypoint') == 'face_2d_keypoint'
    with pytest.raises(ValueError, match=r"unknown task 'body3d'.*fashion_2d_keypoint"):
        survey_configs(['body3d'])
    assert TASKS[0] == 'body_2d_keypoint'
