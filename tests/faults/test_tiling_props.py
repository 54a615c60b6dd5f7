"""Tiling arithmetic: every valid (tile, overlap) covers every pixel with positive weight, so
tiling the identity returns the image; invalid ones fail in one line, never as black stripes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sassid.errors import OptionError
from sassid.inference import Denoiser
from sassid.tiling import check_tiling, run_tiled, tile_grid


@st.composite
def valid_tiling(draw: st.DrawFn, longest: int = 120) -> tuple[int, int, int]:
    tile = draw(st.integers(1, 40))
    overlap = draw(st.integers(0, tile - 1))
    length = draw(st.integers(1, longest))
    return length, tile, overlap


@settings(max_examples=300, deadline=None)
@given(valid_tiling())
def test_grid_covers_every_pixel(case: tuple[int, int, int]) -> None:
    length, tile, overlap = case
    starts = tile_grid(length, tile, overlap)
    covered = set()
    for start in starts:
        assert 0 <= start and start + min(tile, length) <= length
        covered.update(range(start, start + tile))
    assert covered >= set(range(length))


@settings(max_examples=100, deadline=None)
@given(valid_tiling(longest=48), st.integers(1, 40))
def test_tiled_identity_is_the_image(case: tuple[int, int, int], width: int) -> None:
    height, tile, overlap = case
    image = torch.rand(1, 2, height, width)
    out = run_tiled(lambda t: t, image, tile, overlap)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, image)


@settings(max_examples=100, deadline=None)
@given(st.integers(-50, 50), st.integers(-50, 50))
def test_invalid_options_fail_in_one_line(tile: int, overlap: int) -> None:
    valid = tile >= 0 and overlap >= 0 and (tile == 0 or tile > overlap)
    if valid:
        check_tiling(tile, overlap)
        return
    with pytest.raises(OptionError) as info:
        check_tiling(tile, overlap)
    assert "\n" not in str(info.value) and "--tile" in str(info.value)
    with pytest.raises(OptionError):
        Denoiser({"unet": torch.nn.Identity()}, tile=tile, overlap=overlap)
