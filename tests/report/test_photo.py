from __future__ import annotations

import numpy as np

from sassid.report.encode import alpha_colours, signed_difference
from sassid.report.photo import Crop, choose_crop


def test_crop_straddles_flat_and_textured_areas() -> None:
    rng = np.random.default_rng(0)
    image = np.full((256, 512, 3), 120, np.uint8)
    image[:, 320:] = rng.integers(0, 256, (256, 192, 3), dtype=np.uint8)  # texture on the right
    crop = choose_crop(image, 128)
    assert (crop.height, crop.width) == (128, 128)
    assert crop.left < 320 < crop.left + crop.width  # holds both kinds of area


def test_small_image_is_its_own_crop_and_centre_shrinks() -> None:
    image = np.zeros((40, 50, 3), np.uint8)
    assert choose_crop(image, 64) == Crop(0, 0, 40, 50)
    assert Crop(10, 20, 100, 80).centre(40) == Crop(40, 40, 40, 40)


def test_alpha_colours_and_differences() -> None:
    colours = alpha_colours(np.array([[0.2689, 0.5, 1.0]]))
    assert colours[0].tolist() == [[37, 99, 235], [229, 231, 235], [234, 88, 12]]
    a, b = np.array([[[10, 100, 0]]], np.uint8), np.array([[[0, 110, 0]]], np.uint8)
    assert signed_difference(a, b).tolist() == [[[168, 88, 128]]]
