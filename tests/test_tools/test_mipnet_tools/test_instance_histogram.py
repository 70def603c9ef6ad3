"""Instance histogram (the paper's Fig. 4) on the bundled annotation files."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mipnet_tools.instance_histogram import instance_histogram
from tests.conftest import REPO, SAMPLE, load_tool

TOOL = REPO / 'tools' / 'analysis' / 'instance_histogram.py'
OCHUMAN = str(SAMPLE / 'ochuman' / 'test_ochuman.json')
CROWDPOSE = str(SAMPLE / 'crowdpose' / 'test_crowdpose.json')
COCO = str(SAMPLE / 'coco' / 'test_coco.json')
COCO_MINI = [str(SAMPLE / 'coco_mini' / 'annotations' / f'person_keypoints_{s}2017.json')
             for s in ('train', 'val')]




@pytest.mark.parametrize('ann_file, min_keypoints, hist', [
    # OCHuman: 5 persons. 003799.jpg holds person 1 alone -> 0. In 000817.jpg person 3 has 13
    # labelled keypoints inside 2's box and 2 has 10 inside 3's box; in 003896.jpg 5 has 15
    # inside 4's box and 4 has 11 inside 5's -> four persons with 1 other.
    (OCHUMAN, 3, [1, 4, 0, 0]),
    # Overlapping pairs keep >= 10 keypoints in each other's boxes: still 1 at K = 10, and at
    # K = 11 only 2's box (13 of 3's), 4's (15 of 5's) and 5's (11 of 4's) keep their partner.
    (OCHUMAN, 10, [1, 4, 0, 0]),
    (OCHUMAN, 11, [2, 3, 0, 0]),
    # CrowdPose: 4 persons (131039 has no labelled keypoint, so it is neither counted nor
    # counts). 106848.jpg: 147481 has 4 keypoints inside 123803's box, 123803 has 1 inside
    # 147481's. 103319.jpg: 129014 has 5 inside 127068's box, 127068 has 6 inside 129014's.
    (CROWDPOSE, 3, [1, 3, 0, 0]),
    (CROWDPOSE, 5, [2, 2, 0, 0]),  # 123803's neighbour (4 inside) no longer counts
    # COCO: 12 persons with keypoints. Only 000000197388.jpg has boxes holding others with
    # >= 3 keypoints (437295 <-> 467657 with 10 / 9, 531914 <-> 533949 with 6 / 4); in
    # 000000196141.jpg 488308 has 2 keypoints inside 1717641's box, which counts only at K <= 2.
    (COCO, 3, [8, 4, 0, 0]),
    (COCO, 2, [7, 5, 0, 0]),
])
def test_hand_checked_histograms(ann_file, min_keypoints, hist):
    result = instance_histogram(ann_file, min_keypoints)
    assert result['hist'] == hist
    assert result['num_persons'] == sum(hist)
    assert result['fractions'] == pytest.approx([c / sum(hist) for c in hist])
    assert result['min_keypoints'] == min_keypoints and result['ann_file'] == ann_file


def brute_force(ann_file: str, min_keypoints: int) -> list:
    """The same statistic written out with plain loops, from the definition."""
    anns = [a for a in json.loads(Path(ann_file).read_text())['annotations']
            if not a.get('iscrowd', 0)]
    hist = [0, 0, 0, 0]
    for a in anns:
        if not any(v > 0 for v in a['keypoints'][2::3]):
            continue
        x, y, w, h = a['bbox']
        others = 0
        for b in anns:
            if b is a or b['image_id'] != a['image_id']:
                continue
            kp = b['keypoints']
            inside = sum(1 for i in range(0, len(kp), 3)
                         if kp[i + 2] > 0 and x < kp[i] < x + w and y < kp[i + 1] < y + h)
            others += inside >= min_keypoints
        hist[min(others, 3)] += 1
    return hist


@pytest.mark.parametrize('ann_file', COCO_MINI)
def test_coco_mini_matches_brute_force_and_fills_every_bin(ann_file):
    result = instance_histogram(ann_file)
    assert result['hist'] == brute_force(ann_file, 3)
    # The larger sample has boxes with 2 and 3+ others (train: 63/18/2/3, val: 55/10/1/2).
    assert result['hist'] == {'train': [63, 18, 2, 3], 'val': [55, 10, 1, 2]}[
        'train' if 'train' in ann_file else 'val']
    # coco_mini's train file has crowd regions: they neither count nor are counted.
    assert instance_histogram(ann_file, 1)['hist'] == brute_force(ann_file, 1)


def test_cli_json_table_and_plot(tmp_path):
    plot = tmp_path / 'hist.png'
    out = subprocess.run(
        [sys.executable, str(TOOL), OCHUMAN, '--min-keypoints', '11', '--json', '--plot',
         str(plot)], capture_output=True, text=True, check=True, cwd=REPO, timeout=120)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == dict(hist=[2, 3, 0, 0], fractions=[0.4, 0.6, 0.0, 0.0], num_persons=5,
                          min_keypoints=11, ann_file=OCHUMAN)
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_cli_table_and_errors_name_the_file(tmp_path, capsys):
    tool = load_tool(TOOL, 'instance_histogram_cli')
    assert tool.main([CROWDPOSE]) == 0
    table = capsys.readouterr().out.splitlines()
    assert 'test_crowdpose.json: 4 persons' in table[0] and '>= 3' in table[0]
    assert table[2].split() == ['0', '1', '0.250']
    assert table[3].split() == ['1', '3', '0.750']
    assert table[5].split() == ['3+', '0', '0.000']

    missing = str(tmp_path / 'missing.json')
    assert tool.main([missing]) == 1
    assert missing in capsys.readouterr().err
    malformed = tmp_path / 'malformed.json'
    for content in ['{"images": []}', 'not json', '{"annotations": [{"keypoints": [1, 2, 1]}]}']:
        malformed.write_text(content)
        assert tool.main([str(malformed)]) == 1
        assert str(malformed) in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match='missing.json'):
        instance_histogram(missing)
    with pytest.raises(ValueError, match='min_keypoints'):
        instance_histogram(OCHUMAN, -1)
