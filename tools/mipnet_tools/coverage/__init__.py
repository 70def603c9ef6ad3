"""MIPNet on MMPose's own top-down configs: the survey, the sample data, the coverage."""
from .config_survey import ConfigEntry, family_of, group_configs, survey_configs
from .conversion_coverage import check_config, format_page, render_page, run_coverage, summary
from .sample_data import NoBundledSample, scale_input, stock_on_sample

__all__ = ['ConfigEntry', 'family_of', 'group_configs', 'survey_configs', 'check_config',
           'format_page', 'render_page', 'run_coverage', 'summary', 'NoBundledSample',
           'scale_input', 'stock_on_sample']
