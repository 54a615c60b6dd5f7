"""Image quality metrics on uint8/uint16 HWC arrays, as benchmarks report them.

PSNR follows the reference: the output rounded to the stored integer type, PSNR over all three
channels with the type's full range, per image; a set's score is the mean of per-image PSNRs.

SSIM is offered in two named conventions, because SIDD papers disagree by ~0.05 (field.md D):
- ``skimage``: scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, channel_axis=2, data_range=255)``: a 2-D Gaussian window per
  channel, channels averaged (the Wang et al. 2004 recipe); equal to scikit-image's numbers.
- ``matlab3d``: our reading of MATLAB's ``ssim`` on an H x W x 3 block (the MPRNet
  ``evaluate_SIDD.m`` script SIDD papers use): one 3-D Gaussian (sigma 1.5, 11 taps, replicate
  padding) over rows, columns and channels. Not checked against MATLAB itself.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from sassid.errors import SassidError
from sassid.pixels import dtype_max

__all__ = ["psnr", "ssim", "SSIM_CONVENTIONS", "MetricError", "SSIM_MIN_SIZE"]

SSIM_CONVENTIONS = ("skimage", "matlab3d")
SSIM_MIN_SIZE = 11  # the skimage convention's 11-tap window; its 5-pixel border is left out


class MetricError(SassidError, ValueError):
    """Two images cannot be compared (shapes, bit depths, sizes, convention)."""


def _range(a: np.ndarray) -> float:
    return dtype_max(a.dtype)


def _check_pair(output: np.ndarray, clean: np.ndarray) -> None:
    """Same shape and the same stored type: a uint16 image against a uint8 one would compare
    numbers on scales 257x apart (convert one first, e.g. with sassid.io.from_pixels)."""
    if output.shape != clean.shape:
        raise MetricError(f"shapes differ: {output.shape} vs {clean.shape}")
    if output.dtype != clean.dtype:
        raise MetricError(
            f"bit depths differ: {output.dtype} vs {clean.dtype} (convert one to the other's)"
        )


def psnr(output: np.ndarray, clean: np.ndarray, data_range: float | None = None) -> float:
    """10 log10(range^2 / MSE) over all pixels and channels; inf for identical images."""
    _check_pair(output, clean)
    data_range = data_range or _range(clean)
    mse = np.mean((output.astype(np.float64) - clean.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(data_range**2 / mse))


def _ssim_map(x: np.ndarray, y: np.ndarray, blur, data_range: float) -> np.ndarray:  # noqa: ANN001
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    return ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))


def ssim(output: np.ndarray, clean: np.ndarray, convention: str = "skimage") -> float:
    """Mean SSIM of two HWC images of the same integer type, in the named convention.

    The ``skimage`` convention needs at least 11 x 11 pixels (as scikit-image, which refuses
    images smaller than its window); smaller ones raise MetricError instead of giving NaN.
    """
    _check_pair(output, clean)
    if convention not in SSIM_CONVENTIONS:
        raise MetricError(
            f"unknown SSIM convention {convention!r} (use {', '.join(SSIM_CONVENTIONS)})"
        )
    if convention == "skimage" and min(output.shape[:2]) < SSIM_MIN_SIZE:
        raise MetricError(
            f"SSIM (skimage) needs at least {SSIM_MIN_SIZE}x{SSIM_MIN_SIZE} pixels, got "
            f"{output.shape[1]}x{output.shape[0]}"
        )
    data_range = _range(clean)
    x, y = output.astype(np.float64), clean.astype(np.float64)
    if convention == "skimage":
        # Gaussian sigma 1.5 truncated at 3.5 sigma (11 taps), reflect padding; the border of
        # (11 - 1) / 2 pixels is left out of the mean, as scikit-image does.
        def blur(a: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")

        pad = 5
        values = [
            _ssim_map(x[..., c], y[..., c], blur, data_range)[pad:-pad, pad:-pad].mean()
            for c in range(x.shape[2])
        ]
        return float(np.mean(values))
    if convention == "matlab3d":
        x, y = x / data_range, y / data_range

        def blur3(a: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(a, sigma=1.5, truncate=10 / 3, mode="nearest")

        return float(_ssim_map(x, y, blur3, 1.0).mean())
    raise AssertionError(convention)  # unreachable: checked above
