"""Every checkpoint is unpickled weights-only, with exactly mmengine's checkpoint types.

A pickle payload (a real ``torch.save`` of an object whose ``__reduce__`` runs
``os.system``, or one that climbs from ``getattr`` to ``exec``) is refused on
every entry point, with an error naming the file and the command that re-saves a
trusted one; the payload's marker file is never written. Good checkpoints (a
trained sample run's, converted ones) load and resume. Tests marked ``new_torch``
also run under torch >= 2.6 (see tests/conftest.py).
"""
import _codecs
import operator
import os
import pickle
import pickletools
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner
from torch.torch_version import TorchVersion

from mipnet_mmpose.engine import (
    CHECKPOINT_GLOBALS,
    UnsafeCheckpointError,
    check_checkpoint_file,
    load_checkpoint_file,
    resave_trusted_checkpoint,
)
from mipnet_mmpose.engine.checkpoint_io import RESAVE_COMMAND, _history_buffer_statistic
from tests.conftest import REPO, SAMPLE_CONFIG, SAMPLE_TEST_EPOCHS, load_tool

pytestmark = pytest.mark.new_torch


class _Call:
    """Pickles as the call ``func(*args)`` (what a payload's ``__reduce__`` does)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args

    def __call__(self, *args):
        """Stands for the call's result when that is called in turn (pickle checks
        only that the function of a reduce is callable); never called here."""
        raise NotImplementedError


def _exec_through_getattr(code: str) -> _Call:
    """``exec(code)`` reached from HistoryBuffer with getattr only (no other global):
    ``HistoryBuffer.__init__.__globals__.get('__builtins__').get('exec')(code)``;
    pickle writes ``HistoryBuffer.__init__`` as ``getattr(HistoryBuffer, '__init__')``."""
    module_globals = _Call(getattr, HistoryBuffer.__init__, '__globals__')
    builtins_dict = _Call(_Call(getattr, module_globals, 'get'), '__builtins__')
    return _Call(_Call(_Call(getattr, builtins_dict, 'get'), 'exec'), code)


def _payload_checkpoint(path: Path, payload) -> Path:
    """A checkpoint as mmengine writes it, with a payload beside the weights."""
    torch.save({'meta': {'epoch': 1, 'dataset_meta': {'sigmas': np.ones(17, np.float32)}},
                'state_dict': {'w': torch.ones(3)}, 'payload': payload}, path)
    return path


@pytest.fixture
def payloads(tmp_path):
    """name -> (checkpoint path, marker file the payload writes)."""
    files = {}
    marker = tmp_path / 'system_ran'
    files['system'] = (_payload_checkpoint(tmp_path / 'epoch_system.pth',
                                           _Call(os.system, f'touch {marker}')), marker)
    marker = tmp_path / 'getattr_ran'
    files['getattr'] = (_payload_checkpoint(
        tmp_path / 'epoch_getattr.pth',
        _exec_through_getattr(f'open({str(marker)!r}, "w").close()')), marker)
    return files


#: What the refusal names for each payload: os.system is posix.system on Linux.
REFUSED = {'system': 'posix.system', 'getattr': "getattr(HistoryBuffer, '__init__')"}


def _refused(error_text: str, path: Path, name: str) -> bool:
    return (str(path) in error_text and REFUSED[name] in error_text
            and RESAVE_COMMAND in error_text)


def test_the_payloads_run_when_unpickled_fully(payloads):
    """The crafted files are real payloads: full unpickling writes the markers."""
    for path, marker in payloads.values():
        torch.load(path, weights_only=False)
        assert marker.exists()


def test_our_loader_refuses_payloads_and_names_file_object_and_fix(payloads):
    before = set(torch.serialization.get_safe_globals())
    for name, (path, marker) in payloads.items():
        for load in (load_checkpoint_file, check_checkpoint_file):
            with pytest.raises(UnsafeCheckpointError) as error:
                load(path)
            assert _refused(str(error.value), path, name), str(error.value)
            assert error.value.refused == REFUSED[name]
        assert not marker.exists()
    # torch's allowlist is as it was (ours is allowed for our loads only).
    assert set(torch.serialization.get_safe_globals()) == before


def test_getattr_gives_history_buffer_statistics_only():
    for name in ('min', 'max', 'mean', 'current'):
        assert _history_buffer_statistic(HistoryBuffer, name) is getattr(HistoryBuffer, name)
    for owner, name in ((HistoryBuffer, '__init__'), (HistoryBuffer, '_statistics_methods'),
                        (np.ndarray, 'min'), (dict, 'get'), (torch, 'load')):
        with pytest.raises(Exception, match=r'refused getattr\('):
            _history_buffer_statistic(owner, name)


def test_other_numpy_dtypes_and_classes_are_refused(tmp_path):
    """The allowlist is exact: an int32 or object array, a set of another type's
    statistics, a class of another package are refused."""
    for name, value, refused in (
            ('int32', np.arange(3, dtype=np.int32), 'numpy.dtypes.Int32DType'),
            ('object', np.array([None], dtype=object), 'numpy.dtypes.ObjectDType'),
            ('config', Config(dict(a=1)), 'mmengine.config.config.Config')):
        path = tmp_path / f'{name}.pth'
        torch.save({'meta': {'x': value}}, path)
        with pytest.raises(UnsafeCheckpointError, match=refused):
            load_checkpoint_file(path)


def test_resave_makes_a_trusted_file_load_and_refuses_what_it_cannot(tmp_path):
    trusted = _payload_checkpoint(tmp_path / 'trusted.pth', _Call(operator.add, 1, 2))
    with pytest.raises(UnsafeCheckpointError, match='_operator.add'):
        load_checkpoint_file(trusted)
    tool = load_tool(REPO / 'tools' / 'resave_checkpoint.py', 'resave_checkpoint')
    assert tool.main([str(trusted), str(tmp_path / 'new.pth')]) == 0
    assert load_checkpoint_file(tmp_path / 'new.pth')['payload'] == 3
    # A class still needed after re-saving: DST is not left behind.
    foreign = tmp_path / 'foreign.pth'
    torch.save({'meta': {'cfg': Config(dict(a=1))}}, foreign)
    with pytest.raises(UnsafeCheckpointError, match=r'state_dict.*foreign\.pth'):
        resave_trusted_checkpoint(foreign, tmp_path / 'out.pth')
    assert not (tmp_path / 'out.pth').exists()
    assert tool.main([str(foreign), str(foreign)]) == 1  # never over SRC


def _runner(tmp_path, **cfg_options) -> Runner:
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.merge_from_dict(cfg_options)
    return Runner.from_cfg(cfg)


def test_runs_refuse_payloads_in_load_from_resume_and_test(tmp_path, payloads):
    """mmengine's loading (load_from, --resume, a test run's --checkpoint) never sees
    the payload: the config's CheckpointFileCheckHook refuses it first."""
    for name, (path, marker) in payloads.items():
        with pytest.raises(UnsafeCheckpointError) as error:
            _runner(tmp_path, load_from=str(path)).train()
        assert _refused(str(error.value), path, name)
        with pytest.raises(UnsafeCheckpointError, match=str(path)):
            _runner(tmp_path, load_from=str(path)).test()
        work_dir = tmp_path / 'work'
        (work_dir / 'last_checkpoint').write_text(str(path))
        with pytest.raises(UnsafeCheckpointError, match=str(path)):
            _runner(tmp_path, resume=True).train()
        (work_dir / 'last_checkpoint').unlink()
        assert not marker.exists()


def test_mim_test_and_mim_train_resume_refuse_payloads(tmp_path, payloads):
    """The command lines users run (MMPose's tools through mim, in a fresh process)."""
    import subprocess
    import sys
    mim = str(Path(sys.executable).with_name('mim'))
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    path, marker = payloads['getattr']
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(str(path))
    for args in (['test', 'mmpose', str(SAMPLE_CONFIG), '--checkpoint', str(path)],
                 ['train', 'mmpose', str(SAMPLE_CONFIG), '--resume']):
        proc = subprocess.run([mim, *args, '--work-dir', str(work_dir)], cwd=REPO, env=env,
                              capture_output=True, text=True)
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0 and 'UnsafeCheckpointError' in output, output[-3000:]
        assert _refused(output, path, 'getattr'), output[-3000:]
    assert not marker.exists()


def test_apis_and_tools_refuse_payloads(tmp_path, payloads, capsys):
    from mipnet_mmpose.apis import MIPNetInferencer, init_mipnet
    demo = load_tool(REPO / 'tools' / 'demo.py', 'demo')
    export = load_tool(REPO / 'tools' / 'export_onnx.py', 'export_onnx')
    convert = load_tool(REPO / 'tools' / 'convert_official_ckpt.py', 'convert_official_ckpt')
    image = next((REPO / 'data' / 'sample').rglob('*.jpg'))
    for name, (path, marker) in payloads.items():
        with pytest.raises(UnsafeCheckpointError) as error:
            init_mipnet(str(SAMPLE_CONFIG), str(path), device='cpu')
        assert _refused(str(error.value), path, name)
        with pytest.raises(UnsafeCheckpointError, match=str(path)):
            MIPNetInferencer(str(SAMPLE_CONFIG), weights=str(path), device='cpu')
        for run in (
                lambda: demo.main([str(image), '--config', str(SAMPLE_CONFIG), '--checkpoint',
                                   str(path), '--out-dir', str(tmp_path / 'demo'),
                                   '--device', 'cpu']),
                lambda: export.main([str(SAMPLE_CONFIG), '--checkpoint', str(path),
                                     '--out', str(tmp_path / 'model.onnx')]),
                lambda: convert.main([str(path), str(tmp_path / 'converted.pth'),
                                      '--config', str(SAMPLE_CONFIG)])):
            try:
                code = run()
            except UnsafeCheckpointError as raised:
                text = str(raised)
            else:
                assert code != 0
                text = capsys.readouterr().err
            assert _refused(text, path, name), text
        assert not marker.exists()
        assert not (tmp_path / 'model.onnx').exists()
        assert not (tmp_path / 'converted.pth').exists()


def _globals_in(path: Path) -> set:
    """The globals a checkpoint's pickle names (``module.name``, as torch reads them)."""
    with zipfile.ZipFile(path) as archive:
        data = archive.read(next(n for n in archive.namelist() if n.endswith('/data.pkl')))
    names = set()
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name == 'GLOBAL':
            module, name = arg.split(' ')
            names.add(f"{'builtins' if module == '__builtin__' else module}.{name}")
    return names


def _name(obj) -> str:
    return f'{obj.__module__}.{obj.__name__}'


def _trained(sample_training) -> Path:
    work_dir, _ = sample_training
    return work_dir / f'epoch_{SAMPLE_TEST_EPOCHS}.pth'


def _load_allowing(path: Path, allowed) -> dict:
    """``torch.load`` weights-only with exactly ``allowed`` besides torch's defaults."""
    before = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(list(allowed))
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    finally:
        torch.serialization.clear_safe_globals()
        torch.serialization.add_safe_globals(before)


def test_a_trained_checkpoint_needs_exactly_the_allowlist(sample_training):
    """A real training checkpoint names no global but the allowlist's and torch's, and
    loading it fails without any one entry (the numpy dtype classes are never named:
    the unpickler checks the type of each dtype it builds)."""
    trained = _trained(sample_training)
    names = _globals_in(trained)
    ours = {_name(g) for g in CHECKPOINT_GLOBALS}
    assert ours == {'builtins.getattr', 'numpy.core.multiarray._reconstruct', 'numpy.ndarray',
                    'numpy.dtype', 'numpy.core.multiarray.scalar', 'numpy.dtypes.UInt8DType',
                    'numpy.dtypes.Float32DType', 'numpy.dtypes.Float64DType',
                    'numpy.dtypes.Int64DType', 'mmengine.logging.history_buffer.HistoryBuffer',
                    '_codecs.encode'}
    torch_own = ('torch.', 'collections.OrderedDict', 'collections.Counter')
    assert all(n.startswith(torch_own) for n in names - ours), \
        sorted(names - ours)
    assert _load_allowing(trained, CHECKPOINT_GLOBALS)['meta']['epoch'] == SAMPLE_TEST_EPOCHS
    # torch allows bytes (_codecs.encode) by itself from 2.6.
    by_torch = {_codecs.encode} if TorchVersion(torch.__version__) >= '2.6' else set()
    for dropped in set(CHECKPOINT_GLOBALS) - by_torch:
        with pytest.raises(pickle.UnpicklingError):
            _load_allowing(trained, [g for g in CHECKPOINT_GLOBALS if g is not dropped])


def test_a_trained_checkpoint_loads_resumes_and_tests(tmp_path, sample_training):
    trained = _trained(sample_training)
    with warnings.catch_warnings():
        warnings.simplefilter('error', FutureWarning)  # torch's weights_only warning
        checkpoint = load_checkpoint_file(trained)
        check_checkpoint_file(trained)
    assert checkpoint['meta']['epoch'] == SAMPLE_TEST_EPOCHS
    assert isinstance(checkpoint['message_hub']['log_scalars']['train/loss'], HistoryBuffer)
    # Resumed by the runner (mmengine's loading after the hook's check): one more epoch.
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    shutil.copy(trained, work_dir / trained.name)
    (work_dir / 'last_checkpoint').write_text(str(work_dir / trained.name))
    _runner(tmp_path, resume=True, **{
        'train_cfg.max_epochs': SAMPLE_TEST_EPOCHS + 1, 'train_cfg.val_interval': 100,
        'default_hooks.checkpoint.save_best': None}).train()
    resumed = load_checkpoint_file(work_dir / f'epoch_{SAMPLE_TEST_EPOCHS + 1}.pth')
    assert resumed['meta']['iter'] > checkpoint['meta']['iter']
    # A test run (--checkpoint), the inference API and inferencer.
    metrics = _runner(tmp_path, load_from=str(trained)).test()
    assert metrics['coco/AP'] >= 0
    from mipnet_mmpose.apis import MIPNetInferencer, init_mipnet
    init_mipnet(str(SAMPLE_CONFIG), str(trained), device='cpu')
    MIPNetInferencer(str(SAMPLE_CONFIG), weights=str(trained), device='cpu',
                     det_model='whole_image')


def test_converted_checkpoints_load_and_a_run_tests_one(tmp_path):
    """The official-checkpoint converter's outputs (a MIPNet checkpoint and a
    ``--release`` one for load_from) load weights-only, also through a run."""
    from tests.test_tools.test_convert_official_ckpt import (
        NO_SE,
        authors_hrnet_keys,
        random_state_dict,
    )
    convert = load_tool(REPO / 'tools' / 'convert_official_ckpt.py', 'convert_official_ckpt')
    small = dict(widths=(16, 32, 64, 128), modules=(1, 1, 1), blocks=1, layer1=(32, 1))
    theirs, release = tmp_path / 'theirs.pth', tmp_path / 'pose_hrnet_small.pth'
    torch.save(dict(epoch=1, state_dict=random_state_dict(authors_hrnet_keys(**small))), theirs)
    torch.save(random_state_dict(authors_hrnet_keys(**small, se_modules=NO_SE)), release)
    converted, released = tmp_path / 'mipnet.pth', tmp_path / 'release_mmpose.pth'
    assert convert.main([str(theirs), str(converted), '--config', str(SAMPLE_CONFIG)]) == 0
    assert convert.main([str(release), str(released), '--config', str(SAMPLE_CONFIG),
                         '--release']) == 0
    for path in (converted, released):
        check_checkpoint_file(path)
        assert load_checkpoint_file(path)['meta']['mipnet_source_keys'] > 0
    metrics = _runner(tmp_path, load_from=str(converted)).test()
    assert 'coco/AP' in metrics
