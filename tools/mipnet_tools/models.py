"""The models the measurements build: MMPose's stock top-down models and MIPNet's.

A :class:`ModelSpec` names a stock MMPose config and its MIPNet counterpart;
:func:`build` builds both with random weights (nothing to download), and
:func:`small_hrnet_extra` is the narrow HRNet the tests and ``--smoke`` runs use.
"""
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.hub import get_config
from torch import Tensor, nn

REPO = Path(__file__).resolve().parents[2]
_STOCK = 'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
#: Stage-4 width of the tiny HRNet of the ``tiny`` spec (8, 16, 32, 64 channels).
TINY_WIDTH = 8


def small_hrnet_extra(width: int = TINY_WIDTH) -> dict:
    """A narrow HRNet's ``extra`` (stage-4 channels width, 2*width, 4*width, 8*width),
    one block per branch: the real HRNet code paths in a fraction of a second."""
    w = width
    return dict(
        stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(1, ),
                    num_channels=(16, )),
        stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(1, 1),
                    num_channels=(w, 2 * w)),
        stage3=dict(num_modules=1, num_branches=3, block='BASIC', num_blocks=(1, 1, 1),
                    num_channels=(w, 2 * w, 4 * w)),
        stage4=dict(num_modules=1, num_branches=4, block='BASIC', num_blocks=(1, 1, 1, 1),
                    num_channels=(w, 2 * w, 4 * w, 8 * w)))


@dataclass(frozen=True)
class ModelSpec:
    """One stock model and its MIPNet counterpart.

    Attributes:
        key (str): Short name used on the command line and in the JSON.
        name (str): Name shown in the table.
        stock_config (str): MMPose config of the stock model (``mmpose::`` path).
        mip_config (str, optional): This repo's MIPNet config, relative to the repo
            root; None converts the stock config (``mipnet_mmpose.convert_config``).
        param_limit (float, optional): Target of MIPNet N=2 params / stock params.
        infer_limit (float, optional): Target of the shared-trunk N=2 latency /
            stock latency at batch >= 8.
        tiny (bool): Shrink both models to a narrow HRNet at 128x96 (tests only).
    """

    key: str
    name: str
    stock_config: str
    mip_config: Optional[str]
    param_limit: Optional[float] = None
    infer_limit: Optional[float] = None
    tiny: bool = False


SPECS: Dict[str, ModelSpec] = {
    spec.key: spec for spec in (
        ModelSpec('w32', 'HRNet-W32 256x192',
                  _STOCK + 'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py',
                  'configs/mipnet_hrnet-w32_3xb32-110e_coco-256x192.py', 1.01, 1.35),
        ModelSpec('w48', 'HRNet-W48 384x288',
                  _STOCK + 'td-hm_hrnet-w48_8xb32-210e_coco-384x288.py',
                  'configs/mipnet_hrnet-w48_4xb10-110e_coco-384x288.py', 1.01, 1.45),
        ModelSpec('r50', 'ResNet-50 256x192',
                  _STOCK + 'td-hm_res50_8xb64-210e_coco-256x192.py',
                  'configs/mipnet_res50_4xb32-140e_coco-256x192.py'),
        # MIPNet on other MMPose families, converted from MMPose's own configs.
        ModelSpec('rtm-m', 'RTMPose-m 256x192',
                  'mmpose::body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py',
                  'configs/mipnet_rtmpose-m_8xb256-420e_coco-256x192.py'),
        ModelSpec('hrformer-s', 'HRFormer-S 256x192',
                  _STOCK + 'td-hm_hrformer-small_8xb32-210e_coco-256x192.py', None),
        # A narrow HRNet for the tests: the same code paths in a fraction of a second.
        ModelSpec('tiny', 'tiny HRNet 128x96',
                  _STOCK + 'td-hm_hrnet-w32_8xb64-210e_coco-256x192.py',
                  'configs/mipnet_hrnet-w32_3xb32-110e_coco-256x192.py', tiny=True),
    )
}


def model_config(spec: ModelSpec, num_instances: Optional[int]) -> Config:
    """Config of the stock model (``num_instances=None``) or of MIPNet with N instances.

    N=2 is the shipped config (one-hot λ); N=3 and 4 use the authors' 2-bit code.
    """
    if num_instances is None:
        cfg = get_config(spec.stock_config)
    else:
        if spec.mip_config is None:
            from mipnet_mmpose import convert_config
            cfg = convert_config(get_config(spec.stock_config))
        else:
            cfg = Config.fromfile(str(REPO / spec.mip_config))
        cfg.model.num_instances = num_instances
        cfg.model.lambda_encoding = 'one_hot' if num_instances <= 2 else 'binary'
    cfg.model.backbone.init_cfg = None  # random weights: nothing to download
    if spec.tiny:
        cfg.model.backbone.extra = small_hrnet_extra(TINY_WIDTH)
        cfg.model.head.in_channels = TINY_WIDTH
        cfg.codec.input_size = (96, 128)
    return cfg


class TensorForward(nn.Module):
    """Backbone + head in tensor mode; MIPNet runs ``num_instances`` λ per box.

    A plain ``forward(x)`` so that mmengine's FLOP counter (which traces
    ``forward(*inputs)``) can count a call with the backbone's keyword arguments.

    Args:
        estimator (nn.Module): A built top-down estimator.
        num_instances (int, optional): n for ``backbone(x, num_instances=n)``;
            None for a stock backbone.
    """

    def __init__(self, estimator: nn.Module, num_instances: Optional[int] = None):
        super().__init__()
        self.backbone = estimator.backbone
        self.head = estimator.head
        self.num_instances = num_instances

    def forward(self, x: Tensor) -> Tensor:
        if self.num_instances is None:
            return self.head(self.backbone(x))
        return self.head(self.backbone(x, num_instances=self.num_instances))


@dataclass
class Built:
    """Built models of one spec on a device, and what the inputs look like."""

    spec: ModelSpec
    stock: Optional[nn.Module]  # None when only MIPNet was asked for
    mip: Dict[int, nn.Module]  # N -> MIPNet estimator built for N instances
    input_hw: Tuple[int, int]
    flip_indices: List[int]
    device: torch.device


@functools.lru_cache()
def coco_metainfo() -> dict:
    """MMPose's COCO keypoint metainfo (flip indices, OKS sigmas)."""
    from mmpose.datasets import CocoDataset
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    with warnings.catch_warnings():
        # the relative path resolves into mmpose's package data, as it should
        warnings.simplefilter('ignore', UserWarning)
        return parse_pose_metainfo(CocoDataset.METAINFO)


def build(spec: ModelSpec, device: torch.device, mip_ns: Sequence[int] = (2, ),
          stock: bool = True) -> Built:
    """Build the stock model and the MIPNet models with the given N, in eval mode."""
    from mmpose.registry import MODELS

    cfg = model_config(spec, None)
    width, height = cfg.codec.input_size
    stock_model = MODELS.build(cfg.model).to(device).eval() if stock else None
    mip = {n: MODELS.build(model_config(spec, n).model).to(device).eval() for n in mip_ns}
    flip_indices = list(coco_metainfo()['flip_indices'])
    return Built(spec, stock_model, mip, (height, width), flip_indices, device)


def count_params(module: nn.Module) -> int:
    """The number of parameters of ``module`` (all of them, trainable or not)."""
    return sum(p.numel() for p in module.parameters())


def count_flops(module: nn.Module, x: Tensor) -> int:
    """FLOPs as mmengine counts them (one multiply-add = 1; the counter behind
    ``get_model_complexity_info``, called directly to skip its second trace for
    activations)."""
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, (x, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())

