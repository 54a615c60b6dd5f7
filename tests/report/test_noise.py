from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from sassid.report.noise import noise_sigma


@pytest.mark.parametrize("sigma", [3.0, 10.0, 25.0])
def test_estimate_recovers_white_noise_on_a_ramp(sigma: float) -> None:
    rng = np.random.default_rng(1)
    ramp = np.linspace(60, 190, 256)[None, :, None] * np.ones((256, 1, 3))
    noisy = np.clip(np.round(ramp + rng.normal(0, sigma, ramp.shape)), 0, 255).astype(np.uint8)
    assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.06)
    assert noise_sigma(np.round(ramp).astype(np.uint8)) < 0.5  # the ramp itself is not noise


def test_estimate_is_continuous_despite_integer_pixels() -> None:
    rng = np.random.default_rng(3)
    flat = np.full((256, 256, 3), 128.0)
    estimates = []
    for sigma in (2.0, 2.2, 2.4, 2.6):
        noisy = np.round(flat + rng.normal(0, sigma, flat.shape)).astype(np.uint8)
        estimates.append(noise_sigma(noisy))
    assert estimates == sorted(estimates) and len(set(estimates)) == 4
    # rounding adds 1/12 of variance: compare with sqrt(sigma^2 + 1/12)
    for sigma, estimate in zip((2.0, 2.2, 2.4, 2.6), estimates, strict=True):
        assert estimate == pytest.approx(np.sqrt(sigma**2 + 1 / 12), rel=0.04)


def test_sixteen_bit_reads_in_the_same_scale_and_smoothing_lowers_it() -> None:
    rng = np.random.default_rng(2)
    noisy = np.clip(128 + rng.normal(0, 12, (128, 96, 3)), 0, 255).astype(np.uint8)
    wide = noisy.astype(np.uint16) * 257
    assert noise_sigma(wide) == pytest.approx(noise_sigma(noisy), rel=1e-6)
    smooth = ndimage.uniform_filter(noisy.astype(np.float32), size=(5, 5, 1))
    assert noise_sigma(smooth) < noise_sigma(noisy) / 3


def test_rejects_an_image_smaller_than_a_block() -> None:
    with pytest.raises(ValueError, match="too small"):
        noise_sigma(np.zeros((1, 5, 3), np.uint8))
