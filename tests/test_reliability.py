"""The reliability verdict from noisy data alone: identity, oracle, blur, cast."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from sassid.reliability import assess


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
