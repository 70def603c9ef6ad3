"""Shared code of the scripts in ``tools/``: surveys, measurements and data preparation.

Not part of the plugin package ``mipnet_mmpose`` (which holds what configs and users'
Python import). The scripts import it as ``mipnet_tools``: ``python tools/x.py`` has
``tools/`` on ``sys.path`` already; the scripts one folder deeper (``tools/analysis/``,
``tools/experiments/``) and the tests (``tests/conftest.py``) put it there.

- ``coverage/``: MIPNet on MMPose's own top-down configs (``conversion_coverage.py``)
- ``data_layout``: the data files a config reads, their sources, the bundled samples
- ``detection_files``: person-detection files written with an mmdet detector
- ``instance_histogram``: the other persons inside each GT box (the paper's Fig. 4)
- ``metafile``: ``configs/metafile.yml`` from the configs (``write_metafile.py``)
- ``data_cost``: the data side at COCO scale (``data_cost.py``, the benchmark)
- ``models``, ``timing``, ``memory``, ``machine``, ``formatting``: what the
  measurements build, how they time and weigh it, and how they print it
"""
