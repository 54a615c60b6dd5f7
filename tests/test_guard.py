"""sassid.guard: the risk estimate against the truth, and the per-photo gate choice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from sassid.guard import KEEP_INPUT, _gated, choose_gate, estimate_errors, probe_windows
from sassid.inference import Denoiser
from sassid.noise import gaussian_noise_like

SIGMA = 5.0


def _scene(size: int = 128) -> np.ndarray:
    """CHW clean image: strong texture on the left half, a gentle ramp on the right."""
    y, x = np.mgrid[0:size, 0:size]
    texture = np.where(x < size // 2, 40 * np.sin(x / 1.5) * np.cos(y / 2.0), 0.0)
    return np.stack([90 + texture + 0.3 * y + 10 * c for c in range(3)]).astype(np.float32)


def _channel_correlated_cov(sigma: float = SIGMA) -> np.ndarray:
    """(3, 3, 3, 3): std ``sigma`` per channel, 0.5 correlation between channels, no spatial
    correlation (reach 1)."""
    cov = np.zeros((3, 3, 3, 3))
    cov[:, :, 1, 1] = sigma**2 * (0.5 + 0.5 * np.eye(3))
    return cov


def _blur(width: float):  # type: ignore[no-untyped-def]
    return lambda chw: np.stack([gaussian_filter(c, width) for c in chw]).astype(np.float32)


def _noisy_photo(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(clean CHW float32, its noisy HWC uint8 photo) under channel-correlated noise."""
    clean, cov = _scene(), _channel_correlated_cov()
    noisy = clean + gaussian_noise_like(cov, *clean.shape[1:], np.random.default_rng(seed))
    return clean, np.clip(np.round(noisy), 0, 255).astype(np.uint8).transpose(1, 2, 0)


def _smearing_denoiser(**options: object) -> Denoiser:
    """A Denoiser whose network blurs texture away (3 px Gaussian), with noise gate 2."""
    import torch

    smear = _blur(3.0)
    forward = lambda t: torch.from_numpy(smear(t[0].numpy()))[None]  # noqa: E731
    return Denoiser(
        {"unet": torch.nn.Identity()}, tile=0, forward=forward, noise_gate=2.0, **options
    )


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a.astype(np.float64) - b) ** 2))


@pytest.mark.parametrize("width", [0.7, 3.0])
def test_risk_estimate_matches_the_true_error_without_the_clean_image(width: float) -> None:
    clean, cov = _scene(), _channel_correlated_cov()
    noisy = clean + gaussian_noise_like(cov, *clean.shape[1:], np.random.default_rng(1))
    forward = _blur(width)
    probe = gaussian_noise_like(cov, *clean.shape[1:], np.random.default_rng(2))
    variance = np.full_like(noisy, SIGMA**2)
    sums = estimate_errors(
        noisy, forward(noisy), forward, probe, variance, SIGMA, (2.0, 1.0, KEEP_INPUT)
    )
    out = forward(noisy)
    for factor, (total, count) in sums.items():
        truth = _mse(_gated(noisy, out, SIGMA, factor), clean)
        assert total / count == pytest.approx(truth, rel=0.12), (factor, total / count, truth)


def test_guard_lowers_the_gate_only_where_the_output_would_be_worse() -> None:
    clean, pixels = _noisy_photo(3)
    y = pixels.transpose(2, 0, 1).astype(np.float32)
    smears = choose_gate(pixels, y, _blur(3.0), SIGMA, 2.0)  # wipes out the texture
    assert smears is not None and smears.changed
    assert smears.errors[smears.factor] < smears.errors[2.0]
    assert "worse than the input" in smears.summary()
    oracle = choose_gate(pixels, y, lambda _: clean.copy(), SIGMA, 2.0)  # the clean image
    assert oracle is not None and not oracle.changed
    assert oracle.errors[2.0] < 0.2 * oracle.errors[KEEP_INPUT]
    assert "kept" in oracle.summary()
    assert choose_gate(pixels[:8, :8], y[:, :8, :8], _blur(3.0), SIGMA, 2.0) is None


def test_denoiser_guard_keeps_texture_a_smoothing_model_would_remove() -> None:
    clean, photo = _noisy_photo(4)
    unguarded, guarded = _smearing_denoiser(guard=False), _smearing_denoiser()
    plain, kept = unguarded.pixels(photo), guarded.pixels(photo)
    assert unguarded.last_gate is None
    assert guarded.last_gate is not None and guarded.last_gate.changed
    truth = clean.transpose(1, 2, 0)
    assert _mse(kept, truth) < _mse(photo, truth) < _mse(plain, truth)


def test_probe_windows_cover_small_photos_whole_and_spread_over_large_ones() -> None:
    assert probe_windows(300, 200) == [(slice(0, 300), slice(0, 200))]
    strip = probe_windows(4000, 200)  # narrower than a crop: four crops of 256 x 200 down it
    assert len(strip) == 4 and all(c == slice(0, 200) for _, c in strip)
    assert all(r.stop - r.start == 256 for r, _ in strip) and strip[-1][0].stop <= 4000
    assert len({r.start for r, _ in strip}) == 4
    across = probe_windows(250, 24000)
    assert len(across) == 4 and all(r == slice(0, 250) for r, _ in across)
    windows = probe_windows(3000, 4000)
    assert len(windows) == 4
    for rows, cols in windows:
        assert rows.stop - rows.start == 256 and cols.stop - cols.start == 256
        assert 0 <= rows.start and rows.stop <= 3000 and 0 <= cols.start and cols.stop <= 4000
    assert len({(r.start, c.start) for r, c in windows}) == 4


@pytest.mark.parametrize("case", ["16-bit", "tiny", "flat", "grey texture"])
def test_guard_handles_odd_photos(case: str) -> None:
    """16-bit photos are judged on the same scale as 8-bit ones; photos without measurable
    noise (under one patch, or noise-free) are not judged and get the model's own gate."""
    photo = _noisy_photo(5)[1]
    if case == "16-bit":
        photo = photo.astype(np.uint16) * 257
    elif case == "tiny":
        photo = photo[:10, :10]
    elif case == "flat":
        photo = np.full((64, 64, 3), 120, np.uint8)
    elif case == "grey texture":  # the same noise in all three channels
        photo = np.repeat(photo[..., 1:2], 3, axis=2)
    denoiser = _smearing_denoiser()
    out = denoiser.pixels(photo)
    assert out.shape == photo.shape and out.dtype == photo.dtype
    if case in ("tiny", "flat"):
        assert denoiser.last_gate is None
    else:
        assert denoiser.last_gate is not None and denoiser.last_gate.changed
        assert all(np.isfinite(e) for e in denoiser.last_gate.errors.values())
    if case == "16-bit":  # the same verdict as on the 8-bit photo it was made from
        eight_bit = _smearing_denoiser()
        eight_bit.pixels(_noisy_photo(5)[1])
        assert eight_bit.last_gate is not None and denoiser.last_gate is not None
        assert denoiser.last_gate.factor == eight_bit.last_gate.factor


def test_a_guard_that_fails_leaves_the_models_own_gate(monkeypatch) -> None:  # noqa: ANN001
    """The guard is advisory: a numerical failure in it never stops a photo."""
    import sassid.inference

    def broken(*_args: object, **_kwargs: object) -> None:
        raise np.linalg.LinAlgError("eigenvalues did not converge")

    photo = _noisy_photo(6)[1]
    expected = _smearing_denoiser(guard=False).pixels(photo)
    monkeypatch.setattr(sassid.inference, "choose_gate", broken)
    denoiser = _smearing_denoiser()
    assert np.array_equal(denoiser.pixels(photo), expected)
    assert denoiser.last_gate is None


def test_guard_builds_one_colouring_filter_per_crop_size(monkeypatch) -> None:  # noqa: ANN001
    """The per-frequency eigh is the guard's costliest numpy step; equal crops share it."""
    import sassid.guard as guard

    calls: list[tuple[int, int]] = []
    real = guard.colouring_filter

    def counted(cov: np.ndarray, height: int, width: int) -> np.ndarray:
        calls.append((height, width))
        return real(cov, height, width)

    windows: list[object] = []

    def small_crops(height: int, width: int) -> list[tuple[slice, slice]]:
        windows[:] = probe_windows(height, width, crop=32)  # 128 px photo, 32 px crops
        return list(windows)  # type: ignore[arg-type]

    monkeypatch.setattr(guard, "colouring_filter", counted)
    monkeypatch.setattr(guard, "probe_windows", small_crops)
    _, pixels = _noisy_photo(5)
    y = pixels.transpose(2, 0, 1).astype(np.float32)
    assert choose_gate(pixels, y, _blur(1.0), SIGMA, 2.0) is not None
    assert len(windows) > 1
    assert calls == [(32, 32)]
