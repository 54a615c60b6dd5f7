"""Do this machine's bfloat16 convolutions compute what they should? A check of a few ms.

The ``laptop`` preset trains and ``sassid denoise`` runs under bfloat16 on CPUs that have it,
through oneDNN's kernels, which differ by instruction set (AVX-512 BF16, AMX) and by shape.
Wrong bf16 convolutions have been reported upstream for small feature maps (pytorch/pytorch
#163347: a 2x2 convolution returned 1 instead of 4) and for AMX tile tails (oneDNN #5717). The
networks here meet such shapes: on 64 px training crops the U-Net's deepest level is 2 x 2
pixels. A wrong kernel would not fail loudly; it would train a model that is silently wrong.

So before bf16 is used, 3x3 convolutions of the networks' channel counts, on maps from 1 x 1 to
17 x 17 (NCHW and channels_last), run forward and backward in bf16 and are compared with fp32
on the same bf16-rounded inputs: a correct kernel differs only by its output rounding and
summation order, well inside ``TOLERANCE`` of the largest value; a wrong one by far more.
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
"""Largest allowed |bf16 - fp32| over max|fp32|, per output and per weight gradient. bf16 keeps
8 mantissa bits (relative rounding 2^-9, about 0.002): summation order and the output's rounding
stay within about 0.01 of the largest value on these sizes."""

CASES: tuple[tuple[int, int, int], ...] = (
    (48, 48, 2),
    (144, 96, 2),
    (96, 96, 4),
    (99, 96, 17),
)
"""(input channels, output channels, map side): the U-Net and BNN's layers (48/96 channels,
skip concatenations of 144 and 99), on the map sides their deepest levels see."""

Conv = Callable[[Tensor, Tensor], Tensor]


def _conv3x3(x: Tensor, weight: Tensor) -> Tensor:
    return F.conv2d(x, weight, padding=1)


def bf16_convolution_error(device: str = "cpu", conv: Conv = _conv3x3) -> tuple[float, str]:
    """The largest relative error of ``conv`` in bf16 against fp32 over ``CASES`` (forward and
    weight gradient, NCHW and channels_last), and the case where it occurs. Runs with autograd
    on, also when called under ``torch.inference_mode`` or ``no_grad``."""
    with torch.inference_mode(False), torch.enable_grad():
        return _worst_case(device, conv)


def _worst_case(device: str, conv: Conv) -> tuple[float, str]:
    generator = torch.Generator().manual_seed(0)
    worst, where = 0.0, ""
    for cin, cout, side in CASES:
        for channels_last in (False, True):
            x = torch.randn(2, cin, side, side, generator=generator).bfloat16().float()
            w = (torch.randn(cout, cin, 3, 3, generator=generator) / (3 * cin**0.5)).bfloat16()
            upstream = torch.randn(2, cout, side, side, generator=generator).bfloat16().float()
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            errors = {}
            for dtype in (torch.float32, torch.bfloat16):
                xi = x.to(device, dtype).contiguous(memory_format=fmt)
                wi = w.to(device, dtype).contiguous(memory_format=fmt).requires_grad_(True)
                out = conv(xi, wi)
                out.backward(upstream.to(device, dtype).contiguous(memory_format=fmt))
                assert wi.grad is not None
                errors[dtype] = (out.detach().float().cpu(), wi.grad.float().cpu())
            pairs = zip(errors[torch.float32], errors[torch.bfloat16], strict=True)
            for name, (ref, low) in zip(("forward", "weight gradient"), pairs, strict=True):
                error = float((low - ref).abs().max() / ref.abs().max().clamp_min(1e-6))
                error = math.inf if math.isnan(error) else error
                if error > worst or not where:
                    worst = error
                    layout = "channels_last" if channels_last else "NCHW"
                    where = f"{name} of a {cin}->{cout} 3x3 convolution on {side}x{side} {layout}"
    return worst, where


@functools.lru_cache(maxsize=4)
def bf16_problem(device: str = "cpu") -> str | None:
    """None where bf16 convolutions on ``device`` agree with fp32 (``bf16_convolution_error``
    within ``TOLERANCE``), else one phrase saying where they do not. Checked once a process."""
    error, where = bf16_convolution_error(device)
    if error <= TOLERANCE:
        return None
    return (
        f"bfloat16 convolutions on this {device.upper()} disagree with fp32 by {error:.0%} of "
        f"the largest value ({where})"
    )
