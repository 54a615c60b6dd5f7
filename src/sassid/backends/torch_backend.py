"""PyTorch backend: eager networks in channels_last memory layout, fp32 or bf16.

channels_last (NHWC) lets oneDNN run the 3x3 convolutions without layout reorders; the
arithmetic is the same fp32 (outputs differ from NCHW only by summation order, ~1e-4 of 255).
``bf16`` runs under CPU autocast: convolutions take bfloat16 inputs and weights (8-bit
mantissa) and accumulate in fp32; the output is cast back to fp32. Its quality cost is
measured, not assumed (``benchmarks/speed.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from sassid.errors import SassidError

__all__ = ["torch_forward"]


def torch_forward(
    net: nn.Module, precision: str, *, device: torch.device | str = "cpu"
) -> Callable[[Tensor], Tensor]:
    """A callable running a channels_last copy of ``net`` on ``device`` at ``precision``."""
    device = torch.device(device)
    if precision not in ("fp32", "bf16"):
        raise SassidError(
            f"--backend torch runs fp32 or bf16, not {precision} "
            "(int8: --backend onnxruntime --precision int8)"
        )
    module = copy.deepcopy(net).to(device).eval()
    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # not in stubs
    dtype = torch.bfloat16 if precision == "bf16" else None

    def forward(x: Tensor) -> Tensor:
        x = x.to(device).contiguous(memory_format=torch.channels_last)
        if dtype is None:
            out = module(x)
        else:
            with torch.autocast(device.type, dtype=dtype):
                out = module(x)
        return out.float().contiguous()

    return forward
