"""Atomic checkpoint writes, clear errors for corrupt checkpoints and wrong N."""
import os

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpose.registry import MODELS

from mipnet_mmpose.engine import CorruptCheckpointError
from tests.conftest import small_hrnet_extra


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


@pytest.mark.parametrize('keep_fraction', [0.5, 0.0])
def test_truncated_checkpoint_gives_clear_error(tmp_path, keep_fraction):
    model = _model()
    good = tmp_path / 'good.pth'
    torch.save({'state_dict': model.state_dict()}, good)
    data = good.read_bytes()
    bad = tmp_path / 'epoch_7.pth'
    bad.write_bytes(data[:int(len(data) * keep_fraction)])
    with pytest.raises(CorruptCheckpointError, match='epoch_7.pth .* corrupt or truncated'):
        load_checkpoint(model, str(bad), map_location='cpu')
    with pytest.raises(FileNotFoundError, match='checkpoint file not found: .*missing.pth'):
        load_checkpoint(model, str(tmp_path / 'missing.pth'))


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
