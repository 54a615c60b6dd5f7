"""Noise statistics measured from noisy images alone: level and spatial correlation.

In the flattest patches of a photo, what varies is mostly noise. Each ``size`` x ``size`` patch
of each channel has its least-squares plane (mean and linear trend) removed; the patches whose
residual variance is in the lowest ``fraction`` are kept (patches mostly at the black or white
level are left out: clipping removes the noise there). On those:

    sigma      = sqrt(mean r^2)                        (noise std, pixel units)
    rho(k)     = sum r(x) r(x + k) / sum r(x)^2        (horizontal and vertical lag k, averaged)

A blind-spot network must hide every pixel whose noise is correlated with the centre pixel's,
so ``auto_blind_size`` picks the smallest odd size ``2K + 1`` whose blind square covers every
lag ``k <= K`` with ``rho(k) > threshold``, and at least ``MIN_AUTO_BLIND``.

Camera noise grows with the signal (shot noise; in sRGB the tone curve then reshapes it), so
``measure_noise_level`` also gives sigma as a function of intensity, per channel: the same
estimator within bins of patch mean, interpolated between them (``NoiseLevelFunction``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from sassid.pixels import level_scale

__all__ = [
    "NoiseStats",
    "NoiseLevelFunction",
    "measure_noise",
    "measure_noise_level",
    "auto_blind_size",
    "BLIND_THRESHOLD",
    "MIN_AUTO_BLIND",
    "patch_grid",
    "mostly_clipped",
]

BLIND_THRESHOLD = 0.1
"""Correlation below which a lag is treated as independent (rho = 0.1 leaves 1% shared variance)."""


@dataclass(frozen=True)
class NoiseStats:
    sigma: float
    rho: tuple[float, ...]
    patches: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def patch_grid(image: np.ndarray, size: int) -> np.ndarray:
    """(locations, C, size, size) non-overlapping patches of an (H, W[, C]) array, row-major;
    the right and bottom remainders under ``size`` are left out."""
    h, w = image.shape[:2]
    rows, cols = h // size, w // size
    channels = image.shape[2] if image.ndim == 3 else 1
    grid = image[: rows * size, : cols * size].reshape(rows, size, cols, size, channels)
    return grid.transpose(0, 2, 4, 1, 3).reshape(rows * cols, channels, size, size)


def mostly_clipped(patches: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Whether each (size x size) patch (stored values) lies over half at black or white, where
    clipping has removed the noise: such patches would read as the flattest."""
    top = 255.0 / level_scale(dtype)  # the white level: 255, or 65535 for uint16
    return ((patches == 0) | (patches >= top)).mean(axis=(-2, -1)) > 0.5


def _plane_residuals(patches: np.ndarray) -> np.ndarray:
    """Each (size x size) patch minus its least-squares plane a + b y + c x."""
    n, size, _ = patches.shape
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    design = np.stack([np.ones(size * size), yy.ravel(), xx.ravel()], axis=1)
    flat = patches.reshape(n, -1).T
    coef, *_ = np.linalg.lstsq(design, flat, rcond=None)
    return (flat - design @ coef).T.reshape(n, size, size)


def _sample_patches(image: np.ndarray, size: int, limit: int) -> np.ndarray | None:
    """At most ``limit`` (size x size) single-channel patches of ``image`` in [0, 255] float64,
    evenly strided, leaving out those mostly (over half) at the black or white level (clipping
    removes the noise there, so they would read as flat and lower ``sigma``) unless all are.
    Partly clipped patches stay: in dark, noisy photos they hold much of the noise.
    Sampled before conversion, so a 24 MP photo costs only the kept patches in float64."""
    if image.shape[0] < size or image.shape[1] < size:
        return None
    patches = patch_grid(image, size).reshape(-1, size, size)
    clipped = mostly_clipped(patches, image.dtype)
    if not clipped.all():
        patches = patches[~clipped]
    if len(patches) > limit:
        patches = patches[:: len(patches) // limit + 1]
    return patches.astype(np.float64) * level_scale(image.dtype)


def _flattest(energy: np.ndarray, fraction: float) -> np.ndarray:
    """Indices of the lowest-``energy`` ``fraction`` of patches (at least one)."""
    return np.argsort(energy)[: max(1, int(len(energy) * fraction))]


def measure_noise(
    images: Sequence[np.ndarray],
    size: int = 16,
    fraction: float = 0.1,
    max_lag: int = 6,
    max_patches_per_image: int = 4000,
) -> NoiseStats:
    """Noise std and lag-1..max_lag autocorrelation from the flattest patches (see module).

    Args:
        images: HWC arrays (uint8 or uint16; scaled to the [0, 255] range).
    """
    if size <= max_lag + 1:
        raise ValueError("patch size must exceed the largest lag")
    kept = []
    for image in images:
        patches = _sample_patches(image, size, max_patches_per_image)
        if patches is None:
            continue
        residuals = _plane_residuals(patches)
        kept.append(residuals[_flattest(residuals.var(axis=(1, 2)), fraction)])
    if not kept:
        raise ValueError(f"no image is at least {size}x{size} pixels")
    r = np.concatenate(kept)
    power = float(np.sum(r * r))
    if power / r.size < 1e-12:  # nothing varies (a blank or fully clipped photo): no noise
        return NoiseStats(0.0, (0.0,) * max_lag, len(r))
    rho = []
    for k in range(1, max_lag + 1):
        horizontal = np.sum(r[:, :, k:] * r[:, :, :-k]) / np.sum(r[:, :, :-k] ** 2)
        vertical = np.sum(r[:, k:, :] * r[:, :-k, :]) / np.sum(r[:, :-k, :] ** 2)
        rho.append(float((horizontal + vertical) / 2))
    return NoiseStats(float(np.sqrt(power / r.size)), tuple(rho), len(r))


@dataclass(frozen=True)
class NoiseLevelFunction:
    """Noise std (pixel units) as a function of intensity, per channel: ``sigma[c][i]`` at
    intensity ``levels[c][i]`` (increasing), linear in between, constant beyond the ends."""

    levels: tuple[tuple[float, ...], ...]
    sigma: tuple[tuple[float, ...], ...]

    def at(self, intensity: np.ndarray, channel: int) -> np.ndarray:
        """sigma of ``channel`` at each value of ``intensity`` ([0, 255]; float32, same shape)."""
        values = np.interp(intensity, self.levels[channel], self.sigma[channel])
        return values.astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def measure_noise_level(
    image: np.ndarray,
    bins: int = 8,
    size: int = 16,
    fraction: float = 0.1,
    min_patches: int = 20,
    max_patches: int = 20000,
) -> NoiseLevelFunction:
    """``measure_noise``'s sigma within ``bins`` equal intervals of patch mean over [0, 255],
    per channel of the HWC ``image`` (uint8 or uint16): in each interval holding at least
    ``min_patches`` patches, the flattest ``fraction`` give sigma at their mean intensity. A
    channel with no such interval gets its overall sigma at every intensity. Raises ValueError
    for an image smaller than one patch."""
    channels = image.shape[2] if image.ndim == 3 else 1
    levels, sigmas = [], []
    for c in range(channels):
        plane = image[..., c] if image.ndim == 3 else image
        patches = _sample_patches(plane, size, max_patches)
        if patches is None:
            raise ValueError(f"no image is at least {size}x{size} pixels")
        means = patches.mean(axis=(1, 2))
        energy = _plane_residuals(patches).var(axis=(1, 2))
        which = np.minimum((means / 255.0 * bins).astype(int), bins - 1)
        points = []
        for b in range(bins):
            inside = np.flatnonzero(which == b)
            if len(inside) < min_patches:
                continue
            kept = inside[_flattest(energy[inside], fraction)]
            points.append((float(means[kept].mean()), float(np.sqrt(energy[kept].mean()))))
        if not points:
            points = [(127.5, float(np.sqrt(energy[_flattest(energy, fraction)].mean())))]
        levels.append(tuple(p[0] for p in points))
        sigmas.append(tuple(p[1] for p in points))
    return NoiseLevelFunction(tuple(levels), tuple(sigmas))


MIN_AUTO_BLIND = 5
"""The smallest size ``auto_blind_size`` picks. On sidd_samples (rho 0.31 at lag 1, none beyond)
the rule alone gives 3, which won at 2 minutes but collapsed in a 60-minute run (BNN 25.1 dB
against 30.4 for size 9 at 7 minutes, results/real_photos_sidd_samples.md at commit 0e9ab54):
given time, a BNN learns what the axis-only, linear correlation misses (diagonal lags, the
ISP's non-linear dependence) just outside a 3 x 3 window."""


def auto_blind_size(rho: Sequence[float], threshold: float = BLIND_THRESHOLD) -> int:
    """Smallest odd blind size 2K + 1 with rho(k) <= threshold for every lag k > K measured
    (rho[0] is lag 1), and at least ``MIN_AUTO_BLIND``."""
    reach = 0
    for lag, value in enumerate(rho, start=1):
        if value > threshold:
            reach = lag
    return max(MIN_AUTO_BLIND, 2 * reach + 1)
