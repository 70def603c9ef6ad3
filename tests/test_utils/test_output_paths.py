"""The output-path rules every writing tool shares: never over an input, never over a file
the tool did not write, per-image names that keep folders apart."""
import os

import pytest

from mipnet_mmpose.utils.output_paths import (
    OutputPathError,
    check_not_an_input,
    check_out_dir,
    check_replaceable,
    file_starts_with,
    relative_output_stems,
)


def test_relative_stems_keep_images_of_one_name_apart(tmp_path):
    paths = [str(tmp_path / 'a' / 'x.jpg'), str(tmp_path / 'b' / 'x.jpg'),
             str(tmp_path / 'a' / 'y.jpg')]
    assert relative_output_stems(paths) == {paths[0]: os.path.join('a', 'x'),
                                            paths[1]: os.path.join('b', 'x'),
                                            paths[2]: os.path.join('a', 'y')}
    one_folder = [str(tmp_path / 'x.jpg'), str(tmp_path / 'x.png'), str(tmp_path / 'z.jpg')]
    assert relative_output_stems(one_folder) == {one_folder[0]: 'x.jpg', one_folder[1]: 'x.png',
                                                 one_folder[2]: 'z'}


def test_an_input_under_any_name_is_refused(tmp_path):
    source = tmp_path / 'weights.pth'
    source.write_bytes(b'weights')
    (tmp_path / 'link.pth').symlink_to(source)
    os.link(source, tmp_path / 'hard.pth')
    for name in ('weights.pth', 'link.pth', 'hard.pth', './weights.pth'):
        with pytest.raises(OutputPathError, match='is the input'):
            check_not_an_input(str(tmp_path / name), [str(source), None])
    check_not_an_input(str(tmp_path / 'new.onnx'), [str(source)])


def test_only_recognised_files_are_replaced(tmp_path):
    ours, theirs = tmp_path / 'ours.py', tmp_path / 'theirs.py'
    ours.write_text('# written by tools/x.py\n')
    theirs.write_text('# notes\n')
    is_ours = file_starts_with('written by tools/x.py')
    check_replaceable(str(ours), is_ours)
    check_replaceable(str(tmp_path / 'new.py'), is_ours)
    with pytest.raises(OutputPathError, match='exists and was not written by this tool'):
        check_replaceable(str(theirs), is_ours)
    with pytest.raises(OutputPathError, match='is a folder'):
        check_replaceable(str(tmp_path), is_ours)
    with pytest.raises(OutputPathError, match='exists and is not a folder'):
        check_out_dir(str(ours))
    check_out_dir(str(tmp_path / 'new_folder'))
