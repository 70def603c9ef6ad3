"""Atomic checkpoint writes, clear errors for corrupt checkpoints and wrong N."""
import os
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.runner import Runner, load_checkpoint, save_checkpoint
from mmpose.registry import MODELS

from mipnet_mmpose.engine import (
    CheckpointFileCheckHook,
    CorruptCheckpointError,
    check_checkpoint_file,
    load_checkpoint_file,
)
from tests.conftest import REPO, SAMPLE_CONFIG, small_hrnet_extra

# Checkpoints written and loaded: CI runs these on the newest torch too.
pytestmark = pytest.mark.new_torch


def _model(num_instances=2, encoding='one_hot'):
    return MODELS.build(dict(
        type='MultiInstanceTopdownPoseEstimator',
        num_instances=num_instances,
        lambda_encoding=encoding,
        backbone=dict(type='HRNet', extra=small_hrnet_extra()),
        head=dict(type='HeatmapHead', in_channels=8,
                  out_channels=17, deconv_out_channels=None,
                  decoder=dict(type='MSRAHeatmap', input_size=(64, 64),
                               heatmap_size=(16, 16), sigma=2))))


def test_atomic_backend_replaces_in_one_step_and_keeps_old_file_on_failure(tmp_path):
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    target = tmp_path / 'epoch_1.pth'
    backend.put(b'first version', target)
    assert target.read_bytes() == b'first version'

    class Unwritable:
        """Not bytes: the write fails after the temporary file was opened."""

    with pytest.raises(TypeError):
        backend.put(Unwritable(), target)  # type: ignore[arg-type]
    assert target.read_bytes() == b'first version'
    assert os.listdir(tmp_path) == ['epoch_1.pth']  # no temporary file left behind
    backend.put_text('second', target)
    assert target.read_text() == 'second'


def test_mmengine_save_checkpoint_through_atomic_backend(tmp_path):
    model = _model()
    path = str(tmp_path / 'ckpt.pth')
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {'epoch': 3}}, path,
                    backend_args=dict(backend='atomic_local'))
    loaded = torch.load(path, map_location='cpu')
    assert loaded['meta'] == {'epoch': 3}
    torch.testing.assert_close(loaded['state_dict']['backbone.conv1.weight'],
                               model.state_dict()['backbone.conv1.weight'])


def _broken_copies(tmp_path, model) -> dict:
    """A good checkpoint and broken copies of it, by the damage done."""
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': model.state_dict()}, good)
    data = good.read_bytes()
    # One flipped bit in the first conv's weights (torch keeps tensor data raw).
    first = model.state_dict()['backbone.conv1.weight'].contiguous().numpy().tobytes()
    at = data.index(first[:64]) + 1
    flipped = bytearray(data)
    flipped[at] ^= 0x01
    copies = dict(half=data[:len(data) // 2], empty=b'', text=b'<html>not found</html>\n',
                  flipped=bytes(flipped))
    paths = {}
    for name, content in copies.items():
        paths[name] = tmp_path / f'epoch_{name}.pth'
        paths[name].write_bytes(content)
    return dict(good=good, **paths)


@pytest.mark.parametrize('damage', ['half', 'empty', 'text'])
def test_a_checkpoint_torch_cannot_read_is_a_clear_error(tmp_path, damage):
    paths = _broken_copies(tmp_path, _model())
    bad = paths[damage]
    for load in (load_checkpoint_file, check_checkpoint_file):
        with pytest.raises(CorruptCheckpointError,
                           match=rf'cannot read checkpoint file .*epoch_{damage}\.pth '
                                 r'\(\d+ bytes\): it is corrupt or truncated'):
            load(str(bad))
    with pytest.raises(FileNotFoundError, match='checkpoint file not found: .*missing.pth'):
        load_checkpoint_file(tmp_path / 'missing.pth')
    assert load_checkpoint_file(paths['good'])['state_dict'].keys() == \
        _model().state_dict().keys()
    check_checkpoint_file(paths['good'])


def test_the_check_finds_flipped_bytes_that_torch_loads_silently(tmp_path):
    paths = _broken_copies(tmp_path, _model())
    loaded = torch.load(paths['flipped'], map_location='cpu')  # no error from torch
    assert not torch.equal(loaded['state_dict']['backbone.conv1.weight'],
                           torch.load(paths['good'])['state_dict']['backbone.conv1.weight'])
    with pytest.raises(CorruptCheckpointError, match='epoch_flipped.pth .*CRC-32'):
        check_checkpoint_file(paths['flipped'])


def test_legacy_format_is_checked_by_loading(tmp_path):
    path = tmp_path / 'legacy.pth'
    torch.save({'state_dict': {'w': torch.ones(3)}}, path, _use_new_zipfile_serialization=False)
    check_checkpoint_file(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CorruptCheckpointError, match='legacy.pth'):
        check_checkpoint_file(path)


def test_importing_the_plugin_changes_nothing_in_mmengine(tmp_path):
    """mmengine's checkpoint loaders and file backends, and torch's weights-only
    allowlist, are their own after the import; a broken file loaded through mmengine
    gives mmengine's (torch's) error."""
    bad = _broken_copies(tmp_path, _model())['half']
    code = f"""
import torch
safe_globals = set(torch.serialization.get_safe_globals())
from mmengine.fileio.backends import registry_utils
from mmengine.runner import CheckpointLoader
from mmengine.runner import checkpoint as mm
schemes = dict(CheckpointLoader._schemes)
backends = dict(registry_utils.backends)
prefixes = dict(registry_utils.prefix_to_backends)
import mipnet_mmpose  # noqa: E402
assert CheckpointLoader._schemes[''] is mm.load_from_local
assert dict(CheckpointLoader._schemes) == schemes
# Only names of our own are added (the atomic backend our configs name).
added = {{k: v for k, v in registry_utils.backends.items() if k not in backends}}
assert {{k: v for k, v in registry_utils.backends.items() if k in backends}} == backends
assert sorted(added) == ['atomic_local'], sorted(added)
assert dict(registry_utils.prefix_to_backends) == prefixes
# Nothing of ours (newer torch's own modules register their types when imported).
added = set(torch.serialization.get_safe_globals()) - safe_globals
assert all(getattr(g, '__module__', '').startswith('torch.') for g in added), added
try:
    CheckpointLoader.load_checkpoint({str(bad)!r})
except RuntimeError as error:
    assert type(error) is RuntimeError and 'central directory' in str(error), error
else:
    raise AssertionError('loaded a truncated file')
print('unchanged')
"""
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'unchanged' in proc.stdout


def test_init_mipnet_and_the_inferencer_name_a_broken_checkpoint(tmp_path):
    from mipnet_mmpose.apis import MIPNetInferencer, init_mipnet
    bad = tmp_path / 'epoch_3.pth'
    bad.write_bytes(b'')
    with pytest.raises(CorruptCheckpointError, match='epoch_3.pth'):
        init_mipnet(str(SAMPLE_CONFIG), str(bad), device='cpu')
    with pytest.raises(CorruptCheckpointError, match='epoch_3.pth'):
        MIPNetInferencer(str(SAMPLE_CONFIG), weights=str(bad), device='cpu')


def _runner(tmp_path, **cfg_options) -> Runner:
    cfg = Config.fromfile(str(SAMPLE_CONFIG))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.merge_from_dict(cfg_options)
    return Runner.from_cfg(cfg)


def test_sample_config_checks_the_checkpoint_a_run_loads(tmp_path):
    """The check is the config's CheckpointFileCheckHook; without it mmengine loads."""
    bad = _broken_copies(tmp_path, _model())['half']
    assert 'CheckpointFileCheckHook' in [
        h['type'] for h in Config.fromfile(str(SAMPLE_CONFIG)).custom_hooks]
    # A test run (--checkpoint): MultiInstanceTestHook would load it.
    with pytest.raises(CorruptCheckpointError, match='epoch_half.pth'):
        _runner(tmp_path, load_from=str(bad)).test()
    # A resumed training run: the work dir's latest checkpoint.
    work_dir = tmp_path / 'work'
    (work_dir / 'last_checkpoint').write_text(str(bad))
    with pytest.raises(CorruptCheckpointError, match='epoch_half.pth'):
        _runner(tmp_path, resume=True).train()
    assert CheckpointFileCheckHook.file_to_load(_runner(tmp_path)) is None


def test_a_missing_start_checkpoint_says_where_it_comes_from(tmp_path):
    """A run whose load_from is not there names the file, the config, and the command
    that lists every start checkpoint with its source and maker."""
    missing = tmp_path / 'checkpoints' / 'pose_hrnet_w32_256x192_mmpose.pth'
    with pytest.raises(FileNotFoundError) as error:
        _runner(tmp_path, load_from=str(missing)).train()
    message = str(error.value)
    assert str(missing) in message and SAMPLE_CONFIG.name in message
    assert 'tools/prepare_data.py check' in message and 'load_from=None' in message


@pytest.mark.parametrize('other', [dict(num_instances=3), dict(encoding='binary'),
                                   dict(num_instances=1)])
def test_checkpoint_with_other_n_or_encoding_is_refused_by_mmengine_loading(tmp_path, other):
    """mmengine's non-strict loading would skip the misshapen λ weights silently."""
    trained = _model()
    path = tmp_path / 'mipnet_n2.pth'
    torch.save({'state_dict': trained.state_dict(), 'meta': {}}, path)
    target = _model(**other)
    with pytest.raises(ValueError,
                       match="trained with num_instances=2, lambda_encoding='one_hot'"):
        load_checkpoint(target, str(path), map_location='cpu')
    # The same N and encoding load.
    load_checkpoint(_model(), str(path), map_location='cpu')


@pytest.mark.parametrize('umask, mode', [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_atomic_writes_get_the_mode_of_a_plain_write(tmp_path, umask, mode):
    backend = get_file_backend(str(tmp_path), backend_args=dict(backend='atomic_local'))
    old = os.umask(umask)
    try:
        backend.put(b'weights', tmp_path / 'epoch_1.pth')
        plain = tmp_path / 'plain.txt'
        plain.write_bytes(b'x')
    finally:
        os.umask(old)
    assert (tmp_path / 'epoch_1.pth').stat().st_mode & 0o777 == mode
    assert plain.stat().st_mode & 0o777 == mode
