"""Inference backends behind one interface: a network becomes a callable on (B, 3, H, W) float
tensors in [0, 255], so every backend and precision goes through ``Denoiser``'s tiling, file
I/O and metadata handling.

    forward = make_forward(net, backend="onnxruntime", precision="int8", calibration=crops)

Backends: ``torch`` (eager; fp32 NCHW ``reference``, or channels_last ``fp32``/``bf16``, and
``fp16`` on CUDA) and
``onnxruntime`` (the exported graph, ``fp32`` or static ``int8``; optional extra ``onnx``).
"""

from __future__ import annotations

import warnings
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
    "FALLBACK",
    "BACKEND_PRECISION",
    "INT8_MIN_MEGAPIXELS",
    "why_not_default",
    "Forward",
    "make_forward",
    "resolve",
    "bf16_native",
    "bf16_problem",
    "onnxruntime_available",
]

Forward = Callable[["Tensor"], "Tensor"]
BACKENDS = ("torch", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "fp16", "int8")
DEFAULT_BACKEND = "torch"
DEFAULT_PRECISION = "bf16"
"""What ``sassid denoise`` runs unless told otherwise: the fastest backend and precision whose
PSNR stays within 0.05 dB of fp32 on every real set here (``results/speed_cpu.md``; a test
checks that they agree). ``resolve`` falls back to ``FALLBACK`` where that cannot run or would
not pay (see there). It was onnxruntime/int8 until 2026-11-30, measured then with an older
PolyU model; with today's one-hour models int8 costs 0.07-0.10 dB on PolyU (three models,
``benchmarks/int8_study.py``), past the 0.05 dB allowed: it stays one flag away."""
FALLBACK = ("torch", "bf16")
"""The default where the default cannot run or would not pay: another device than the CPU,
onnxruntime not installed, a network other than the U-Net (int8 is measured on the U-Net
only), or a job smaller than ``INT8_MIN_MEGAPIXELS``; bf16 becomes fp32 where the device has no
native bfloat16 or its bf16 convolutions disagree with fp32 (``sassid.bf16_check``)."""
BACKEND_PRECISION = {"torch": "bf16", "onnxruntime": "fp32"}
"""The precision a backend runs when only the backend is given: its fastest one within 0.05 dB
of fp32 (``results/speed_cpu.md``)."""
INT8_MIN_MEGAPIXELS = 55.0
"""int8 pays a one-off setup per call (export, calibration, quantization: 5.7 s in the latest
run of ``benchmarks/speed.py``, 4.8-8.6 s in earlier ones) to run faster than bf16 on tiled
photos; below setup / (1 / bf16 - 1 / int8), bf16 finishes first. With the paper's 48/96
U-Net (0.55-0.57 against 0.28-0.32 MP/s) that was 4.9-6.8 megapixels; with `laptop`'s 32/64
U-Net bf16 gains more than int8 (int8 0.92 against bf16 0.73 MP/s: 17), and with the U-Net
folded for bf16 (``sassid.nets.folded``; int8 0.86-0.97 against bf16 0.76-0.88 MP/s) it is
36-55 in three runs. Used only
where a measurement makes int8 the default; a test checks it against
``results/speed_cpu.json``."""


def bf16_problem(device: str = "cpu") -> str | None:
    """Why bf16 convolutions must not be trusted on ``device`` (``sassid.bf16_check``), or
    None where they agree with fp32."""
    from sassid.bf16_check import bf16_problem as check

    return check(str(device))


def bf16_native(device: str = "cpu") -> bool:
    """Whether bf16 convolutions run natively here (oneDNN's check on the CPU; CUDA: yes)."""
    import torch

    if device.startswith("cuda"):
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def onnxruntime_available() -> bool:
    """Whether the optional extra ``sassid[onnx]`` is installed: onnxruntime runs the graph that
    onnx (the exporter's checker, and int8's quantizer) builds."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("onnx", "onnxruntime"))


def why_not_default(device: str, net: str, megapixels: float | None) -> str | None:
    """Why the default backend and precision would not run, or not pay, for this job (one
    phrase), or None where it is the choice."""
    if DEFAULT_BACKEND != "onnxruntime":
        return None
    if device != "cpu":
        return f"{DEFAULT_BACKEND} runs on the CPU here"
    if not onnxruntime_available():
        return "the optional extra sassid[onnx] is not installed"
    if DEFAULT_PRECISION != "int8":
        return None
    if net != "unet":
        return "int8 is measured on the U-Net only"
    if megapixels is not None and megapixels < INT8_MIN_MEGAPIXELS:
        return f"{megapixels:.2g} megapixels in all; int8's setup pays from {INT8_MIN_MEGAPIXELS:g}"
    return None


def resolve(
    backend: str | None,
    precision: str | None,
    device: str = "cpu",
    *,
    net: str = "unet",
    megapixels: float | None = None,
) -> tuple[str, str]:
    """Fill in what the user left open. Neither given: the default for ``net`` on ``device``,
    for a job of ``megapixels`` (None: unknown, taken as large), else ``FALLBACK``. Only the
    backend: ``BACKEND_PRECISION``. Only the precision: the backend that runs it (int8:
    onnxruntime; fp32, bf16: torch)."""
    if backend is None and precision is None:
        backend, precision = DEFAULT_BACKEND, DEFAULT_PRECISION
        if why_not_default(device, net, megapixels) is not None:
            backend, precision = FALLBACK
        if precision == "bf16" and not bf16_native(device):
            precision = "fp32"
        elif precision == "bf16" and (problem := bf16_problem(device)) is not None:
            warnings.warn(f"{problem}: running in fp32 instead", stacklevel=2)
            precision = "fp32"
        return backend, precision
    if precision is None:
        precision = BACKEND_PRECISION.get(str(backend), "fp32")
    if backend is None:
        backend = "onnxruntime" if precision == "int8" else "torch"
    return backend, precision


def make_forward(
    net: nn.Module,
    backend: str,
    precision: str,
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
