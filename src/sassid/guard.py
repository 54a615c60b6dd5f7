"""Per-photo choice of the noise gate by Stein's unbiased risk estimate, from the noisy photo alone.

The noise gate (``sassid.corrections.gate_to_noise``) keeps a model from removing much more
than the noise, but at its default factor a model that smooths texture away can still make a
photo worse than its noisy input (two of four demo photos at iso_like 1000,
results/guard_demo_iso1000.md). Which factor is right differs from photo to photo, and the
clean image that would tell is missing. For noise ``n ~ N(0, Sigma)`` and a weakly
differentiable ``f``, the mean squared error against the clean image ``x`` has an unbiased
estimate from ``y`` alone (Stein 1981; with correlated noise, Eldar 2009):

    E ||f(y) - x||^2 = E [ ||y - f(y)||^2 - tr Sigma + 2 tr(Sigma J_f(y)) ],

and ``tr(Sigma J_f)`` is estimated by one Monte-Carlo probe ``b ~ N(0, Sigma)`` (Ramani et al.
2008): ``b . (f(y + eps b) - f(y)) / eps``. For the input itself (``f(y) = y``) the same
estimator gives ``2 b . b - tr Sigma``, of mean ``tr Sigma``; it is kept rather than the exact
value because with the same probe its noise cancels in the comparison with the output.
``Sigma``: the noise's correlation across channels and neighbours
(``sassid.noise.noise_covariance``), scaled per pixel to the photo's noise level function at the
output's intensity (camera noise grows with the signal).

The estimate's scale rests on the measured noise level, which reads 18-41% low in variance on
the strong noise of sidd_samples (the input's estimate against its true PSNR,
results/guard_sidd_samples.md), so it is not used to rank settings freely. The guard keeps
the model's own factor unless its estimated error exceeds the noisy input's; only then does it
take whichever of the lower factors (``GUARD_FACTORS``) or the input itself has the lowest
estimate. It costs one pass of the network over the photo, or two over ``GUARD_CROPS`` crops
of ``GUARD_CROP`` px of a larger one, at the precision that denoises it: on the demo photos at
iso_like 1000 bf16 gave the same estimates as fp32 within 0.1 dB
(results/guard_demo_iso1000{,_bf16}.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sassid.corrections import gate_to_noise
from sassid.noise import coloured_noise, colouring_filter, measure_noise_level, noise_covariance

__all__ = [
    "GateChoice",
    "apply_gate",
    "choose_gate",
    "probe_windows",
    "estimate_errors",
    "KEEP_INPUT",
]

GUARD_FACTORS = (1.5, 1.0)
"""Gate factors the guard may fall back to, below the model's own (in noise stds)."""
KEEP_INPUT = 0.0
"""The factor that stands for the noisy input kept as it is."""
GUARD_STEP = 0.1
"""eps: the probe's size in noise stds, small enough for the finite difference to follow the
derivative. Under bf16 it is below one rounding step of bright pixels, but the noise dithers
the rounding: bf16 estimates agreed with fp32's within 0.1 dB (results/guard_demo_iso1000*)."""
GUARD_CROP = 256
GUARD_CROPS = 4
"""Crops the estimate is measured on (a photo that fits in their area is measured whole)."""
GUARD_SEED = 0
"""The probe is drawn from a fixed seed: the same photo gets the same choice every time."""

Forward = Callable[[np.ndarray], np.ndarray]
"""CHW float32 noisy pixels in [0, 255] -> the output the gate is applied to, same shape: the
network's, with the model's low-frequency restoration if it has one (``Denoiser._plain_output``)."""


@dataclass(frozen=True)
class GateChoice:
    """The guard's verdict on one photo: the factor used and each candidate's estimated error
    (mean squared error against the unknown clean photo, squared levels; key ``KEEP_INPUT``: the
    noisy input)."""

    own: float
    factor: float
    errors: dict[float, float]

    @property
    def changed(self) -> bool:
        return self.factor != self.own

    def summary(self) -> str:
        """One line for the user: the estimates relative to the input's, in dB (their scale
        rests on the measured noise level, so only the comparison is meant, not the values)."""

        def gain(factor: float) -> str:
            ratio = self.errors[KEEP_INPUT] / max(self.errors[factor], 1e-6)
            return f"{10 * np.log10(max(ratio, 1e-6)):+.1f} dB"

        if not self.changed:
            return f"noise gate {self.own:g}x kept (estimated {gain(self.own)} against the input)"
        taken = "the input kept" if self.factor == KEEP_INPUT else f"noise gate {self.factor:g}x"
        return (
            f"the model's output is estimated worse than the input here ({gain(self.own)}, "
            f"from the noisy photo alone): {taken} instead ({gain(self.factor)})"
        )


def probe_windows(
    height: int, width: int, crop: int = GUARD_CROP, count: int = GUARD_CROPS
) -> list[tuple[slice, slice]]:
    """Where the estimate is measured: the whole photo when it holds at most ``count`` crops'
    pixels, else up to ``count`` crops of ``crop`` px (cut to a side shorter than that) on an
    even grid that fits the photo: 2 x 2 for four (centres at a quarter and three quarters of
    each side), a row or column of four along a long strip."""
    if height * width <= count * crop * crop:
        return [(slice(0, height), slice(0, width))]
    tall, wide = min(crop, height), min(crop, width)
    rows = min(height // tall, math.isqrt(count))
    cols = min(width // wide, count // rows)
    rows = min(height // tall, count // cols)
    windows = []
    for row in range(rows):
        for col in range(cols):
            top = int((row + 0.5) * height / rows - tall / 2)
            left = int((col + 0.5) * width / cols - wide / 2)
            top, left = min(max(top, 0), height - tall), min(max(left, 0), width - wide)
            windows.append((slice(top, top + tall), slice(left, left + wide)))
    return windows


def apply_gate(noisy: np.ndarray, out: np.ndarray, sigma: float, factor: float) -> None:
    """``out`` gated to ``factor`` times ``sigma`` in place (``gate_to_noise``), or replaced by
    ``noisy`` for ``KEEP_INPUT`` (CHW float arrays)."""
    if factor == KEEP_INPUT:
        out[...] = noisy
    else:
        gate_to_noise(noisy, out, sigma, factor)


def _gated(noisy: np.ndarray, out: np.ndarray, sigma: float, factor: float) -> np.ndarray:
    """``apply_gate`` on a copy of ``out``."""
    result = out.copy()
    apply_gate(noisy, result, sigma, factor)
    return result


def estimate_errors(
    noisy: np.ndarray,
    out: np.ndarray,
    forward: Forward,
    probe: np.ndarray,
    variance: np.ndarray,
    sigma: float,
    factors: tuple[float, ...],
    step: float = GUARD_STEP,
) -> dict[float, tuple[float, int]]:
    """For each gate factor (``KEEP_INPUT``: the input), the SURE sums on one CHW window:
    ``(sum ||y - f||^2 - sum variance + 2 sum b . (f(y + step b) - f(y)) / step, values)``
    with ``out = forward(noisy)``, ``probe`` b drawn with the noise's covariance and
    ``variance`` its per-pixel value."""
    moved = noisy + step * probe
    out_moved = forward(moved)
    sums: dict[float, tuple[float, int]] = {}
    for factor in factors:
        f = _gated(noisy, out, sigma, factor)
        f_moved = _gated(moved, out_moved, sigma, factor)
        divergence = float(np.sum(probe * (f_moved - f), dtype=np.float64)) / step
        residual = float(np.sum((noisy - f) ** 2, dtype=np.float64))
        sums[factor] = (residual - float(variance.sum(dtype=np.float64)) + 2 * divergence, f.size)
    return sums


def choose_gate(
    pixels: np.ndarray,
    noisy: np.ndarray,
    forward: Forward,
    sigma: float,
    factor: float,
    fallbacks: tuple[float, ...] = GUARD_FACTORS,
    step: float = GUARD_STEP,
    out: np.ndarray | None = None,
) -> GateChoice | None:
    """The gate factor for one photo (see module): ``factor`` unless its estimated error
    exceeds the input's, then the lowest estimate among ``factor``, the ``fallbacks`` below it
    and the input. ``pixels``: the stored HWC photo (its noise is measured on it); ``noisy``:
    the same as CHW float32 in [0, 255]; ``sigma``: the gate's noise std; ``out``:
    ``forward(noisy)`` if already computed (reused when the photo is measured whole). None
    when the noise cannot be measured (a photo under one noise patch, or without noise)."""
    try:
        cov = noise_covariance(pixels)
        level = measure_noise_level(pixels)
    except ValueError:
        return None
    reach = cov.shape[2] // 2
    stds = np.sqrt(np.diagonal(cov[:, :, reach, reach]))
    if sigma <= 0 or not np.all(stds > 1e-6):
        return None
    factors = (factor, *(f for f in fallbacks if f < factor), KEEP_INPUT)
    rng = np.random.default_rng(GUARD_SEED)
    totals = dict.fromkeys(factors, 0.0)
    count = 0
    filters: dict[tuple[int, int], np.ndarray] = {}  # crops share a size: one eigh, not four
    for rows, cols in probe_windows(*noisy.shape[1:]):
        window = np.ascontiguousarray(noisy[:, rows, cols])
        whole = window.shape == noisy.shape
        window_out = out if whole and out is not None else forward(window)
        # probe scaled per pixel to the level function at the output's intensity
        scale = np.stack([level.at(o, c) / np.float32(stds[c]) for c, o in enumerate(window_out)])
        size = (window.shape[1], window.shape[2])
        if size not in filters:
            filters[size] = colouring_filter(cov, *size)
        probe = coloured_noise(filters[size], rng) * scale
        variance = (stds[:, None, None].astype(np.float32) * scale) ** 2
        sums = estimate_errors(window, window_out, forward, probe, variance, sigma, factors, step)
        for f, (total, _) in sums.items():
            totals[f] += total
        count += window.size
    if not all(np.isfinite(total) for total in totals.values()):
        return None  # a probe pass gave NaN or inf: no verdict
    errors = {f: max(total / count, 0.0) for f, total in totals.items()}
    chosen = factor
    if errors[factor] > errors[KEEP_INPUT]:
        chosen = min(factors, key=errors.__getitem__)
    return GateChoice(own=factor, factor=chosen, errors=errors)
