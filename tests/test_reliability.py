"""The reliability verdict from noisy data alone: identity, oracle, blur, cast."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from sassid.reliability import assess, check_crops, check_picks, grouped_median, judge_photo


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


def _varied_scenes(count: int) -> dict[str, np.ndarray]:
    """``count`` noisy photos with different noise levels (std 3 to 12)."""
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:128, 0:128]
    scenes = {}
    for i in range(count):
        clean = 100 + 30 * (np.sin(xx / (2.0 + i)) > 0) * (yy > 64) + 5 * i
        clean = np.repeat(clean[..., None], 3, axis=2).astype(np.float64)
        noisy = clean + rng.normal(0, 3 + 9 * i / max(count - 1, 1), clean.shape)
        scenes[f"photo{i}.png"] = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    return scenes


def _oracle(scenes: dict[str, np.ndarray], spoiled: str | None, spoil) -> dict:  # noqa: ANN001
    """A denoiser that returns each scene's local mean (a stand-in for clean), spoiling one."""
    table = {}
    for name, noisy in scenes.items():
        clean = np.round(gaussian_filter(noisy.astype(float), (4, 4, 0)))
        table[noisy.tobytes()] = spoil(clean) if name == spoiled else clean
    return lambda y: np.clip(table[y.tobytes()], 0, 255).astype(np.uint8)


def test_one_spoiled_photo_is_named() -> None:
    scenes = _varied_scenes(6)
    cast = lambda c: c + np.array([0.0, 12.0, 0.0])  # noqa: E731
    good = assess(_oracle(scenes, None, cast), scenes)
    assert good.reliable, good.warnings
    assert [c.name for c in good.images] == list(scenes)
    bad = assess(_oracle(scenes, "photo0.png", cast), scenes)
    assert max(abs(b) for b in bad.bias) <= 2.0  # the pooled median does not see it
    assert not bad.reliable
    assert [c.name for c in bad.images if c.problems] == ["photo0.png"]
    assert "photo0.png" in bad.warnings[-1] and "1 of 6" in bad.warnings[-1]


def test_over_removal_on_one_photo_is_flagged() -> None:
    scenes = _varied_scenes(4)
    rng = np.random.default_rng(4)
    blotches = lambda c: c + gaussian_filter(rng.normal(0, 60, c.shape), (2, 2, 0))  # noqa: E731
    verdict = assess(_oracle(scenes, "photo0.png", blotches), scenes)
    check = next(c for c in verdict.images if c.name == "photo0.png")
    assert any("flat areas" in p for p in check.problems), check
    assert all(not c.problems for c in verdict.images if c.name != "photo0.png")


def test_strong_noise_allows_a_larger_median_shift() -> None:
    # a shift of 4 levels: a cast on a photo of noise std 3, within half the noise std of 12
    scenes = _varied_scenes(2)
    shift = lambda c: c - 4.0  # noqa: E731
    weak = assess(_oracle(scenes, "photo0.png", shift), scenes)
    strong = assess(_oracle(scenes, "photo1.png", shift), scenes)
    assert [c.name for c in weak.images if c.problems] == ["photo0.png"]
    assert not any(c.problems for c in strong.images)


def test_check_crops_names_and_picks() -> None:
    images = [np.zeros((300, 40 + i, 3), np.uint8) for i in range(20)] + [np.zeros((20, 20, 3))]
    assert check_picks(3, 16) == [0, 1, 2] and check_picks(0) == []
    picks = check_picks(len(images), 16)
    assert len(picks) == 16 and picks[0] == 0 and picks[-1] == 20
    crops = check_crops(images, names=[f"n{i}" for i in range(len(images))])
    assert "n20" not in crops  # under 32 px: no crop
    assert list(crops) == [f"n{i}" for i in picks[:-1]]
    assert all(c.shape == (256, 32, 3) for c in crops.values())


def test_black_areas_do_not_hide_over_removal_and_a_cast_is_not_one() -> None:
    rng = np.random.default_rng(5)
    clean = np.full((256, 256, 3), 110.0)
    clean[:80] = 0.0  # a black sky: clipped patches read as the flattest
    noisy = np.clip(np.round(clean + rng.normal(0, 5, clean.shape) * (clean > 0)), 0, 255)
    noisy = noisy.astype(np.uint8)
    blotches = clean + gaussian_filter(rng.normal(0, 80, clean.shape), (3, 3, 0)) * (clean > 0)
    blotched = judge_photo("b.png", noisy, np.clip(np.round(blotches), 0, 255).astype(np.uint8))
    assert any("flat areas" in p for p in blotched.problems), blotched
    tinted = judge_photo("t.png", noisy, np.clip(clean + [0, 0, 12], 0, 255).astype(np.uint8))
    assert len(tinted.problems) == 1 and "colours shift" in tinted.problems[0], tinted
    assert tinted.summary().startswith("the output departs from the input beyond the noise: ")
    assert judge_photo("c.png", noisy, clean.astype(np.uint8)).summary() == ""
