"""Inference inputs read as given: (n, 5) boxes, EXIF-rotated photos, boxes outside the image,
undecodable images and videos, checkpoints read once (sample model, random weights)."""
import shutil

import mmcv
import numpy as np
import pytest
import torch
from PIL import Image

from mipnet_mmpose.apis import (
    MIPNetInferencer,
    UndecodableImageError,
    draw_mipnet_result,
    inference_mipnet,
    init_mipnet,
    split_boxes,
)
from mipnet_mmpose.apis.inferencer import UnreadableVideoError
from mipnet_mmpose.visualization import legend_text_pixels
from tests.conftest import SAMPLE_CONFIG
from tests.test_apis.test_inference import IMAGE
from tests.test_tools.sample_video import write_sample_video

GT_XYXY = [[0, 39, 601, 900], [84, 45, 600, 828]]  # the image's two GT boxes


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_mipnet(str(SAMPLE_CONFIG), None, device='cpu')


@pytest.fixture(scope='module')
def inferencer():
    torch.manual_seed(0)
    return MIPNetInferencer(str(SAMPLE_CONFIG), device='cpu', det_model='whole_image')


def test_n_by_5_boxes_are_boxes_and_scores(model):
    scored = np.concatenate([GT_XYXY, [[0.9], [0.8]]], axis=1)
    with_scores = inference_mipnet(model, IMAGE, scored)
    apart = inference_mipnet(model, IMAGE, GT_XYXY, [0.9, 0.8])
    assert with_scores == apart
    assert [r['box_index'] for r in with_scores] == [0, 0, 1, 1]  # 2 boxes, not 2.5
    assert [r['bbox_score'] for r in with_scores] == [0.9, 0.9, 0.8, 0.8]


@pytest.mark.parametrize('boxes, scores, message', [
    (np.zeros((4, 3)), None, r'must be \(B, 4\) xyxy boxes or \(B, 5\).*got shape \(4, 3\)'),
    (np.zeros((2, 6)), None, r'got shape \(2, 6\)'),
    ([[1, 2, 3, 4], [1, 2, 3]], None, 'must be numbers in rows of 4'),
    ([[1, 2, 3, 4, 0.5]], [0.5], r'\(B, 5\) boxes carry their scores'),
    ([[1, 2, 3, 4]], ['high'], 'box scores must be numbers'),
])
def test_other_box_shapes_are_clear_errors(model, boxes, scores, message):
    with pytest.raises(ValueError, match=message):
        inference_mipnet(model, IMAGE, boxes, scores)
    with pytest.raises(ValueError, match=message):
        split_boxes(boxes, scores)


def test_whole_image_box_of_an_exif_rotated_jpeg(model, tmp_path):
    """A photo stored 900 wide and 602 high with "rotate 90" in its EXIF is decoded (by
    OpenCV, as the test pipeline does) 602 wide and 900 high: the whole-image box too."""
    stored = Image.open(IMAGE).transpose(Image.Transpose.ROTATE_90)  # 900 x 602 stored
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    path = tmp_path / 'sideways.jpg'
    stored.save(path, exif=exif.tobytes())
    assert Image.open(path).size == (900, 602)  # the header's, unrotated
    decoded = mmcv.imfrombytes(path.read_bytes())  # MMPose's LoadImage decoding
    assert decoded.shape[:2] == (900, 602)
    before = path.read_bytes()
    records = inference_mipnet(model, str(path))
    assert [r['bbox'] for r in records] == [[0, 0, 602, 900]] * 2
    picture = draw_mipnet_result(model, str(path), records)
    assert picture.shape == (900, 602, 3)
    assert path.read_bytes() == before


def test_boxes_outside_the_image_are_dropped_with_a_warning(model):
    with pytest.warns(UserWarning, match=r'dropped 1 of 3 boxes that lie entirely outside the '
                      r'602x900 image \(rows 1\)'):
        records = inference_mipnet(model, IMAGE, GT_XYXY[:1] + [[700, 10, 900, 200]]
                                   + GT_XYXY[1:])
    assert sorted({r['box_index'] for r in records}) == [0, 2]


def test_init_mipnet_reads_the_checkpoint_once(model, tmp_path, monkeypatch):
    path = tmp_path / 'weights.pth'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(model.dataset_meta, from_checkpoint=True))),
               path)
    real, calls = torch.load, []

    def spy(f, *args, **kwargs):  # the real torch.load, counted
        calls.append(str(f))
        return real(f, *args, **kwargs)
    monkeypatch.setattr(torch, 'load', spy)
    loaded = init_mipnet(str(SAMPLE_CONFIG), str(path), device='cpu')
    assert calls.count(str(path)) == 1
    assert loaded.dataset_meta.get('from_checkpoint') is True  # MMPose's priority kept
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name


def test_undecodable_image_in_a_folder_is_named(inferencer, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    shutil.copy(IMAGE, folder / 'a.jpg')
    (folder / 'b.jpg').write_bytes(b'not an image\n' * 20)
    (folder / 'LICENSE').write_text('a file of no known type is skipped\n')
    with pytest.raises(UndecodableImageError, match=r'input 1: image .*b\.jpg cannot be '
                       'decoded'):
        list(inferencer(str(folder)))


@pytest.mark.parametrize('damage', ['empty', 'garbage', 'truncated'])
def test_unreadable_video_is_a_clear_error(inferencer, tmp_path, damage):
    video = tmp_path / 'clip.mp4'
    write_sample_video(video)
    content = video.read_bytes()
    video.write_bytes({'empty': b'', 'garbage': b'no video here\n' * 50,
                       'truncated': content[:len(content) // 3]}[damage])
    with pytest.raises(UnreadableVideoError, match=r'video .*clip\.mp4[: ]'):
        list(inferencer(str(video)))


def test_legend_is_readable_at_any_size():
    assert legend_text_pixels((96, 128, 3)) == 12
    assert legend_text_pixels((900, 602, 3)) == 20
    assert legend_text_pixels((3000, 4000, 3)) == 100



def test_empty_image_file_is_named_not_an_opencv_assertion(model, inferencer, tmp_path):
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    with pytest.raises(UndecodableImageError, match=r'^image .*empty\.jpg cannot be decoded '
                       r'\(the file is empty, 0 bytes\)$'):
        inference_mipnet(model, str(empty))
    with pytest.raises(UndecodableImageError, match=r'^input 0: image .*empty\.jpg cannot be '
                       r'decoded \(the file is empty, 0 bytes\)$'):
        list(inferencer(str(empty)))


def test_grayscale_array_is_a_clear_error(model, inferencer):
    import cv2
    gray = cv2.imread(str(IMAGE), cv2.IMREAD_GRAYSCALE)
    assert gray.ndim == 2
    fix = r'a grayscale image: convert it with cv2\.cvtColor\(img, cv2\.COLOR_GRAY2BGR\)'
    with pytest.raises(ValueError, match=rf'img is an array of shape \({gray.shape[0]}, '
                       rf'{gray.shape[1]}\), {fix}'):
        inference_mipnet(model, gray, GT_XYXY)
    with pytest.raises(ValueError, match=rf'input 0 is an array of shape .*{fix}'):
        list(inferencer(gray, bboxes=[GT_XYXY]))
    # Converted as the message says, it runs.
    records = inference_mipnet(model, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), GT_XYXY)
    assert len(records) == 2 * len(GT_XYXY)
