"""A network as an ONNX graph with dynamic height and width (used by the onnxruntime backend
and by ``sassid export``).

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
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from sassid.errors import SassidError

__all__ = ["ExportError", "PadRule", "pad_rule", "onnx_bytes", "OPSET"]

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


def onnx_bytes(
    net: nn.Module, *, name: str = "unet", metadata: dict[str, str] | None = None
) -> bytes:
    """Serialized ONNX model of ``net`` (eval mode, fp32) with dynamic batch, height, width;
    ``metadata`` adds entries to the file's metadata_props.

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
        **(metadata or {}),
    }
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:
        raise ExportError(f"exported {name} graph failed onnx.checker: {exc}") from None
    return bytes(model.SerializeToString())
