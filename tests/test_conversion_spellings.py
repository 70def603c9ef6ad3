"""convert_config on every spelling mmengine accepts for the fields it converts, and the
converter CLI never writing over a file it reads or did not write."""
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mmengine.config import Config

from mipnet_mmpose.conversion import convert_config, converted_config_text, resolve_config_path
from tests.conftest import REPO, load_tool

STOCK = resolve_config_path(
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/td-hm_hrnet-w32_8xb64-210e_coco-256x192.py')
TOOL = load_tool(REPO / 'tools' / 'convert_config.py', 'mipnet_convert_config_cli')
#: Real modules, so loading a config with them in custom_imports works.
MODULES = ['mmpose.models', 'mmpose.datasets', 'mmpose.evaluation', 'mipnet_mmpose']
COMPARED = ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
            'val_evaluator', 'test_evaluator', 'custom_hooks', 'default_hooks',
            'custom_imports')


def _imports_source(names, form: str) -> str:
    return repr(names[0]) if form == 'str' else repr(list(names))


spellings = st.fixed_dictionaries(dict(
    # custom_imports: absent, one module as a string or a list; with or without
    # allow_failed_imports; as dict(...) or a {...} literal.
    imports=st.one_of(st.none(), st.lists(st.sampled_from(MODULES), min_size=1, max_size=3,
                                          unique=True)),
    imports_form=st.sampled_from(['str', 'list']),  # mmengine refuses a tuple
    allow_failed=st.sampled_from([None, False, True]),
    literal=st.booleans(),
    # Types with or without the registry scope.
    scoped_dataset=st.booleans(),
    scoped_metric=st.booleans(),
    # Folder names holding quotes, backslashes and spaces.
    folder=st.text(alphabet=string.ascii_letters + "'\" \\_-", min_size=1, max_size=12).filter(
        lambda name: name.strip() not in ('', '.', '..')),
))


def write_stock_child(root: Path, spelling: dict) -> Path:
    """A stock config over MMPose's, spelling the converted fields as ``spelling`` says."""
    folder = root / spelling['folder']
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f'_base_ = [{STOCK!r}]']
    if spelling['imports'] is not None:
        names = spelling['imports'][:1] if spelling['imports_form'] == 'str' \
            else spelling['imports']
        fields = {'imports': _imports_source(names, spelling['imports_form'])}
        if spelling['allow_failed'] is not None:
            fields['allow_failed_imports'] = repr(spelling['allow_failed'])
        inner = (', '.join(f'{k!r}: {v}' for k, v in fields.items()) if spelling['literal']
                 else ', '.join(f'{k}={v}' for k, v in fields.items()))
        lines.append(f'custom_imports = {{{inner}}}' if spelling['literal']
                     else f'custom_imports = dict({inner})')
    scope = 'mmpose.' if spelling['scoped_dataset'] else ''
    lines.append(f"train_dataloader = dict(dataset=dict(type='{scope}CocoDataset'))")
    scope = 'mmpose.' if spelling['scoped_metric'] else ''
    lines.append(f"val_evaluator = dict(type='{scope}CocoMetric')")
    lines.append('test_evaluator = val_evaluator')
    path = folder / 'stock_child.py'
    path.write_text('\n'.join(lines) + '\n')
    return path


def expected_imports(spelling: dict) -> list:
    if spelling['imports'] is None:
        return ['mipnet_mmpose']
    names = spelling['imports'][:1] if spelling['imports_form'] == 'str' \
        else list(spelling['imports'])
    return names if 'mipnet_mmpose' in names else names + ['mipnet_mmpose']


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spelling=spellings)
def test_every_spelling_round_trips(tmp_path, spelling):
    """The written config loads, and is what convert_config makes of the stock config."""
    stock = Config.fromfile(str(write_stock_child(tmp_path / 'in', spelling)))
    out_folder = tmp_path / 'out' / spelling['folder']
    out_folder.mkdir(parents=True, exist_ok=True)
    out = out_folder / 'converted.py'
    base = str(Path(stock.filename).resolve())
    out.write_text(converted_config_text(stock, 2, base=base))
    loaded = Config.fromfile(str(out))
    expected = convert_config(stock, 2)
    for key in COMPARED:
        assert loaded.to_dict().get(key) == expected.to_dict().get(key), key
    assert loaded.custom_imports['imports'] == expected_imports(spelling)
    if spelling['imports'] is not None and spelling['allow_failed'] is not None:
        assert loaded.custom_imports['allow_failed_imports'] == spelling['allow_failed']
    assert loaded.model.type == 'MultiInstanceTopdownPoseEstimator'
    assert loaded.train_dataloader.dataset.type == 'MultiInstanceCocoDataset'
    assert loaded.test_evaluator.type == 'MultiInstanceCocoMetric'


def test_string_imports_stay_one_module(tmp_path):
    spelling = dict(imports=['mmpose.models'], imports_form='str', allow_failed=None,
                    literal=False, scoped_dataset=False, scoped_metric=False, folder='x')
    converted = convert_config(Config.fromfile(str(write_stock_child(tmp_path, spelling))))
    assert converted.custom_imports['imports'] == ['mmpose.models', 'mipnet_mmpose']


def test_quoted_base_path_is_valid_python(tmp_path):
    folder = tmp_path / 'it\'s "here"'
    folder.mkdir()
    stock = folder / 'stock.py'
    stock.write_text(f'_base_ = [{STOCK!r}]\n')
    out = tmp_path / 'out.py'
    assert TOOL.main([str(stock), str(out)]) == 0
    assert Config.fromfile(str(out)).model.type == 'MultiInstanceTopdownPoseEstimator'
    # A base outside the installed mmpose is named by its absolute path (so the converted
    # file can be copied elsewhere), written with repr.
    assert '_base_ = [' + repr(str(stock)) + ']' in out.read_text()


def test_output_over_the_input_is_refused(tmp_path, capsys):
    stock = tmp_path / 'stock.py'
    stock.write_text(f'_base_ = [{STOCK!r}]\n')
    before = stock.read_bytes()
    assert TOOL.main([str(stock), str(stock)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'is the stock config' in err[0]
    assert stock.read_bytes() == before
    # Through another spelling of the same path, too.
    assert TOOL.main([str(stock), str(tmp_path / '.' / 'stock.py')]) == 1
    assert stock.read_bytes() == before


def test_only_its_own_outputs_are_replaced(tmp_path, capsys):
    stock = tmp_path / 'stock.py'
    stock.write_text(f'_base_ = [{STOCK!r}]\n')
    other = tmp_path / 'notes.py'
    other.write_text('# my notes\n')
    assert TOOL.main([str(stock), str(other)]) == 1
    assert 'exists and was not written by this tool' in capsys.readouterr().err
    assert other.read_text() == '# my notes\n'
    out = tmp_path / 'converted.py'
    assert TOOL.main([str(stock), str(out)]) == 0
    assert TOOL.main([str(stock), str(out), '--num-instances', '3']) == 0  # its own: rewritten
    assert 'num_instances = 3' in out.read_text()
    assert TOOL.main([str(stock), str(tmp_path)]) == 1  # a folder
    assert 'is a folder' in capsys.readouterr().err


@pytest.mark.parametrize('imports', [5, ['mmpose.models', 3]])
def test_custom_imports_mmengine_would_refuse_are_refused(tmp_path, imports):
    from mipnet_mmpose.conversion import ConversionError
    stock = Config.fromfile(STOCK)
    stock.custom_imports = dict(imports=imports)
    with pytest.raises(ConversionError, match='custom_imports.imports is'):
        convert_config(stock)
