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

Demosaicing mixes the channels too, so ``noise_covariance`` measures the joint covariance of
all channels over a small neighbourhood, ``cov[c, d, dy, dx] = mean r_c(x) r_d(x + (dy, dx))``,
and ``gaussian_noise_like`` draws Gaussian noise with that covariance (sassid.guard uses it).
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
    "noise_covariance",
    "gaussian_noise_like",
    "colouring_filter",
    "coloured_noise",
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
    return _kept_patches(patch_grid(image, size).reshape(-1, size, size), image.dtype, limit)


def _kept_patches(patches: np.ndarray, dtype: np.dtype, limit: int) -> np.ndarray:
    """``patches`` (N, [C,] size, size, stored values) without those mostly at the black or
    white level (in any channel) unless all are, evenly strided to at most ``limit``, as
    float64 in [0, 255]."""
    per_channel = mostly_clipped(patches, dtype)  # (N,) or (N, C)
    clipped = np.any(per_channel.reshape(len(per_channel), -1), axis=1)  # any channel: out
    if not clipped.all():
        patches = patches[~clipped]
    if len(patches) > limit:
        patches = patches[:: len(patches) // limit + 1]
    return patches.astype(np.float64) * level_scale(dtype)


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


def noise_covariance(
    image: np.ndarray,
    reach: int = 3,
    size: int = 16,
    fraction: float = 0.1,
    max_patches: int = 4000,
) -> np.ndarray:
    """Joint covariance of the noise of all channels at lags up to ``reach`` px, in squared
    levels: (C, C, 2 reach + 1, 2 reach + 1), ``cov[c, d, reach + dy, reach + dx] =
    mean r_c(x) r_d(x + (dy, dx))`` over the flattest ``fraction`` of ``size`` px patches of the
    HWC ``image`` (flatness summed over channels; plane removed per channel; patches mostly at
    black or white in any channel left out, as in ``measure_noise``).

    Raises ValueError for an image smaller than one patch or a patch not above ``2 reach``.
    """
    if size <= 2 * reach:
        raise ValueError("patch size must exceed twice the reach")
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[0] < size or image.shape[1] < size:
        raise ValueError(f"no image is at least {size}x{size} pixels")
    values = _kept_patches(patch_grid(image, size), image.dtype, max_patches)  # (N, C, s, s)
    n, channels = values.shape[:2]
    r = _plane_residuals(values.reshape(n * channels, size, size)).reshape(values.shape)
    r = r[_flattest(r.var(axis=(2, 3)).sum(axis=1), fraction)]
    side = 2 * reach + 1
    cov = np.zeros((channels, channels, side, side))
    for dy in range(-reach, reach + 1):
        rows_a = slice(max(0, -dy), size - max(0, dy))
        rows_b = slice(max(0, dy), size - max(0, -dy))
        for dx in range(-reach, reach + 1):
            a = r[:, :, rows_a, max(0, -dx) : size - max(0, dx)]
            b = r[:, :, rows_b, max(0, dx) : size - max(0, -dx)]
            count = a.shape[0] * a.shape[2] * a.shape[3]
            cov[:, :, reach + dy, reach + dx] = np.einsum("nchw,ndhw->cd", a, b) / count
    return cov


def gaussian_noise_like(
    cov: np.ndarray, height: int, width: int, rng: np.random.Generator
) -> np.ndarray:
    """(C, height, width) float32 stationary Gaussian noise with covariance ``cov`` (as
    ``noise_covariance`` returns it; periodic at the borders). In the Fourier domain each
    frequency's C x C spectral matrix S = FFT(cov) is Hermitian; the noise is
    ``IFFT(S^(1/2) FFT(w))`` for white ``w`` (negative eigenvalues of S, from a finite
    estimate, are taken as 0). Memory: a few (height, width, C, C) complex arrays."""
    return coloured_noise(colouring_filter(cov, height, width), rng)


def coloured_noise(root: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(C, H, W) float32 noise ``IFFT(root FFT(w))`` for white ``w``; ``root``: the (H, W, C, C)
    ``colouring_filter``, computed once for many draws of one size."""
    height, width, channels = root.shape[:3]
    white = np.fft.fft2(rng.standard_normal((channels, height, width))).transpose(1, 2, 0)
    field = np.einsum("hwcd,hwd->chw", root, white)
    return np.fft.ifft2(field).real.astype(np.float32)


def colouring_filter(cov: np.ndarray, height: int, width: int) -> np.ndarray:
    """S^(1/2) per frequency, (height, width, C, C) complex, for ``gaussian_noise_like``."""
    channels, reach = cov.shape[0], cov.shape[2] // 2
    if height <= 2 * reach or width <= 2 * reach:
        raise ValueError(f"noise of {height}x{width} px is smaller than its covariance window")
    # cov[c, d, lag] = E r_c(x) r_d(x + lag) is the inverse transform of S at -lag (numpy's
    # FFT convention), so it sits at -lag here; else cross-channel lags come out mirrored
    kernel = np.zeros((channels, channels, height, width))
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            kernel[:, :, -dy % height, -dx % width] = cov[:, :, reach + dy, reach + dx]
    spectrum = np.fft.fft2(kernel).transpose(2, 3, 0, 1)  # (H, W, C, C), Hermitian per freq.
    spectrum = (spectrum + np.conj(spectrum.transpose(0, 1, 3, 2))) / 2
    values, vectors = np.linalg.eigh(spectrum)
    return np.asarray(
        (vectors * np.sqrt(np.clip(values, 0.0, None))[..., None, :])
        @ np.conj(vectors.transpose(0, 1, 3, 2))
    )
