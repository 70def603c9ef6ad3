"""Export a MIPNet estimator to ONNX, with the heatmaps of every λ as its output.

    python tools/export_onnx.py CONFIG [--checkpoint W] --out model.onnx \
        [--num-instances n] [--input-size W H] [--opset 17] [--verify]

The graph takes ``input`` (B, 3, H, W) float32 crops, normalised as the
config's data preprocessor (mean/std, RGB order), and returns ``heatmaps``
(B, n, K, h, w), ``[:, i]`` for λ=i. The batch axis is dynamic. Decoding
(argmax, flip test, OKS-NMS) stays with the caller.
"""
import argparse
import os.path as osp
import sys
from typing import TYPE_CHECKING, List, Optional, Tuple

# torch, onnx and OpenMMLab are imported where they are used, after the arguments are
# parsed, so that --help and argument errors answer at once.
if TYPE_CHECKING:
    from mmengine.config import Config
    from torch import nn

    from mipnet_mmpose.models.utils.onnx_wrapper import MultiInstanceHeatmapExporter


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='plugin config of the model')
    parser.add_argument('--checkpoint', help='weights to load (without: random weights)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--num-instances', type=int,
                        help="n, the λ values 0..n-1 to output (default: the model's N)")
    parser.add_argument('--input-size', type=int, nargs=2, metavar=('W', 'H'),
                        help="crop size (default: the config's codec input_size)")
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset (default: 17)')
    parser.add_argument('--verify', action='store_true',
                        help='run the file with onnxruntime on a random batch of 2 and '
                        'compare it with PyTorch')
    return parser.parse_args(argv)


def default_input_size(model: 'nn.Module', cfg: 'Config') -> Tuple[int, int]:
    """(W, H) from the head's decoder or the config's ``codec``."""
    decoder = getattr(getattr(model, 'head', None), 'decoder', None)
    size = getattr(decoder, 'input_size', None) or cfg.get('codec', {}).get('input_size')
    if size is None:
        raise ValueError('the config has no codec input_size: pass --input-size W H')
    return int(size[0]), int(size[1])


def verify(wrapper: 'MultiInstanceHeatmapExporter', onnx_file: str,
           input_size: Tuple[int, int]) -> float:
    """Max abs difference of onnxruntime (CPU) and PyTorch on a random batch of 2."""
    import numpy as np
    import onnxruntime as ort
    import torch

    from mipnet_mmpose.models.utils.onnx_wrapper import ONNX_INPUT_NAME
    width, height = input_size
    x = torch.randn(2, 3, height, width, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = wrapper(x).numpy()
    session = ort.InferenceSession(onnx_file, providers=['CPUExecutionProvider'])
    (got, ) = session.run(None, {ONNX_INPUT_NAME: x.numpy()})
    return float(np.abs(got - expected).max())


def check_paths(args: argparse.Namespace) -> None:
    """The inputs exist; ``--out`` is no input and no file but an unchanged earlier export."""
    from mipnet_mmpose.models.utils.onnx_wrapper import ONNX_WRITER
    from mipnet_mmpose.utils.output_paths import OutputPathError, check_output, onnx_owner
    for path, what in ((args.config, 'config'), (args.checkpoint, '--checkpoint')):
        if path is not None and not osp.isfile(path):
            raise OutputPathError(f'{what} not found: {path}')
    check_output(args.out, [args.config, args.checkpoint], onnx_owner(ONNX_WRITER),
                 what='--out', input_what='file read by the export')


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mipnet_tools.startup import quiet_dependency_warnings
    quiet_dependency_warnings()
    import mipnet_mmpose  # noqa: F401 (registers the MIPNet modules)
    from mipnet_mmpose.apis import init_mipnet
    from mipnet_mmpose.engine import CorruptCheckpointError
    from mipnet_mmpose.models.utils.checkpoint_fit import CheckpointMismatchError
    from mipnet_mmpose.models.utils.onnx_wrapper import export_onnx
    from mipnet_mmpose.utils.output_paths import OutputPathError
    try:
        check_paths(args)
    except OutputPathError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    # Strict: a checkpoint missing the MIMB weights would export random λ gates.
    try:
        model = init_mipnet(args.config, args.checkpoint, device='cpu')
    except (CheckpointMismatchError, CorruptCheckpointError) as e:
        # A stock or another model's checkpoint, or an unreadable file: the sentence
        # names it, a traceback through mmengine would not add anything.
        print(f'error: {e}', file=sys.stderr)
        return 1
    cfg = model.cfg
    if not args.checkpoint:
        print('warning: no --checkpoint, exporting random weights', file=sys.stderr)
    input_size = tuple(args.input_size) if args.input_size else default_input_size(model, cfg)
    wrapper = export_onnx(model, args.out, input_size, args.num_instances, args.opset)
    print(f'exported {args.out}: input (B, 3, {input_size[1]}, {input_size[0]}) -> heatmaps '
          f'(B, {wrapper.num_instances}, K, h, w), opset {args.opset}')
    if args.verify:
        diff = verify(wrapper, args.out, input_size)
        print(f'onnxruntime vs PyTorch: max abs difference {diff:.3g}')
        if diff > 1e-3:
            print('error: the ONNX outputs differ from PyTorch', file=sys.stderr)
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
