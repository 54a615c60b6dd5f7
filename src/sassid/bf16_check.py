"""Do this machine's bfloat16 convolutions compute what they should? Checked once a process.

The ``laptop`` preset trains and ``sassid denoise`` runs under bfloat16 on CPUs that have it,
through oneDNN's kernels, which differ by instruction set (AVX-512 BF16, AMX) and by shape.
Wrong bf16 convolutions have been reported upstream for small feature maps (pytorch/pytorch
#163347: a 2x2 convolution returned 1 instead of 4) and for AMX tile tails (oneDNN #5717). The
networks here meet such shapes: on 64 px training crops the U-Net's deepest level is 2 x 2
pixels, and the LAN's channel attention convolves 1 x 1 maps. A wrong kernel would not fail
loudly; it would train or run a model that is silently wrong.

So before bf16 is used, convolutions of the networks' kinds (``CASES``) run forward and
backward in bf16, NCHW and channels_last, and are compared with fp32 on the same bf16-rounded
inputs (output, input gradient and weight gradient): a correct kernel differs only by rounding
and summation order, well inside ``TOLERANCE`` of the largest value; a wrong one by far more.
Autocast is switched off inside the check (under it the fp32 reference would itself be bf16).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["TOLERANCE", "CASES", "bf16_convolution_error", "bf16_problem"]

TOLERANCE = 0.05
"""Largest allowed |bf16 - fp32| over max|fp32|, per output and gradient. bf16 keeps 8 mantissa
bits (relative rounding 2^-9, about 0.002); on these sizes a correct kernel stays within about
0.01 of the largest value (0.003 on this project's CPU)."""

CASES: tuple[tuple[int, int, int, int], ...] = (
    (48, 48, 2, 3),
    (144, 96, 4, 3),
    (99, 96, 16, 3),
    (32, 32, 2, 3),
    (96, 64, 4, 3),
    (67, 64, 16, 3),
    (24, 24, 2, 3),
    (64, 4, 1, 1),
    (4, 64, 1, 1),
)
"""(input channels, output channels, map side, kernel side), padding keeping the side: the U-Net
and the paper-width BNN's deepest 3x3 convolution on 64 px crops (2 x 2), a decoder
convolution over a skip concatenation (144 channels), the last decoder stage (96 features and
the 3-channel photo) on the deepest level's side at 512 px tiles (16); the same three for the
`laptop` U-Net's 32/64 channels; the `laptop` BNN's 24 channels, and the LAN's channel
attention (64 -> 4 -> 64 on 1 x 1 maps)."""

Conv = Callable[[Tensor, Tensor], Tensor]


def _conv_same(x: Tensor, weight: Tensor) -> Tensor:
    return F.conv2d(x, weight, padding=weight.shape[-1] // 2)


def bf16_convolution_error(device: str = "cpu", conv: Conv = _conv_same) -> tuple[float, str]:
    """The largest relative error of ``conv`` in bf16 against fp32 over ``CASES`` (output,
    input and weight gradients, NCHW and channels_last), and the case where it occurs. Runs
    with autograd on and autocast off, whatever context it is called from."""
    kind = torch.device(device).type
    with torch.inference_mode(False), torch.enable_grad(), torch.autocast(kind, enabled=False):
        return _worst_case(device, conv)


def _worst_case(device: str, conv: Conv) -> tuple[float, str]:
    generator = torch.Generator().manual_seed(0)
    worst, where = 0.0, ""
    for cin, cout, side, kernel in CASES:
        for channels_last in (False, True):
            shape = (2, cin, side, side)
            x = torch.randn(shape, generator=generator).bfloat16().float()
            w = torch.randn(cout, cin, kernel, kernel, generator=generator) / (kernel * cin**0.5)
            upstream = torch.randn(2, cout, side, side, generator=generator).bfloat16().float()
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            results = {}
            for dtype in (torch.float32, torch.bfloat16):
                # detached copies: each dtype's pass gets leaves of its own
                xi = x.to(device, dtype).contiguous(memory_format=fmt).detach().clone()
                wi = w.bfloat16().to(device, dtype).contiguous(memory_format=fmt).detach()
                xi.requires_grad_(True)
                wi.requires_grad_(True)
                out = conv(xi, wi)
                out.backward(upstream.to(device, dtype).contiguous(memory_format=fmt))
                assert xi.grad is not None and wi.grad is not None
                results[dtype] = [t.detach().float().cpu() for t in (out, xi.grad, wi.grad)]
            pairs = zip(results[torch.float32], results[torch.bfloat16], strict=True)
            names = ("output", "input gradient", "weight gradient")
            for name, (ref, low) in zip(names, pairs, strict=True):
                error = float((low - ref).abs().max() / ref.abs().max().clamp_min(1e-6))
                error = math.inf if math.isnan(error) else error
                if error > worst or not where:
                    worst = error
                    layout = "channels_last" if channels_last else "NCHW"
                    where = (
                        f"{name} of a {cin}->{cout} {kernel}x{kernel} convolution on "
                        f"{side}x{side} {layout}"
                    )
    return worst, where


@functools.lru_cache(maxsize=8)
def bf16_problem(device: str = "cpu") -> str | None:
    """None where bf16 convolutions on ``device`` (``cpu``, ``cuda``, ``cuda:N``) agree with
    fp32 (``bf16_convolution_error`` within ``TOLERANCE``), else one phrase saying where they
    do not. Checked once a process and device: well under a second on an idle machine."""
    error, where = bf16_convolution_error(device)
    if error <= TOLERANCE:
        return None
    return (
        f"bfloat16 convolutions on {device} disagree with fp32 by {error:.0%} of the largest "
        f"value ({where})"
    )
