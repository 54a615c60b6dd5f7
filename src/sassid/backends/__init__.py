"""Inference backends behind one interface: a network becomes a callable on (B, 3, H, W) float
tensors in [0, 255], so every backend and precision goes through ``Denoiser``'s tiling, file
I/O and metadata handling.

    forward = make_forward(net, backend="onnxruntime", precision="int8", calibration=crops)

Backends: ``torch`` (eager; fp32 NCHW ``reference``, or channels_last ``fp32``/``bf16``) and
``onnxruntime`` (the exported graph, ``fp32`` or static ``int8``; optional extra ``onnx``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sassid.errors import SassidError

if TYPE_CHECKING:  # torch is imported lazily so that `sassid --help` stays instant
    import torch
    from torch import Tensor, nn

__all__ = [
    "BACKENDS",
    "PRECISIONS",
    "DEFAULT_BACKEND",
    "DEFAULT_PRECISION",
    "Forward",
    "make_forward",
    "resolve",
    "bf16_native",
    "onnxruntime_available",
]

Forward = Callable[["Tensor"], "Tensor"]
BACKENDS = ("torch", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "int8")
DEFAULT_BACKEND = "torch"
DEFAULT_PRECISION = "bf16"
"""What ``sassid denoise`` runs unless told otherwise: the fastest backend and precision whose
PSNR stays within 0.05 dB of fp32 on every real set here (``results/speed_cpu.md``; a test
checks that they agree). ``resolve`` falls back to torch where onnxruntime is not installed or
the device is a GPU, and from bf16 to fp32 where the device has no native bfloat16."""


def bf16_native(device: str = "cpu") -> bool:
    """Whether bf16 convolutions run natively here (oneDNN's check on the CPU; CUDA: yes)."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def onnxruntime_available() -> bool:
    """Whether the optional extra ``sassid[onnx]`` is installed."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def resolve(backend: str | None, precision: str | None, device: str = "cpu") -> tuple[str, str]:
    """Fill in what the user left open. Neither given: the default, with the fallbacks above.
    No precision: the default's for the default backend, else fp32. No backend: the one that
    runs the precision (int8: onnxruntime; fp32, bf16: torch)."""
    if backend is None and precision is None:
        backend, precision = DEFAULT_BACKEND, DEFAULT_PRECISION
        if backend != "torch" and (device != "cpu" or not onnxruntime_available()):
            backend, precision = "torch", "bf16"
        if precision == "bf16" and not bf16_native(device):
            precision = "fp32"
        return backend, precision
    if precision is None:
        precision = DEFAULT_PRECISION if backend == DEFAULT_BACKEND else "fp32"
    if backend is None:
        backend = "onnxruntime" if precision == "int8" else "torch"
    return backend, precision


def make_forward(
    net: nn.Module,
    backend: str = DEFAULT_BACKEND,
    precision: str = DEFAULT_PRECISION,
    *,
    name: str = "unet",
    device: torch.device | str = "cpu",
    calibration: list[Tensor] | None = None,
) -> Forward:
    """``net`` as a callable for ``backend`` at ``precision``; ``calibration``: (1, 3, h, w)
    crops in [0, 255] for int8."""
    if backend == "torch":
        from sassid.backends.torch_backend import torch_forward

        return torch_forward(net, precision, device=device)
    if backend == "onnxruntime":
        import torch

        if torch.device(device).type != "cpu":
            raise SassidError("--backend onnxruntime runs on the CPU here (use --device cpu)")
        from sassid.backends.onnx_backend import onnx_forward

        return onnx_forward(net, precision, name=name, calibration=calibration)
    raise SassidError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
