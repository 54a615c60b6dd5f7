"""``sassid export``: write a trained network as an ONNX file, checked and compared with PyTorch.

The graph (``sassid.backends.onnx_graph``) has dynamic batch, height and width and leaves out
the networks' padding: pad the bottom and right to the file's ``size_multiple`` with its
``pad_mode`` (metadata), run, crop back. The model's output corrections (``lowpass_sigma``,
``noise_gate``: ``sassid.corrections``) are not in the graph; the metadata records them. The
file is written only after ``onnx.checker`` and a round trip through onnxruntime passed, and
atomically (temp file + rename).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sassid.backends.onnx_graph import ExportError, onnx_bytes, pad_rule
from sassid.io import atomic_path

__all__ = ["ExportError", "export_onnx", "check_round_trip"]


def check_round_trip(
    net: nn.Module, model: bytes, sizes: tuple[tuple[int, int], ...] = ((64, 96), (96, 64))
) -> float:
    """Max abs difference (of 255) between PyTorch and onnxruntime on random inputs of
    ``sizes`` (each padded per the rule, as the backend does)."""
    from sassid.backends.onnx_backend import OnnxForward

    forward = OnnxForward(model, pad_rule(net))
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    with torch.inference_mode():
        for h, w in sizes:
            x = torch.rand(1, 3, h, w, generator=gen) * 255
            worst = max(worst, float((forward(x) - net.eval()(x)).abs().max()))
    return worst


def export_onnx(
    model: str | os.PathLike[str] | nn.Module,
    output: str | os.PathLike[str],
    *,
    net: str = "unet",
    verify: bool = True,
) -> float | None:
    """Write ``net`` of ``model`` (run dir, model file, or a module) to ``output`` atomically.

    Returns the round-trip max abs difference against PyTorch (None when ``verify`` is off).
    The output is checked once the model is read, before the export: it may not be the model
    file itself, and its folder is made and must be writable (``sassid.outputs``).
    """
    from sassid.outputs import check_output_file, check_plan, ensure_folder

    output = Path(output)
    metadata: dict[str, str] = {}
    if isinstance(model, nn.Module):
        module = model
    else:
        from sassid.models import read_model

        source = read_model(model)
        check_plan([(source.path, output)])
        if net not in source.nets:
            raise ExportError(f"{model}: the model has no {net} network")
        module = source.networks((net,))[net]
        # The output corrections run after the network (sassid.corrections), outside the graph.
        metadata = {
            "lowpass_sigma": f"{source.lowpass_sigma:g}",
            "noise_gate": f"{source.noise_gate:g}",
        }
    ensure_folder(output.parent)
    check_output_file(output)
    if output.suffix.lower() != ".onnx":  # a .png or .txt name would hide what the file is
        raise ExportError(f"{output}: an ONNX model is written to a .onnx file")
    data = onnx_bytes(module, name=net, metadata=metadata)
    diff = check_round_trip(module, data) if verify else None
    if diff is not None and not np.isfinite(diff):
        raise ExportError(f"{net}: ONNX output is not finite")
    with atomic_path(output) as tmp:
        tmp.write_bytes(data)
    return diff
