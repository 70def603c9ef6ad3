"""Every config path and checkpoint name in README.md and docs/*.md exists, or is made by a
command the docs give.

Configs: a file of configs/, MMPose's or MMDetection's (``mmpose::``, ``mmdet::``), or the
output of a documented ``tools/convert_config.py``. Checkpoints: in ``work_dirs/``, those of a
documented training (a config's or ``--work-dir``'s folder; ``epoch_<E>``/``best_*`` names);
in ``checkpoints/``, the output (or the download converted) of a documented
``tools/convert_official_ckpt.py`` or an MMPose model-zoo file (``mim download mmpose``); a
bare name, one of those or a file of HRNet's or MMPose's model zoo. Names with ``<...>``
placeholders and URLs are patterns, not files.
"""
import re
from pathlib import Path

import pytest

from mipnet_tools.start_checkpoints import checkpoint_origin, mmpose_weights_url
from tests.conftest import REPO

PAGES = [REPO / 'README.md', *sorted((REPO / 'docs').glob('*.md'))]
#: Files of the authors' and upstream code that the docs cite as such (what their scripts
#: load or write), not files a user of this repository makes.
CITED = {
    'checkpoint_103.pth': "the epoch the authors' OCHuman test script loads",
    'final_state.pth': "what the authors' training writes last",
    'resnet50-19c8e357.pth': "the authors' ImageNet ResNet-50 (torchvision's file)",
    'resnet101-5d3b4d8f.pth': "the authors' ImageNet ResNet-101 (torchvision's file)",
    'hrnet_w32-36af842e.pth': "MMPose's ImageNet HRNet-W32 (a URL in the config)",
    'hrnet_w48-8ef0771d.pth': "MMPose's ImageNet HRNet-W48 (a URL in the config)",
}
_RUN_FILE = re.compile(r'^(epoch_(\d+|E|\*)|best_\w+?_epoch_(\d+|E|\*))\.pth$')


def _texts() -> dict:
    # Backslash continuations joined, so that a command reads as one line.
    return {p: re.sub(r'\\\n\s*', ' ', p.read_text()) for p in PAGES}


def _commands(script: str) -> list:
    """The argument lists of every documented call of ``tools/<script>``."""
    out = []
    for text in _texts().values():
        for m in re.finditer(rf'tools/{re.escape(script)}((?: +[^\s`|;)]+)+)', text):
            out.append(m.group(1).split())
    return out


def _config_refs() -> set:
    refs = set()
    for page, text in _texts().items():
        for m in re.finditer(r'(?<![\w/:])(?:mmpose::|mmdet::)?configs/[\w./-]+\.py'
                             r'|(?:mmpose|mmdet)::[\w./-]+\.py', text):
            refs.add((page.name, m.group(0)))
    return refs


def _pth_refs() -> set:
    refs = set()
    for page, text in _texts().items():
        for m in re.finditer(r'[\w./<>*:-]+\.pth', text):
            refs.add((page.name, m.group(0)))
    return refs


def test_the_docs_name_configs_and_checkpoints():
    """The patterns find what the pages hold (guards the regular expressions)."""
    configs = {ref for _, ref in _config_refs()}
    assert 'configs/mipnet_hrnet_w32_ochuman.py' in configs
    assert 'configs/my_mipnet_vipnas.py' in configs
    assert any(ref.startswith('mmpose::') for ref in configs)
    names = {ref for _, ref in _pth_refs()}
    assert 'checkpoints/pose_hrnet_w32_256x192_mmpose.pth' in names
    assert 'work_dirs/my_mipnet_vipnas/best_coco_AP_epoch_*.pth' in names


def test_every_config_path_exists_or_is_written_by_a_documented_command():
    from mipnet_mmpose.conversion import resolve_config_path
    written = {args[1] for args in _commands('convert_config.py') if len(args) > 1}
    problems = []
    for page, ref in sorted(_config_refs()):
        if ref.startswith(('mmpose::', 'mmdet::')):
            try:
                ok = Path(resolve_config_path(ref)).is_file() if ref.startswith('mmpose::') \
                    else _mmdet_config(ref).is_file()
            except FileNotFoundError:
                ok = False
        else:
            ok = (REPO / ref).is_file() or ref in written
        if not ok:
            problems.append(f'{page}: {ref}')
    assert not problems, 'configs neither in the repository nor written by a documented ' \
        'tools/convert_config.py:\n' + '\n'.join(problems)


def _mmdet_root() -> Path:
    import mmdet
    return Path(mmdet.__file__).parent / '.mim' / 'configs'


def _mmdet_config(ref: str) -> Path:
    return _mmdet_root() / ref.removeprefix('mmdet::')


def _work_dirs() -> set:
    """The work folders of documented trainings: every config's stem and each --work-dir."""
    dirs = {p.stem for p in (REPO / 'configs').glob('*.py')}
    for text in _texts().values():
        dirs |= set(re.findall(r'--work-dir +work_dirs/([\w.-]+)', text))
        # configs the docs write (tools/convert_config.py) train into their own folder
        dirs |= {Path(args[1]).stem for args in _commands('convert_config.py') if len(args) > 1}
    return dirs


def _checkpoint_problem(ref: str, converted: set, converted_from: set) -> str:
    """'' when the name is in the repository or made by a documented command."""
    if '<' in ref or ref.startswith(('//', 'https:', 'http:')) or (REPO / ref).is_file():
        return ''
    path = Path(ref)
    if path.parts[0] == 'work_dirs':
        if len(path.parts) != 3 or path.parts[1] not in _work_dirs():
            return 'no documented training writes this folder'
        return '' if _RUN_FILE.match(path.name) else 'not a name a training writes'
    if path.parts[0] == 'checkpoints':
        if ref in converted or ref in converted_from:
            return ''
        source, command = checkpoint_origin(ref, 'CONFIG')
        return '' if command and command.startswith('mim download') and \
            mmpose_weights_url(path.name) else 'no documented command makes it'
    if len(path.parts) == 1:
        name = path.name
        if name in CITED or _RUN_FILE.match(name) or \
                any(Path(r).name == name for r in converted | converted_from):
            return ''
        if name.startswith(('pose_hrnet_', 'pose_resnet_')):  # HRNet's, SimpleBaseline's zoo
            return ''
        return '' if mmpose_weights_url(name) else 'an unknown file'
    return 'an unknown folder'


def test_every_checkpoint_name_exists_or_is_made_by_a_documented_command():
    converts = [args for args in _commands('convert_official_ckpt.py') if len(args) > 1]
    converted = {args[1] for args in converts}
    converted_from = {args[0] for args in converts}
    problems = []
    for page, ref in sorted(_pth_refs()):
        problem = _checkpoint_problem(ref, converted, converted_from)
        if problem:
            problems.append(f'{page}: {ref}: {problem}')
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('ref, problem', [
    ('work_dirs/nowhere/epoch_3.pth', 'no documented training writes this folder'),
    ('work_dirs/mipnet_hrnet_w32_ochuman/latest.pth', 'not a name a training writes'),
    ('checkpoints/made_up.pth', 'no documented command makes it'),
    ('made_up.pth', 'an unknown file'),
])
def test_names_nothing_makes_are_found(ref, problem):
    assert _checkpoint_problem(ref, set(), set()) == problem


def test_readme_model_table_is_the_metafile():
    """README's released-weights table: one row per released entry of configs/metafile.yml,
    with its config, published AP (in percent, as the publishers write it) and the command
    that gets the file."""
    import yaml

    from mipnet_tools.metafile import AUTHORS_RELEASE, MMPOSE_BASELINES, authors_convert_command
    text = (REPO / 'README.md').read_text()
    table = text[text.index('### Released weights'):]
    rows = [line for line in table.split('\n\n')[2].splitlines() if line.startswith('| ')][1:]
    meta = {m['Name']: m for m in
            yaml.safe_load((REPO / 'configs' / 'metafile.yml').read_text())['Models']}
    released = [name for name, _, _ in AUTHORS_RELEASE] + list(MMPOSE_BASELINES)
    assert len(rows) == len(released)
    for row, name in zip(rows, released):
        entry = meta[name]
        assert f"`{entry['Config']}`" in row, (name, row)
        ap = round(100 * entry['Results'][0]['Metrics']['AP'], 1)
        assert f'| {ap} (' in row, (name, row)
        command = entry['Metadata'].get('Get it', '') if name in MMPOSE_BASELINES else \
            authors_convert_command()
        assert f'`{command}`' in row or 'the same converted file' in row, (name, row)
