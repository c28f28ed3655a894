"""ONNX export of a generator with a dynamic batch axis, checked against PyTorch with onnxruntime."""

from __future__ import annotations

import copy
import logging
import os
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["OnnxExport", "OnnxMismatchError", "export_onnx", "verify_onnx"]

log = logging.getLogger(__name__)


class OnnxMismatchError(RuntimeError):
    """onnxruntime's output of an exported model differs from PyTorch's beyond the tolerance."""


@dataclass(frozen=True)
class OnnxExport:
    """Where the model went and how far onnxruntime's output is from PyTorch's (None if not checked)."""

    path: Path
    resolution: int
    opset: int
    max_abs_diff: float | None


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    resolution: int,
    opset: int = 17,
    verify: bool = True,
    atol: float = 1e-4,
    overwrite: bool = False,
) -> OnnxExport:
    """Export ``model`` (eval mode, fp32, CPU) to ONNX: input ``canvas`` (N, C, R, R) -> ``face``.

    A coded generator (``config.code_dim > 0``) gets a second input ``code`` (N, code_dim).

    Uses the TorchScript-based exporter, which needs no extra package. With ``verify`` the file is run
    by onnxruntime on a batch of two and must match PyTorch within ``atol``.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
    net = copy.deepcopy(model).to("cpu", torch.float32).eval()
    in_channels = getattr(getattr(net, "config", None), "in_channels", 3)
    code_dim = _code_dim(net)
    example: tuple[torch.Tensor, ...] = (torch.zeros(1, in_channels, resolution, resolution),)
    names, axes = ["canvas"], {"canvas": {0: "batch"}, "face": {0: "batch"}}
    if code_dim:
        example += (torch.zeros(1, code_dim),)
        names.append("code")
        axes["code"] = {0: "batch"}

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with warnings.catch_warnings():
            # The legacy exporter's deprecation notice, tracer notes on the input check it skips, and
            # "instance_norm exported with train=True", which is right: it has no running statistics.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                net,
                example,
                str(tmp),
                dynamo=False,
                opset_version=opset,
                input_names=names,
                output_names=["face"],
                dynamic_axes=axes,
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

    diff = verify_onnx(net, path, resolution=resolution, atol=atol) if verify else None
    log.info("exported ONNX to %s (opset %d, max |diff| %s)", path, opset, diff)
    return OnnxExport(path, resolution, opset, diff)


def verify_onnx(
    model: nn.Module, path: str | os.PathLike[str], *, resolution: int, atol: float = 1e-4, batch: int = 2
) -> float:
    """Run the ONNX file and the module on the same random batch; return max |difference| or raise."""
    import onnxruntime as ort

    net = copy.deepcopy(model).to("cpu", torch.float32).eval()
    in_channels = getattr(getattr(net, "config", None), "in_channels", 3)
    x = torch.rand(batch, in_channels, resolution, resolution, generator=torch.Generator().manual_seed(0))
    x = x * 2 - 1
    inputs = (x,)
    code_dim = _code_dim(net)
    if code_dim:
        inputs += (torch.randn(batch, code_dim, generator=torch.Generator().manual_seed(1)),)
    with torch.inference_mode():
        expected = net(*inputs).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {arg.name: value.numpy() for arg, value in zip(session.get_inputs(), inputs, strict=True)}
    (got,) = session.run(None, feed)
    diff = float(np.max(np.abs(got - expected)))
    if got.shape != expected.shape or not diff <= atol:
        raise OnnxMismatchError(
            f"{path}: onnxruntime output {got.shape} differs from PyTorch {expected.shape} "
            f"by {diff:.3g} (> {atol})"
        )
    return diff


def _code_dim(net: nn.Module) -> int:
    return int(getattr(getattr(net, "config", None), "code_dim", 0) or 0)
