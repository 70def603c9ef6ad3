"""Parameter overhead of MIPNet's MIMBs over MMPose's stock top-down models.

    python tools/analysis/param_overhead.py [--num-instances 2] [--json]

Builds the stock MMPose HRNet-W32 256x192, HRNet-W48 384x288 and ResNet-50
SimpleBaseline COCO models from MMPose's own configs, then the same models with
the MIMB backbone, and prints both parameter counts and the ratio.
"""
import argparse
import json
import sys
from pathlib import Path

from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import mipnet_mmpose  # noqa: F401 (registers MIPHRNet / MIPResNet)

# tools/ holds the mipnet_tools helpers (``python tools/x.py`` has it on sys.path already).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from mipnet_tools.models import count_params  # noqa: E402

STOCK_CONFIGS = {
    'HRNet-W32 256x192': ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                          'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py', 'MIPHRNet'),
    'HRNet-W48 384x288': ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                          'td-hm_hrnet-w48_8xb32-210e_coco-384x288.py', 'MIPHRNet'),
    'ResNet-50 256x192': ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                          'td-hm_res50_8xb64-210e_coco-256x192.py', 'MIPResNet'),
}


def overhead(config: str, mip_type: str, num_instances: int) -> dict:
    cfg = get_config(config)
    cfg.model.backbone.init_cfg = None  # nothing to download
    stock = count_params(MODELS.build(cfg.model))
    cfg.model.backbone.type = mip_type
    cfg.model.backbone.num_instances = num_instances
    mip = count_params(MODELS.build(cfg.model))
    return dict(stock=stock, mipnet=mip, extra=mip - stock, ratio=mip / stock)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-instances', type=int, default=2)
    parser.add_argument('--json', action='store_true', help='print JSON instead of a table')
    args = parser.parse_args()
    init_default_scope('mmpose')
    rows = {name: overhead(cfg, mip_type, args.num_instances)
            for name, (cfg, mip_type) in STOCK_CONFIGS.items()}
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f'{"model":<20} {"stock":>12} {"MIPNet N=" + str(args.num_instances):>12} '
          f'{"extra":>10} {"ratio":>7}')
    for name, r in rows.items():
        print(f'{name:<20} {r["stock"]:>12,} {r["mipnet"]:>12,} {r["extra"]:>10,} '
              f'{r["ratio"]:>7.4f}')


if __name__ == '__main__':
    main()
