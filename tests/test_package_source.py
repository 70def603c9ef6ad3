"""The package builds its classes from configs: no class swap, no peeking at callers' frames."""
import re

import pytest

from tests.conftest import REPO

PACKAGE = REPO / 'mipnet_mmpose'

# A class assigned to an existing object (``obj.__class__ = ...``), and a look at
# the caller's stack frames.
FORBIDDEN = {
    '__class__ assignment': re.compile(r'\.__class__\s*=(?!=)'),
    'sys._getframe': re.compile(r'\b_getframe\b'),
}


@pytest.mark.parametrize('what', sorted(FORBIDDEN))
def test_package_source_has_no(what):
    pattern = FORBIDDEN[what]
    found = [f'{path.relative_to(REPO)}:{number}: {line.strip()}'
             for path in sorted(PACKAGE.rglob('*.py'))
             for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1)
             if pattern.search(line)]
    assert not found, '\n'.join(found)
