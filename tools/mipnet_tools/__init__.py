"""Shared code of the scripts in ``tools/``: surveys, measurements and data preparation.

Not part of the plugin package ``mipnet_mmpose`` (which holds what configs and users'
Python import). The scripts import it as ``mipnet_tools``: ``python tools/x.py`` has
``tools/`` on ``sys.path`` already; the scripts one folder deeper (``tools/analysis/``,
``tools/experiments/``) and the tests (``tests/conftest.py``) put it there.
"""
