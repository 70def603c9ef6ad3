"""Write configs/metafile.yml (read by `mim search mipnet_mmpose`) from the configs.

    python tools/write_metafile.py [--out configs/metafile.yml]

Lists every configs/mipnet*.py but the old-name aliases (files that only set ``_base_``);
results come from ``MEASURED`` in ``tools/mipnet_tools/metafile.py``.
"""
import argparse
import sys
from pathlib import Path
from typing import List, Optional

REPO = Path(__file__).resolve().parents[1]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default=str(REPO / 'configs' / 'metafile.yml'))
    args = parser.parse_args(argv)
    from mipnet_tools.startup import quiet_dependency_warnings
    quiet_dependency_warnings()
    from mipnet_tools.metafile import listed_configs, metafile_text
    text = metafile_text(listed_configs(REPO / 'configs'))
    Path(args.out).write_text(text)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
