from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from sassid.metrics import psnr, ssim


def _pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    clean = (np.linspace(0, 255, 64)[None, :, None] * np.ones((48, 1, 3))).astype(np.uint8)
    noisy = np.clip(clean + rng.normal(0, 15, clean.shape), 0, 255).astype(np.uint8)
    return noisy, clean


def test_psnr_matches_skimage() -> None:
    noisy, clean = _pair()
    assert psnr(noisy, clean) == pytest.approx(
        peak_signal_noise_ratio(clean, noisy, data_range=255)
    )
    assert psnr(clean, clean) == float("inf")


def test_psnr_known_value() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255  # MSE = 255^2 / 48 -> PSNR = 10 log10(48)
    assert psnr(b, a) == pytest.approx(10 * np.log10(48))


@pytest.mark.parametrize("seed", [0, 1])
def test_ssim_skimage_convention_equals_skimage(seed: int) -> None:
    noisy, clean = _pair(seed)
    expected = structural_similarity(
        noisy,
        clean,
        channel_axis=2,
        data_range=255,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim(noisy, clean, "skimage") == pytest.approx(expected, abs=1e-6)


def test_ssim_properties() -> None:
    noisy, clean = _pair()
    for convention in ("skimage", "matlab3d"):
        assert ssim(clean, clean, convention) == pytest.approx(1.0)
        assert 0 < ssim(noisy, clean, convention) < 0.99
    with pytest.raises(ValueError, match="unknown SSIM convention"):
        ssim(noisy, clean, "y")
