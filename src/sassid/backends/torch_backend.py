"""PyTorch backend: eager networks in channels_last memory layout, fp32, bf16 or (CUDA) fp16.

channels_last (NHWC) lets oneDNN run the 3x3 convolutions without layout reorders; the
arithmetic is the same fp32 (outputs differ from NCHW only by summation order, ~1e-4 of 255).
``bf16`` casts a copy of the network's weights, once, and its input to bfloat16 (8-bit
mantissa; oneDNN accumulates the convolutions in fp32), so the activations between layers stay
bfloat16; the output is cast back to fp32. ``fp16`` does the same in half precision (10-bit
mantissa, range +-65504: activations of inputs in [0, 255] stay far inside it), on CUDA only:
CPUs here have no fast fp16 convolutions. Autocast instead re-casts the weights on every call
and was slower for the same output. On the CPU the U-Net runs with its upsamplings folded into
the convolutions after them (``sassid.nets.folded``: the same function in fewer operations,
1.1-1.2x at 512² in bf16); CUDA keeps the unfolded network until a GPU run measures the fold.
Speed and quality cost are measured, not assumed (``benchmarks/speed.py``, results/speed_cpu.md).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn

from sassid.errors import SassidError
from sassid.nets.folded import fold_upsampling

__all__ = ["torch_forward", "DTYPES"]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
"""The precisions this backend runs, as torch dtypes."""


def torch_forward(
    net: nn.Module,
    precision: str,
    *,
    device: torch.device | str = "cpu",
    fold: bool | None = None,
) -> Callable[[Tensor], Tensor]:
    """A callable running a channels_last copy of ``net`` on ``device`` at ``precision``;
    ``fold``: a U-Net runs as :class:`~sassid.nets.folded.FoldedUNet` (None: on the CPU, where
    it is measured faster; CUDA keeps the unfolded network until a GPU run measures it,
    ``benchmarks/backends_gpu.py``)."""
    device = torch.device(device)
    if precision not in DTYPES:
        raise SassidError(
            f"--backend torch runs {', '.join(DTYPES)}, not {precision} "
            "(int8: --backend onnxruntime --precision int8)"
        )
    if precision == "fp16" and device.type != "cuda":
        raise SassidError("--precision fp16 runs on CUDA only (on the CPU: bf16 or int8)")
    if precision == "bf16":
        from sassid.bf16_check import bf16_problem

        problem = bf16_problem(str(device))
        if problem is not None:  # asked for by name: obeyed, but not silently
            warnings.warn(f"{problem}: --precision fp32 is safer here", stacklevel=2)
    dtype = DTYPES[precision]
    if fold is None:
        fold = device.type == "cpu"
    module = copy.deepcopy(fold_upsampling(net) if fold else net).to(device, dtype).eval()
    module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # not in stubs

    def forward(x: Tensor) -> Tensor:
        # A fresh channels_last copy, not ``.contiguous(memory_format=...)``: a (1, 3, H, W)
        # view of an HWC array (``torch.from_numpy(a.transpose(2, 0, 1))``) already counts as
        # channels_last but keeps a batch stride of 3, and oneDNN ran such an input 1.4x
        # slower at 512² in bf16 (results/speed_cpu.md before 2026-12-07).
        y = torch.empty(x.shape, dtype=dtype, device=device, memory_format=torch.channels_last)
        return module(y.copy_(x)).float().contiguous()

    return forward
