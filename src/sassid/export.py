"""ONNX export of a trained network, with dynamic height and width.

The graph is the network body. Padding to the size multiple is a documented pre-step, not part
of the graph: the networks pad with a data-dependent amount ((-H) mod 32), which the TorchScript
exporter would freeze at the traced size. The file records the rule in its metadata
(``size_multiple``, ``pad_mode``: pad bottom and right, then crop the output back), and
``sassid.backends.onnx_backend`` applies it. Pixels are float32 NCHW RGB in [0, 255].

The BNN is traced on a non-square input so that its general branch (0/180 and 90/270 trunk
passes, valid for every shape) is the one recorded; the square-input shortcut is an eager-mode
speed-up only.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sassid.errors import SassidError
from sassid.io import atomic_path

__all__ = ["ExportError", "PadRule", "pad_rule", "onnx_bytes", "export_onnx", "check_round_trip"]

OPSET = 17


class ExportError(SassidError):
    """The export failed or the optional ``onnx`` extra is missing."""


@dataclass(frozen=True)
class PadRule:
    """Pre-step of an exported graph: pad bottom/right to ``multiple`` with ``mode``, crop back."""

    multiple: int
    mode: str  # "reflect" (U-Net), "constant" (zeros: BNN, keeps the blind window exact)


def pad_rule(net: nn.Module) -> PadRule:
    """The padding a network applies itself in eager mode, which the exported graph omits."""
    from sassid.nets import BNN

    multiple = int(getattr(net, "size_multiple", 1))
    return PadRule(multiple, "constant" if isinstance(net, BNN) else "reflect")


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ExportError(
            "ONNX export needs the optional extra: pip install 'sassid[onnx]'"
        ) from None


def onnx_bytes(net: nn.Module, *, name: str = "unet") -> bytes:
    """Serialized ONNX model of ``net`` (eval mode, fp32) with dynamic batch, height, width.

    Raises ExportError if the exporter fails; the graph is checked with ``onnx.checker``.
    """
    _require_onnx()
    import onnx

    rule = pad_rule(net)
    m = max(rule.multiple, 1)
    # Non-square and not a power of two, so no size-specific branch is traced.
    example = torch.rand(1, 3, 2 * m if m > 1 else 40, 3 * m if m > 1 else 56) * 255
    net = net.eval()
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings on shape arithmetic
            torch.onnx.export(
                net,
                (example,),
                buffer,  # type: ignore[arg-type]  # file-like objects work with dynamo=False
                input_names=["noisy"],
                output_names=["denoised"],
                dynamic_axes={
                    "noisy": {0: "batch", 2: "height", 3: "width"},
                    "denoised": {0: "batch", 2: "height", 3: "width"},
                },
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as exc:  # the exporter raises many types; report in one line
        raise ExportError(f"could not export {name} to ONNX: {exc}") from None
    model = onnx.load_from_string(buffer.getvalue())
    meta = {
        "sassid_net": name,
        "size_multiple": str(rule.multiple),
        "pad_mode": rule.mode,
        "input": "float32 NCHW RGB in [0, 255]; pad bottom/right to size_multiple, crop back",
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ExportError(f"exported {name} graph failed onnx.checker: {exc}") from None
    return bytes(model.SerializeToString())


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
    """
    if isinstance(model, nn.Module):
        module = model
    else:
        from sassid.models import load_networks

        nets = load_networks(model, net)
        if net not in nets:
            raise ExportError(f"{model}: the model has no {net} network")
        module = nets[net]
    data = onnx_bytes(module, name=net)
    diff = check_round_trip(module, data) if verify else None
    if diff is not None and not np.isfinite(diff):
        raise ExportError(f"{net}: ONNX output is not finite")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as tmp:
        tmp.write_bytes(data)
    return diff
