"""An exportable view of a MIPNet estimator: image crops in, the heatmaps of every λ out."""
import inspect
import warnings
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from ...utils.output_paths import stamp_onnx

#: Names of the exported graph's input and output.
ONNX_INPUT_NAME = 'input'
ONNX_OUTPUT_NAME = 'heatmaps'
#: The writer :func:`export_onnx` names in the metadata of every file it writes.
ONNX_WRITER = 'mipnet_mmpose.export_onnx'


class MultiInstanceHeatmapExporter(nn.Module):
    """Wraps a :class:`MultiInstanceTopdownPoseEstimator` for ONNX/TorchScript export.

    The forward is the estimator's tensor-mode path with all n instances: the
    backbone runs λ = 0..n-1 for every crop (sharing its λ-independent trunk),
    the head maps each of the B*n feature rows to K heatmaps, and the rows are
    regrouped per crop. No flip test and no decoding: those stay on the caller's
    side, as for any MMPose model exported to ONNX.

    Args:
        estimator (nn.Module): A built estimator whose backbone takes
            ``num_instances`` (``MIPHRNet``/``MIPResNet``) and whose head has a
            tensor ``forward``.
        num_instances (int, optional): n, how many λ to run, in [1, N]. Defaults
            to the backbone's N.
    """

    def __init__(self, estimator: nn.Module, num_instances: Optional[int] = None):
        super().__init__()
        n_max = getattr(estimator.backbone, 'num_instances', 1)
        n = n_max if num_instances is None else num_instances
        if not isinstance(n, int) or not 1 <= n <= n_max:
            raise ValueError(f'num_instances={n!r} must be an integer in [1, {n_max}], '
                             f'the range the model was built for')
        self.estimator = estimator
        self.num_instances = n

    def forward(self, inputs: Tensor) -> Tensor:
        """Heatmaps of all instances.

        Args:
            inputs (Tensor): Normalised crops in shape (B, 3, H, W).

        Returns:
            Tensor: Heatmaps in shape (B, n, K, h, w); ``[:, i]`` is λ=i
            (``[:, 0]`` the box's own person).
        """
        n = self.num_instances
        # With n=1 the backbone still gets num_instances=1 so that the λ=0 code
        # is applied exactly as in prediction.
        feats = self.estimator.backbone(inputs, num_instances=n)
        if self.estimator.with_neck:
            feats = self.estimator.neck(feats)
        heatmaps = self.estimator.head.forward(feats)  # (B*n, K, h, w), rows (crop, λ)
        return heatmaps.unflatten(0, (-1, n))


def export_onnx(estimator: nn.Module,
                out_file: str,
                input_size: Tuple[int, int],
                num_instances: Optional[int] = None,
                opset_version: int = 17,
                batch_size: int = 1) -> MultiInstanceHeatmapExporter:
    """Export ``estimator`` (in eval mode) to ONNX with a dynamic batch axis.

    The graph maps ``input`` (B, 3, H, W) float32, normalised as the config's
    data preprocessor does, to ``heatmaps`` (B, n, K, h, w).

    Args:
        estimator (nn.Module): A built MIPNet estimator (weights loaded).
        out_file (str): The ``.onnx`` file to write.
        input_size (tuple[int, int]): (W, H) of the crops, as MMPose codecs
            write it.
        num_instances (int, optional): n; defaults to the backbone's N.
        opset_version (int): ONNX opset. Defaults to 17.
        batch_size (int): Batch of the example input used for tracing; any
            batch works at run time. Defaults to 1.

    The file's metadata names this function as its writer with the sha256 of
    its graph (:func:`~mipnet_mmpose.utils.output_paths.stamp_onnx`), so that
    ``tools/export_onnx.py`` replaces its own unchanged exports only.

    Returns:
        MultiInstanceHeatmapExporter: The traced wrapper (to compare outputs).
    """
    wrapper = MultiInstanceHeatmapExporter(estimator, num_instances).eval()
    width, height = input_size
    param = next(estimator.parameters())
    example = torch.zeros(batch_size, 3, height, width, dtype=param.dtype, device=param.device)
    with torch.no_grad(), warnings.catch_warnings():
        # The shape checks in the MIMBs compare traced sizes in Python, which the
        # tracer reports; λ is generated inside the graph (0..n-1 per crop, its
        # code looked up in a constant table), so the checks hold for every batch
        # and freezing them is harmless.
        warnings.filterwarnings('ignore', category=torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper, (example, ),
            out_file,
            input_names=[ONNX_INPUT_NAME],
            output_names=[ONNX_OUTPUT_NAME],
            dynamic_axes={ONNX_INPUT_NAME: {0: 'batch'}, ONNX_OUTPUT_NAME: {0: 'batch'}},
            opset_version=opset_version,
            **_torchscript_exporter())
    stamp_onnx(out_file, ONNX_WRITER)
    return wrapper


def _torchscript_exporter() -> dict:
    """The argument that keeps ``torch.onnx.export`` on its TorchScript exporter.

    torch >= 2.9 exports through ``torch.export`` by default (``dynamo=True``,
    which needs the onnxscript package: "No module named 'onnxscript'" on
    torch 2.14.1); this wrapper is written for, and tested with, the
    TorchScript exporter (traced λ, ``dynamic_axes``). torch 2.4-2.8 default to
    it; older versions have no ``dynamo`` argument.
    """
    if 'dynamo' in inspect.signature(torch.onnx.export).parameters:
        return dict(dynamo=False)
    return {}
