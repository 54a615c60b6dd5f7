"""Noise level and correlation from noisy images alone; the blind size they imply."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter1d

from sassid.noise import MIN_AUTO_BLIND, auto_blind_size, measure_noise, measure_noise_level


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
