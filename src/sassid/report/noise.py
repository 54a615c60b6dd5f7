"""No-reference noise level: Donoho's MAD estimator on the finest diagonal Haar band.

For each channel, the orthonormal Haar diagonal detail of every 2 x 2 block is
    HH = (x00 - x01 - x10 + x11) / 2,
which removes constant and linear-ramp content and keeps white noise at its standard deviation
sigma. Donoho & Johnstone (1994) estimate sigma robustly from its median absolute value:
    sigma = median(|HH|) / 0.6745     (0.6745 = the median of |N(0, 1)|).
All channels' coefficients are pooled; pixels are scaled to [0, 255] whatever their bit depth.
Integer pixels make |HH| a multiple of 1/2, so a plain median moves in steps of 0.74 (in
sigma). Where the median value is tied, it is interpolated within its bin (the grouped-data
median: the values equal to m are taken as spread uniformly between the midpoints to the next
smaller and larger values present), which makes the estimate continuous.

Caveat, stated in the report: for noise that is spatially correlated (real sRGB noise after
demosaicking) the finest band holds less than the full noise power, so this reads lower than
the true per-pixel sigma; it compares before/after on the same photo, not across cameras.
"""

from __future__ import annotations

import numpy as np

from sassid.pixels import level_scale

__all__ = ["NOISE_ESTIMATOR", "noise_sigma"]

NOISE_ESTIMATOR = (
    "Donoho's MAD on the finest diagonal Haar band: sigma = median(|HH|) / 0.6745, "
    "HH = (x00 - x01 - x10 + x11) / 2 per 2x2 block, all channels, [0, 255] scale"
)


def noise_sigma(pixels: np.ndarray) -> float:
    """Estimated noise standard deviation of an HWC uint8/uint16 (or float [0, 255]) image."""
    scale = level_scale(pixels.dtype)
    h, w = pixels.shape[0] // 2 * 2, pixels.shape[1] // 2 * 2
    if h == 0 or w == 0:
        raise ValueError(f"image too small for a noise estimate: {pixels.shape}")
    x = pixels[:h, :w].astype(np.float32)
    hh = np.abs(x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]).ravel() * 0.5
    median = float(np.median(hh))
    smaller, larger = hh[hh < median], hh[hh > median]
    at = hh.size - smaller.size - larger.size
    if at > 1:
        low = (median + float(smaller.max())) / 2 if smaller.size else 0.0
        high = (median + float(larger.min())) / 2 if larger.size else median
        median = low + (high - low) * (hh.size / 2 - smaller.size) / at
    return median / 0.6745 * scale
