"""Convert the MIPNet authors' checkpoint, or the HRNet/SimpleBaseline release they
start from, into this plugin's layout.

    python tools/convert_official_ckpt.py SRC DST --config CONFIG [--release] [--allow-pickle]

SRC is a checkpoint of the authors' code (GitHub rawalkhirodkar/MIPNet), e.g.
their released HRNet-W48 384x288 N=2 model; CONFIG the plugin config of the
same architecture (configs/mipnet_hrnet-w48_4xb10-110e_coco-384x288.py for that
one). Every key is renamed (see mipnet_mmpose/models/utils/official_ckpt.py),
checked against the model built from CONFIG (all keys present, same shapes,
nothing left over) and DST is written atomically as an mmengine checkpoint
that ``mim test``/``load_from``/MMPoseInferencer load.

With --release, SRC is a single-person release (e.g. HRNet's
pose_hrnet_w32_256x192.pth, the authors' start checkpoint) and DST the MMPose
HRNet + HeatmapHead checkpoint (the config's model with N=1, no MIMB) that the
config's ``load_from`` names, e.g.

    python tools/convert_official_ckpt.py pose_hrnet_w32_256x192.pth \
        checkpoints/pose_hrnet_w32_256x192_mmpose.pth --release \
        --config configs/mipnet_hrnet-w32_3xb32-110e_coco-256x192.py

A file already in MMPose's layout (a stock MMPose checkpoint, or a MIPNet checkpoint of
this plugin) needs no conversion: the tool says what it is and what to do with it.

A file without any batch-norm num_batches_tracked (saved before PyTorch 0.4.1, as
SimpleBaseline's 2018 releases) gets them as a fresh model has them, 0; the tool says how
many.
"""
import argparse
import sys
from typing import TYPE_CHECKING, List, Optional

# torch and OpenMMLab are imported where they are used, after the arguments are parsed,
# so that --help and argument errors answer at once.
if TYPE_CHECKING:
    from torch import nn


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Convert the MIPNet authors' checkpoint for this plugin's model.")
    parser.add_argument('src', help="the authors' checkpoint (.pth)")
    parser.add_argument('dst', help='where to write the converted checkpoint')
    parser.add_argument('--config', required=True,
                        help='plugin config building the same architecture (its N and '
                        'lambda encoding are recorded in the checkpoint)')
    parser.add_argument('--release', action='store_true',
                        help='SRC is a single-person release (HRNet / SimpleBaseline, no '
                        'SE-lambda block): write it for the N=1 model, i.e. MMPose\'s '
                        'backbone + HeatmapHead, the start checkpoint of load_from')
    parser.add_argument('--allow-pickle', action='store_true',
                        help='unpickle arbitrary objects in SRC (only for files you '
                        'trust; the authors\' checkpoints do not need it)')
    return parser.parse_args(argv)


def build_model(config: str, release: bool = False) -> 'nn.Module':
    """The estimator of ``config`` (its N=1 version with ``release``), without
    loading any pretrained weights."""
    from mmengine.config import Config

    from mipnet_mmpose.apis import init_mipnet
    from mipnet_mmpose.models.utils.official_ckpt import release_model_cfg
    cfg = Config.fromfile(config)
    if release:
        cfg.model = release_model_cfg(cfg.model)
    # Every weight comes from SRC: built as the inference API builds it, no init downloads.
    return init_mipnet(cfg, device='cpu')


def is_converted_checkpoint(path: str) -> bool:
    """Whether ``path`` is an earlier output of this tool (its meta records the source keys).

    Read weights-only so that checking a file never runs a pickle payload.
    """
    from mipnet_mmpose.engine import load_checkpoint_file
    try:
        ckpt = load_checkpoint_file(path)
    except Exception:  # not a checkpoint, or one holding arbitrary objects: not ours
        return False
    return isinstance(ckpt, dict) and 'mipnet_source_keys' in (ckpt.get('meta') or {})


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mipnet_tools.startup import quiet_dependency_warnings
    quiet_dependency_warnings()
    import mipnet_mmpose  # noqa: F401 (registers the MIPNet modules)
    from mipnet_mmpose.models.utils.official_ckpt import (
        OfficialCheckpointError,
        convert_official_checkpoint,
        load_official_state_dict,
    )
    from mipnet_mmpose.utils.output_paths import OutputPathError, check_output
    try:
        # Never over SRC or the config, nor over a file this tool did not write.
        check_output(args.dst, [args.src, args.config], is_converted_checkpoint, what='DST')
    except OutputPathError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    try:
        # Read before the model is built: an empty file, or one that needs no
        # conversion, is named at once.
        loaded = load_official_state_dict(args.src, allow_pickle=args.allow_pickle)
        model = build_model(args.config, release=args.release)
        meta = convert_official_checkpoint(
            args.src, args.dst, model, extra_meta=dict(mipnet_config=args.config),
            loaded=loaded)
    except (OSError, OfficialCheckpointError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f"converted {meta['mipnet_source_keys']} keys from {args.src} "
          f"({meta['mipnet_source_container']}) for {type(model.backbone).__name__} "
          f"num_instances={meta['num_instances']} lambda_encoding={meta['lambda_encoding']!r}"
          f' -> {args.dst}')
    if meta['mipnet_filled_counters']:
        print(f"SRC has no batch-norm counter (saved before PyTorch 0.4.1): "
              f"{meta['mipnet_filled_counters']} num_batches_tracked set to 0, as in a "
              'fresh model')
    return 0


if __name__ == '__main__':
    sys.exit(main())
