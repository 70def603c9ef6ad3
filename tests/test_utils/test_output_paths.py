"""The one output rule every writer passes (check_output) and its ownership marks, on real
files: never over an input, never through a link out of the output folder, never over a file
the writer did not write or that was edited since."""
import json
import os

import onnx
import pytest
from onnx import TensorProto, helper

from mipnet_mmpose.utils.output_paths import (
    EDITED,
    FOREIGN,
    OURS,
    RECORD_NAME,
    OutputPathError,
    OutputRecords,
    check_not_an_input,
    check_out_dir,
    check_output,
    onnx_owner,
    relative_output_stems,
    stamp_onnx,
    stamp_text,
    text_owner,
)
from tests.conftest import SAMPLE

IMAGE = SAMPLE / 'ochuman' / '003896.jpg'


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
        with pytest.raises(OutputPathError, match='is the input'):
            check_output(str(tmp_path / name), [str(source), None], owner=lambda _: OURS)
    check_output(str(tmp_path / 'new.onnx'), [str(source)])


def test_existing_files_are_replaced_by_their_verdict_only(tmp_path):
    existing = tmp_path / 'out.txt'
    existing.write_text('x\n')
    check_output(str(tmp_path / 'new.txt'))  # nothing there
    check_output(str(existing), owner=lambda _: OURS)
    check_output(str(existing), owner=lambda _: True)
    for owner in (None, lambda _: FOREIGN, lambda _: False):
        with pytest.raises(OutputPathError, match='exists and was not written by this tool'):
            check_output(str(existing), owner=owner)
    with pytest.raises(OutputPathError, match=r'was changed since this tool wrote it, so it is '
                       r'kept; to overwrite it, pass --force$'):
        check_output(str(existing), owner=lambda _: EDITED, overwrite='pass --force')
    check_output(str(existing), owner=lambda _: EDITED, force=True)
    check_output(str(existing), force=True)
    with pytest.raises(OutputPathError, match='is a folder'):
        check_output(str(tmp_path), owner=lambda _: OURS)
    with pytest.raises(OutputPathError, match='exists and is not a folder'):
        check_out_dir(str(existing))
    check_out_dir(str(tmp_path / 'new_folder'))


def test_never_through_a_link_out_of_the_output_folder(tmp_path):
    outside = tmp_path / 'elsewhere' / 'photo.jpg'
    outside.parent.mkdir()
    outside.write_bytes(IMAGE.read_bytes())
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'a.jpg').symlink_to(outside)
    (out / 'dangling.jpg').symlink_to(tmp_path / 'elsewhere' / 'missing.jpg')
    for name in ('a.jpg', 'dangling.jpg'):
        with pytest.raises(OutputPathError, match=r'is a link to .* outside the output folder'):
            check_output(str(out / name), owner=lambda _: OURS, force=True)
    # A sub-folder that is a link out of the output folder given.
    (out / 'sub').symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(OutputPathError, match='outside the output folder'):
        check_output(str(out / 'sub' / 'b.jpg'), folder=str(out))
    # A hard link: writing the file would change its other name too.
    os.link(outside, out / 'hard.jpg')
    with pytest.raises(OutputPathError, match=r'has another name \(a hard link\)'):
        check_output(str(out / 'hard.jpg'), owner=lambda _: OURS, force=True)
    # A work dir that is itself a link (e.g. to a larger disk) is the user's choice.
    (tmp_path / 'work').symlink_to(out, target_is_directory=True)
    check_output(str(tmp_path / 'work' / 'new.jpg'))
    assert outside.read_bytes() == IMAGE.read_bytes()


def test_text_stamp_tells_ours_edited_and_foreign(tmp_path):
    owner = text_owner('tools/x.py')
    ours = tmp_path / 'ours.py'
    ours.write_text(stamp_text('# written by tools/x.py\na = 1\n', 'tools/x.py'))
    assert owner(str(ours)) == OURS
    ours.write_text(ours.read_text().replace('a = 1', 'a = 2'))  # the user's edit
    assert owner(str(ours)) == EDITED
    appended = tmp_path / 'appended.py'
    appended.write_text(stamp_text('a = 1', 'tools/x.py') + 'b = 2\n')
    assert owner(str(appended)) == EDITED
    mention = tmp_path / 'mention.py'  # a file that merely mentions the tool
    mention.write_text('# written by tools/x.py\na = 1\n')
    assert owner(str(mention)) == FOREIGN
    other_tool = tmp_path / 'other.py'
    other_tool.write_text(stamp_text('a = 1\n', 'tools/y.py'))
    assert owner(str(other_tool)) == FOREIGN
    binary = tmp_path / 'binary.py'
    binary.write_bytes(IMAGE.read_bytes())
    with pytest.raises(OutputPathError, match='exists and was not written'):
        check_output(str(binary), owner=owner)


def _foreign_onnx(path) -> None:
    """A real ONNX model of another tool: Identity on a (1, 3) float tensor."""
    graph = helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'identity',
                              [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 3])])
    model = helper.make_model(graph, producer_name='another-exporter')
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def test_onnx_stamp_tells_ours_edited_and_foreign(tmp_path):
    owner = onnx_owner('tools/x.py')
    model = tmp_path / 'model.onnx'
    _foreign_onnx(model)
    assert owner(str(model)) == FOREIGN  # any parseable ONNX is not an earlier export
    stamp_onnx(str(model), 'tools/x.py')
    assert owner(str(model)) == OURS
    assert onnx_owner('tools/y.py')(str(model)) == FOREIGN
    edited = onnx.load(str(model))
    edited.graph.node[0].name = 'renamed'
    onnx.save(edited, str(model))
    assert owner(str(model)) == EDITED
    text = tmp_path / 'notes.onnx'
    text.write_text('mine\n')
    assert owner(str(text)) == FOREIGN


def test_records_tell_ours_edited_and_foreign(tmp_path):
    folder = tmp_path / 'pictures'
    folder.mkdir()
    picture = folder / 'a.jpg'
    picture.write_bytes(IMAGE.read_bytes())
    records = OutputRecords()
    assert records.owner(str(picture)) == FOREIGN  # no record yet
    records.add(str(picture))
    assert records.owner(str(picture)) == OURS
    # A later run reads the record from the folder.
    assert OutputRecords().owner(str(picture)) == OURS
    picture.write_bytes(IMAGE.read_bytes()[:-10])  # the user's edit
    assert OutputRecords().owner(str(picture)) == EDITED
    beside = folder / 'b.jpg'
    beside.write_bytes(IMAGE.read_bytes())  # same content, never written by us
    assert OutputRecords().owner(str(beside)) == FOREIGN
    # Each write appends a line; repeated names are compacted when the record is read.
    records.add(str(picture))
    records.add(str(picture))
    assert len((folder / RECORD_NAME).read_text().splitlines()) == 3
    assert OutputRecords().owner(str(picture)) == OURS
    assert [json.loads(line)['file'] for line in
            (folder / RECORD_NAME).read_text().splitlines()] == ['a.jpg']
    # A file of the record's name that is no record is not taken over.
    other = tmp_path / 'other'
    other.mkdir()
    (other / RECORD_NAME).write_text('my notes\n')
    (other / 'c.jpg').write_bytes(IMAGE.read_bytes())
    with pytest.raises(OutputPathError, match='the output record .* exists and was not written'):
        OutputRecords().check_folder(str(other))  # checked before anything is written
    with pytest.raises(OutputPathError, match='the output record .* exists and was not written'):
        OutputRecords().add(str(other / 'c.jpg'))
    assert (other / RECORD_NAME).read_text() == 'my notes\n'
