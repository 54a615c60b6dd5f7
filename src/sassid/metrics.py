"""Image quality metrics on uint8/uint16 HWC arrays, as benchmarks report them.

PSNR follows the reference: the output rounded to the stored integer type, PSNR over all three
channels with the type's full range, per image; a set's score is the mean of per-image PSNRs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["psnr"]


def psnr(output: np.ndarray, clean: np.ndarray, data_range: float | None = None) -> float:
    """10 log10(range^2 / MSE) over all pixels and channels; inf for identical images."""
    if output.shape != clean.shape:
        raise ValueError(f"shapes differ: {output.shape} vs {clean.shape}")
    if data_range is None:
        data_range = 65535.0 if clean.dtype == np.uint16 else 255.0
    mse = np.mean((output.astype(np.float64) - clean.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))
