"""Progress of an inferencer run: whole lines, at most one per interval, the last always."""
import re

from mipnet_mmpose.apis.inference_progress import RunProgress


def test_progress_lines_are_whole_and_throttled(capsys):
    progress = RunProgress(total=4, interval=3600.0)
    for _ in range(4):
        print('a log line of the run')  # what MMPose's inferencer logs per input
        progress.update()
    progress.add_poses(3, 6, 4, 2, 'oks_nms, thr 0.9')
    progress.finish()
    lines = capsys.readouterr().out.splitlines()
    # Only the last input's line within the hour; nothing shares a line with the log.
    assert lines[:4] == ['a log line of the run'] * 4
    assert re.fullmatch(r'4/4 frames, [\d.]+ frames/s, elapsed 0 s, ETA 0 s', lines[4])
    assert re.fullmatch(r'4 frames in [\d.]+ s = .*; 3 boxes x 2 instances -> 4 of 6 poses '
                        r'kept \(oks_nms, thr 0.9\)', lines[5])
    assert len(lines) == 6


def test_every_input_gets_a_line_without_interval_and_no_eta_without_total(capsys):
    progress = RunProgress(total=0, interval=0.0)  # a webcam: no total
    for _ in range(3):
        progress.update()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(',')[0] for line in lines] == ['1 frames', '2 frames', '3 frames']
    assert all(re.fullmatch(r'\d frames, [\d.]+ frames/s, elapsed 0 s', line) for line in lines)
