"""sassid.corrections: low-frequency restoration and the noise gate, on synthetic photos."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from sassid.corrections import (
    GATE_WINDOW,
    blind_spot_posterior,
    gate_to_noise,
    restore_low_frequencies,
)
from sassid.inference import Denoiser
from sassid.noise import NoiseLevelFunction

SIGMA = 10.0


def _scene(size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A CHW clean image with a textured left half and a flat right half, and a noisy copy."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    texture = np.where(x < size // 2, 60 * np.sin(x / 2.0) * np.cos(y / 3.0), 0.0)
    clean = np.stack([100 + texture + 0.3 * y] * 3).astype(np.float32)
    noisy = clean + rng.normal(0, SIGMA, clean.shape).astype(np.float32)
    return clean, noisy


def test_low_frequency_restoration_removes_a_haze_and_keeps_detail() -> None:
    clean, noisy = _scene()
    hazy = clean * 0.9 + 20  # a denoiser that kept the detail but lifted and flattened
    fixed = hazy.copy()
    restore_low_frequencies(noisy, fixed, 8.0)
    error = lambda a: float(np.abs(a - clean).mean())  # noqa: E731
    assert error(fixed) < 0.4 * error(hazy), (error(fixed), error(hazy))
    unchanged = hazy.copy()
    restore_low_frequencies(noisy, unchanged, 0.0)
    assert np.array_equal(unchanged, hazy)


def test_gate_passes_a_denoiser_that_removes_only_the_noise() -> None:
    clean, noisy = _scene()
    out = clean.copy()  # the ideal output: what it removed is exactly the noise
    gain = gate_to_noise(noisy, out, SIGMA, 2.0)
    assert gain.min() > 0.99, gain.min()
    assert np.abs(out - clean).max() < 0.2
    timid = noisy - 0.3  # removed far less than the noise (RMS 0.3 levels): left alone
    kept = timid.copy()
    assert gate_to_noise(noisy, kept, SIGMA, 2.0).min() == 1.0
    assert np.allclose(kept, timid, atol=1e-4)


def test_gate_restores_detail_an_oversmoothing_denoiser_removed() -> None:
    clean, noisy = _scene()
    blurred = np.stack([gaussian_filter(c, 4.0) for c in clean])  # detail lost with the noise
    out = blurred.copy()
    gain = gate_to_noise(noisy, out, SIGMA, 2.0)
    left, right = np.s_[:, :, 8:40], np.s_[:, :, 56:88]
    error = lambda a, where: float(np.sqrt(np.mean((a - clean)[where] ** 2)))  # noqa: E731
    # In the texture the blur removed far more than noise: it is pulled back toward the input,
    # which is closer to the truth there than the blur was.
    assert error(out, left) < 0.7 * error(blurred, left), (error(out, left), error(blurred, left))
    assert gain[:, 8:40].mean() < 0.8
    # Where the removed part is noise-sized, nothing changes.
    assert np.allclose(out[right], blurred[right], atol=1.0)
    # After the gate, the removed part's local RMS is at most factor x sigma (Eq. in module).
    removed = ((noisy - out) ** 2).mean(axis=0)
    local = np.sqrt(gaussian_filter(removed, GATE_WINDOW))
    assert local[4:-4, 4:-4].max() < 2.0 * SIGMA * 1.35


def test_gate_uses_one_gain_for_all_channels_and_factor_zero_is_off() -> None:
    clean, noisy = _scene()
    out = np.stack([gaussian_filter(c, 4.0) for c in clean]) * np.array([1.0, 0.8, 1.2])[
        :, None, None
    ].astype(np.float32)
    before = out.copy()
    gain = gate_to_noise(noisy, out, SIGMA, 2.0)
    for c in range(3):
        assert np.allclose(noisy[c] - out[c], gain * (noisy[c] - before[c]), atol=1e-3)
    off = before.copy()
    assert gate_to_noise(noisy, off, SIGMA, 0.0).min() == 1.0
    assert np.array_equal(off, before)


def test_gate_reads_a_noise_level_function_at_the_output_intensity() -> None:
    # Noise std 2 in the dark half, 12 in the bright half; a denoiser that removes exactly the
    # noise. One sigma (the dark one) cuts the bright half's denoising; the level function not.
    rng = np.random.default_rng(4)
    clean = np.full((3, 64, 64), 40.0, np.float32)
    clean[:, :, 32:] = 200.0
    sigma = np.where(clean > 100, 12.0, 2.0).astype(np.float32)
    noisy = clean + rng.normal(size=clean.shape).astype(np.float32) * sigma
    level = NoiseLevelFunction(((40.0, 200.0),) * 3, ((2.0, 12.0),) * 3)
    one = clean.copy()
    gain_one = gate_to_noise(noisy, one, 2.0, 2.0)
    by_level = clean.copy()
    gain_level = gate_to_noise(noisy, by_level, level, 2.0)
    bright = (slice(4, -4), slice(36, -4))
    assert gain_one[bright].mean() < 0.4, "one dark sigma (limit 4, RMS 12) holds it back"
    assert gain_level[bright].min() == 1.0
    assert np.array_equal(by_level[:, 4:-4, 36:-4], clean[:, 4:-4, 36:-4])
    dark = (slice(4, -4), slice(4, 28))
    assert gain_level[dark].min() == 1.0  # the dark half's noise is within 2 x 2 there too
    # the limit really follows the level function: halve it and the bright half is gated
    half = gate_to_noise(
        noisy, clean.copy(), NoiseLevelFunction(((40.0, 200.0),) * 3, ((2.0, 5.0),) * 3), 2.0
    )
    assert 0.5 < half[bright].mean() < 0.95


def test_denoiser_gates_with_the_photos_own_noise_level() -> None:
    import torch

    clean, noisy = _scene(128)
    photo = np.clip(np.floor(noisy + 0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    blur = lambda t: torch.from_numpy(  # noqa: E731
        np.stack([gaussian_filter(c, 4.0) for c in t[0].numpy()])
    )[None]
    nets = {"unet": torch.nn.Identity()}
    raw = Denoiser(nets, tile=0, forward=blur).pixels(photo)
    gated = Denoiser(nets, tile=0, forward=blur, noise_gate=2.0).pixels(photo)
    truth = clean.transpose(1, 2, 0)
    mse = lambda a: float(np.mean((a.astype(np.float64) - truth)[:, 8:56] ** 2))  # noqa: E731
    assert mse(gated) < 0.6 * mse(raw), (mse(gated), mse(raw))


def test_denoiser_names_its_corrections() -> None:
    import torch

    nets = {"unet": torch.nn.Identity()}
    assert Denoiser(nets).describe() == (
        "unet: backend torch, precision fp32, tiles 512 px overlapping 64"
    )
    assert Denoiser(nets, tile=0, ensemble=True).describe().endswith("whole photos, x8 ensemble")
    both = Denoiser(nets, lowpass_sigma=8.0, noise_gate=2.0).describe()
    assert both.endswith("low frequencies restored (8 px), noise gate 2x (guarded)"), both
    unguarded = Denoiser(nets, noise_gate=2.0, guard=False).describe()
    assert unguarded.endswith("noise gate 2x"), unguarded


def test_gate_power_two_is_the_wiener_gain() -> None:
    # a constant removed part d = 10 against sigma = 5: g = min(1, (f sigma / 10) ** power)
    noisy = np.full((3, 24, 24), 110.0, dtype=np.float32)
    for factor, power, expected in ((1.0, 1, 0.5), (1.0, 2, 0.25), (2.0, 2, 1.0)):
        out = np.full_like(noisy, 100.0)
        gain = gate_to_noise(noisy, out, 5.0, factor, power=power)
        np.testing.assert_allclose(gain, expected, rtol=1e-5)
        np.testing.assert_allclose(out, 110.0 - 10.0 * expected, rtol=1e-5)


def test_posterior_keeps_a_good_prediction_and_brings_back_what_the_blind_spot_missed() -> None:
    clean, noisy = _scene()
    level = NoiseLevelFunction(((0.0, 255.0),) * 3, ((SIGMA, SIGMA),) * 3)
    # w = 1 - beta sigma^2 / E[d^2]: a prediction 20 levels off everywhere (E = 400) at beta 1
    # gets w = 1 - 100 / 400 = 0.75 of the difference back
    flat_noisy = np.full((3, 32, 32), 120.0, dtype=np.float32)
    shifted = blind_spot_posterior(flat_noisy, flat_noisy - 20.0, level, beta=1.0)
    np.testing.assert_allclose(shifted, 120.0 - 20.0 * 100 / 400, rtol=1e-4)
    # a blind-spot prediction that is exact on the flat half and smooths the texture away
    half = clean.shape[2] // 2
    prior = clean.copy()
    prior[:, :, :half] = gaussian_filter(clean, (0, 6, 6))[:, :, :half]
    out = blind_spot_posterior(noisy, prior, level)
    error = lambda a, cols: float(np.sqrt(((a - clean)[:, :, cols] ** 2).mean()))  # noqa: E731
    flat, texture = slice(half + 8, None), slice(None, half - 8)
    assert error(out, flat) < 0.5 * SIGMA, "flat: the prediction kept, little noise back"
    assert error(out, texture) < 0.6 * error(prior, texture), "texture: detail came back"
    assert error(out, texture) < error(noisy, texture), "and better than the noisy pixels"
