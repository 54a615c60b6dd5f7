"""The reliability verdict from noisy data alone: identity, oracle, blur, cast."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from sassid.reliability import assess, grouped_median


def _scene() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    clean = 128 + 40 * np.sign(np.sin(xx / 3.0)) * (yy > 64)  # flat top, stripes below
    clean = np.repeat(clean[..., None], 3, axis=2).astype(np.float64)
    noisy = np.clip(np.round(clean + rng.normal(0, 6, clean.shape)), 0, 255).astype(np.uint8)
    return noisy, clean.astype(np.uint8)


def test_oracle_denoiser_is_reliable() -> None:
    noisy, clean = _scene()
    verdict = assess(lambda _y: clean, [noisy])
    assert verdict.reliable, verdict.warnings
    assert abs(verdict.removed_flat - verdict.sigma) < 0.3 * verdict.sigma


def test_identity_keeps_the_noise() -> None:
    noisy, _ = _scene()
    verdict = assess(lambda y: y, [noisy])
    assert any("noise stays" in w for w in verdict.warnings)


def test_blur_removes_detail() -> None:
    noisy, _ = _scene()
    blur = lambda y: np.round(gaussian_filter(y.astype(float), (3, 3, 0))).astype(np.uint8)  # noqa: E731
    verdict = assess(blur, [noisy])
    assert any("removing detail" in w for w in verdict.warnings)


def test_cast_is_reported() -> None:
    noisy, clean = _scene()
    shifted = np.clip(clean.astype(int) + np.array([0, 0, 6]), 0, 255).astype(np.uint8)
    verdict = assess(lambda _y: shifted, [noisy])
    assert any("cast" in w for w in verdict.warnings)
    assert verdict.bias[2] < -5 and abs(verdict.bias[0]) < 1


def _srgb_scene(sigma: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """Zero-mean noise added before a concave tone curve (x^(1/2.2)), as in a camera: the sRGB
    noise then has a negative mean (about -2.4 levels at 0.2 linear here) but a zero median."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:192, 0:192]
    linear = 0.2 + 0.3 * (np.sin(xx / 3.0) > 0) * (yy > 96)
    linear = np.repeat(linear[..., None], 3, axis=2)
    noisy_linear = np.clip(linear + rng.normal(0, sigma, linear.shape), 0, 1)
    noisy = np.round(255 * noisy_linear ** (1 / 2.2)).astype(np.uint8)
    clean = np.round(255 * linear ** (1 / 2.2)).astype(np.uint8)
    return noisy, clean


def test_tone_curve_skew_is_not_a_cast() -> None:
    noisy, clean = _srgb_scene()
    verdict = assess(lambda _y: clean, [noisy])
    assert min(verdict.mean_bias) < -2.0  # what the mean would have flagged
    assert verdict.reliable, verdict.warnings
    assert max(abs(b) for b in verdict.bias) < 0.5


def test_grouped_median_sees_sub_level_shifts() -> None:
    values = np.round(np.random.default_rng(2).normal(0.3, 5.0, 200_000))
    assert np.median(values) == 0.0
    assert abs(grouped_median(values, 1.0) - 0.3) < 0.05
    assert grouped_median(np.array([0, 0, 1, 1]), 1.0) == 0.5
    assert abs(grouped_median(np.array([4.0]), 2.0) - 4.0) < 1e-9
    # half the values at or below 7, an empty gap above: float shares once skipped the gap
    assert grouped_median(np.array([0, 1, 3, 5, 5, 7, 12, 13, 16, 16, 17, 18]), 1.0) == 7.5
