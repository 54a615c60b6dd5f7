"""Noise level and correlation from noisy images alone; the blind size they imply."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from sassid.noise import (
    MIN_AUTO_BLIND,
    auto_blind_size,
    gaussian_noise_like,
    measure_noise,
    measure_noise_level,
    noise_covariance,
)


def _flat_photo(noise: np.ndarray) -> np.ndarray:
    base = np.linspace(60, 180, noise.shape[1])[None, :, None]
    return np.clip(np.round(base + noise), 0, 255).astype(np.uint8)


def test_white_noise_level_and_no_correlation() -> None:
    noise = np.random.default_rng(0).normal(0, 8, (128, 128, 3))
    stats = measure_noise([_flat_photo(noise)], fraction=0.5)
    assert stats.sigma == pytest.approx(8, rel=0.1)
    assert max(abs(r) for r in stats.rho) < 0.08
    assert auto_blind_size(stats.rho) == MIN_AUTO_BLIND  # nothing to cover: the floor


def test_correlated_noise_is_measured_and_covered() -> None:
    # a 3-tap box filter along both axes: rho(1) = 2/3 * 2/3... per axis 2/3, 1/3, 0
    white = np.random.default_rng(1).normal(0, 12, (160, 160, 3))
    noise = uniform_filter1d(uniform_filter1d(white, 3, axis=0), 3, axis=1) * 3
    stats = measure_noise([_flat_photo(noise)], size=32, fraction=0.5)
    assert stats.rho[0] == pytest.approx(2 / 3, abs=0.08)
    assert stats.rho[1] == pytest.approx(1 / 3, abs=0.08)
    assert abs(stats.rho[3]) < 0.08
    assert auto_blind_size(stats.rho) == 5


def test_blind_size_rule() -> None:
    assert auto_blind_size([0.05, 0.0]) == MIN_AUTO_BLIND == 5
    assert auto_blind_size([0.31, -0.04, 0.0]) == 5, "sidd_samples: 3 by the rule, 5 by the floor"
    assert auto_blind_size([0.6, 0.3, 0.2, 0.05]) == 7
    assert auto_blind_size([0.6, 0.05, 0.2], threshold=0.1) == 7, "the farthest lag counts"
    with pytest.raises(ValueError, match="at least"):
        measure_noise([np.zeros((8, 8, 3), np.uint8)])


def test_clipped_areas_do_not_count_as_noise_free() -> None:
    # Half the photo is blown out (255, no noise left): the flattest patches are all there,
    # so without leaving clipped patches out the measured noise would be ~0.
    noise = np.random.default_rng(2).normal(0, 6, (128, 128, 3))
    photo = _flat_photo(noise)
    photo[:, 64:] = 255
    stats = measure_noise([photo], fraction=0.5)
    assert stats.sigma == pytest.approx(6, rel=0.15)
    blank = measure_noise([np.full((32, 32, 3), 255, np.uint8)])  # all clipped: no noise
    assert blank.sigma == 0.0 and auto_blind_size(blank.rho) == MIN_AUTO_BLIND


def test_noise_level_function_follows_signal_dependent_noise() -> None:
    # shot-noise-like: variance 0.5 I + 4 along a horizontal ramp, the same in every channel
    rng = np.random.default_rng(3)
    base = np.linspace(10, 245, 512)[None, :, None] * np.ones((512, 1, 3))
    true_sigma = np.sqrt(0.5 * base + 4)
    photo = np.clip(np.round(base + rng.normal(size=base.shape) * true_sigma), 0, 255)
    level = measure_noise_level(photo.astype(np.uint8))
    assert len(level.levels) == 3 and len(level.levels[0]) >= 6
    expected = np.sqrt(0.5 * np.array(level.levels[1]) + 4)
    # the flattest tenth of each bin reads a little low, as measure_noise's sigma does
    np.testing.assert_allclose(level.sigma[1], expected, rtol=0.2)
    assert level.sigma[1][-2] > 2 * level.sigma[1][0]
    # one sigma per photo is set by its flattest patches: the dark end, far below the bright
    assert measure_noise([photo.astype(np.uint8)]).sigma < 0.5 * level.sigma[1][-2]
    ramp = level.at(np.array([0.0, 128.0, 255.0]), 0)
    assert ramp.dtype == np.float32 and ramp[0] < ramp[1] < ramp[2] + 1


def test_noise_level_function_of_a_flat_photo_is_one_level() -> None:
    photo = np.full((64, 64, 3), 120, np.uint8)
    level = measure_noise_level(photo, min_patches=1000)  # no bin has enough: the overall sigma
    assert level.levels == ((127.5,),) * 3
    assert np.allclose(level.sigma, 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="at least"):
        measure_noise_level(np.zeros((8, 8, 3), np.uint8))


def _mixed_noise(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(HWC noise, its exact covariance at lags 0 and 1 across channels): white noise box-
    filtered over 3 px horizontally, then channel c = w_c + 0.5 w_(c+1) (demosaicing-like)."""
    white = np.random.default_rng(seed).normal(0, 6, (size, size + 2, 4))
    box = (white[:, :-2] + white[:, 1:-1] + white[:, 2:]) / np.sqrt(3)  # var 36, rho(1) 2/3
    noise = box[..., :3] + 0.5 * box[..., 1:]
    lag0 = np.array([[45.0, 18.0, 0.0], [18.0, 45.0, 18.0], [0.0, 18.0, 45.0]])
    return noise, lag0


def test_noise_covariance_measures_channel_and_spatial_correlation() -> None:
    noise, lag0 = _mixed_noise(160, 2)
    cov = noise_covariance(_flat_photo(noise), reach=2, fraction=1.0)
    assert cov.shape == (3, 3, 5, 5)
    np.testing.assert_allclose(cov[:, :, 2, 2], lag0, atol=4.0)  # plane removal: a bit low
    np.testing.assert_allclose(cov[:, :, 2, 3], lag0 * 2 / 3, atol=4.0)  # one px right
    np.testing.assert_allclose(cov[:, :, 2, 4], lag0 / 3, atol=4.0)
    np.testing.assert_allclose(cov[:, :, 3, 2], 0.0, atol=3.0)  # no vertical correlation
    with pytest.raises(ValueError, match="at least"):
        noise_covariance(np.zeros((8, 8, 3), np.uint8))


def test_gaussian_noise_like_has_the_covariance_it_is_given() -> None:
    noise, lag0 = _mixed_noise(160, 3)
    cov = noise_covariance(_flat_photo(noise), reach=2, fraction=1.0)
    field = gaussian_noise_like(cov, 192, 160, np.random.default_rng(0))
    assert field.shape == (3, 192, 160) and field.dtype == np.float32
    same = np.einsum("chw,dhw->cd", field, field) / field[0].size
    right = np.einsum("chw,dhw->cd", field[:, :, :-1], field[:, :, 1:]) / field[0, :, 1:].size
    np.testing.assert_allclose(same, cov[:, :, 2, 2], atol=3.0)
    np.testing.assert_allclose(right, cov[:, :, 2, 3], atol=3.0)
    assert abs(np.mean(field[0, :-1] * field[0, 1:])) < 3.0  # none vertically, as measured


def test_gaussian_noise_like_keeps_the_direction_of_cross_channel_lags() -> None:
    """cov[c, d, lag] is E r_c(x) r_d(x + lag): a one-sided lag must not come out mirrored."""
    cov = np.zeros((3, 3, 3, 3))
    cov[:, :, 1, 1] = np.eye(3)
    cov[0, 1, 1, 2] = cov[1, 0, 1, 0] = 0.5  # channel 1 one px right of channel 0
    cov[0, 2, 2, 1] = cov[2, 0, 0, 1] = 0.4  # channel 2 one px below channel 0
    field = gaussian_noise_like(cov, 256, 256, np.random.default_rng(0))
    assert np.mean(field[0, :, :-1] * field[1, :, 1:]) == pytest.approx(0.5, abs=0.05)
    assert abs(np.mean(field[0, :, 1:] * field[1, :, :-1])) < 0.05
    assert np.mean(field[0, :-1] * field[2, 1:]) == pytest.approx(0.4, abs=0.05)
    assert abs(np.mean(field[0, 1:] * field[2, :-1])) < 0.05
