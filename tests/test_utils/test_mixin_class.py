"""MultiInstance<Name> classes of two stock classes of one name (MMPose's and mmdet's CSPNeXt)."""
import pickle
import subprocess
import sys
from pathlib import Path

import mmdet.models.backbones as mmdet_backbones
import mmpose.models.backbones as mmpose_backbones

from mipnet_mmpose.models.backbones.multi_instance_backbone import multi_instance_class

REPO = Path(__file__).resolve().parents[2]


def test_same_named_stock_classes_stay_apart_and_pickle_into_a_fresh_process():
    # RTMW's whole-body configs build MMPose's CSPNeXt, RTMPose's body ones mmdet's: made
    # in one process (the test suite, a sweep), each must still pickle as itself.
    ours = multi_instance_class(mmpose_backbones.CSPNeXt)
    mmdet = multi_instance_class(mmdet_backbones.CSPNeXt)
    assert ours is not mmdet
    assert ours.__name__ == mmdet.__name__ == 'MultiInstanceCSPNeXt'
    for cls in (ours, mmdet):
        assert pickle.loads(pickle.dumps(cls)) is cls
    code = ('import pickle, sys, mipnet_mmpose\n'
            'for data in sys.stdin.buffer.read().split(b"<sep>"):\n'
            '    cls = pickle.loads(data)\n'
            '    print(cls.__name__, cls.__mro__[2].__module__)\n')
    data = pickle.dumps(ours) + b'<sep>' + pickle.dumps(mmdet)
    result = subprocess.run([sys.executable, '-c', code], input=data, capture_output=True,
                            cwd=str(REPO))
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stdout.decode().split('\n')[:2] == [
        'MultiInstanceCSPNeXt mmpose.models.backbones.cspnext',
        'MultiInstanceCSPNeXt mmdet.models.backbones.cspnext']
