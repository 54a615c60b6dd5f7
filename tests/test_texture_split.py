"""benchmarks/texture_split.py: the split of pixels and the PSNR of each part."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.texture_split import blurred, part_psnr, textured_mask
from sassid.metrics import psnr


def _half_textured(size: int = 64) -> np.ndarray:
    """Left half flat grey, right half a random texture (uint8 HWC)."""
    rng = np.random.default_rng(0)
    image = np.full((size, size, 3), 128, np.uint8)
    image[:, size // 2 :] = rng.integers(0, 256, (size, size // 2, 3), dtype=np.uint8)
    return image


def test_the_textured_share_is_the_highest_variance_pixels() -> None:
    clean = _half_textured()
    mask = textured_mask(clean, share=0.3)
    assert mask.mean() == pytest.approx(0.3, abs=0.02)
    # all of it inside the textured half, away from the flat half's 3 px border with it
    assert not mask[:, : 64 // 2 - 3].any()


def test_part_psnr_agrees_with_psnr_and_finds_where_the_error_is() -> None:
    clean = _half_textured()
    mask = textured_mask(clean, share=0.3)
    output = clean.copy()
    output[mask] = np.clip(clean[mask].astype(int) + 10, 0, 255).astype(np.uint8)
    parts = part_psnr(output, clean, mask)
    assert parts["all"] == pytest.approx(psnr(output, clean, data_range=255))
    assert parts["flat"] > 100  # untouched: the error floor, not a number of the image
    assert parts["textured"] < 30


def test_blur_costs_more_on_texture_than_on_flat_pixels() -> None:
    clean = _half_textured()
    mask = textured_mask(clean, share=0.5)
    assert mask[:, 64 // 2 :].all() and not mask[:, : 64 // 2].any()  # the halves exactly
    parts = part_psnr(blurred(clean, 1.0), clean, mask)
    assert blurred(clean, 1.0).dtype == np.uint8
    assert parts["flat"] > parts["textured"] + 20
