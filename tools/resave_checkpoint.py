"""Re-save a checkpoint you trust so that weights-only loading reads it.

    python tools/resave_checkpoint.py SRC DST

The plugin loads every checkpoint with torch's weights-only unpickler and only
the types mmengine's checkpoints hold (see
:data:`mipnet_mmpose.engine.CHECKPOINT_GLOBALS`); a file holding other Python
objects is refused with an error that names this command. SRC is unpickled
fully here, running any code it holds: use it only for a file you trust. DST
is written by this environment and checked by loading it weights-only; use it
in place of SRC (``--checkpoint``, ``load_from``, ``--resume``).
"""
import argparse
import sys
from typing import List, Optional


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Re-save a trusted checkpoint so that weights-only loading reads it '
        '(SRC is unpickled fully: only for files you trust).')
    parser.add_argument('src', help='the trusted checkpoint (.pth)')
    parser.add_argument('dst', help='where to write the re-saved checkpoint')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from mipnet_mmpose.engine import UnsafeCheckpointError, resave_trusted_checkpoint
    from mipnet_mmpose.utils.output_paths import OutputPathError, check_not_an_input
    try:
        check_not_an_input(args.dst, [args.src], what='DST')
        resave_trusted_checkpoint(args.src, args.dst)
    except (OSError, OutputPathError, UnsafeCheckpointError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'{args.src} -> {args.dst} (loads weights-only)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
