"""Image readers under damaged input: any bytes give a Photo or one ImageError line, never
another exception; lossless formats round-trip exactly; the pixel limit holds for TIFF too."""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sassid.io import ImageError, Photo, read_image, write_image

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
SUFFIXES = (".png", ".jpg", ".tif")


def _encode(pixels: np.ndarray, suffix: str) -> bytes:
    buffer = io.BytesIO()
    if suffix == ".tif":
        tifffile.imwrite(buffer, pixels)
    else:
        Image.fromarray(pixels).save(buffer, format="PNG" if suffix == ".png" else "JPEG")
    return buffer.getvalue()


def _read_or_error(data: bytes, suffix: str) -> Photo | None:
    """read_image on ``data``: a valid Photo, or None after an ImageError; anything else fails
    the test (the exception propagates)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"x{suffix}"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                photo = read_image(path)
        except ImageError as exc:
            message = str(exc)
            assert "\n" not in message and str(path) in message
            return None
    assert photo.pixels.ndim == 3 and photo.pixels.shape[2] == 3
    assert photo.pixels.dtype in (np.uint8, np.uint16)
    return photo


images = st.tuples(
    st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 3, 4]), st.integers(0, 2**32 - 1)
).map(
    lambda t: (
        np.random.default_rng(t[3])
        .integers(0, 256, (t[0], t[1], t[2]) if t[2] > 1 else (t[0], t[1]))
        .astype(np.uint8)
    )
)


@SETTINGS
@given(data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(data: bytes, suffix: str) -> None:
    _read_or_error(data, suffix)


@SETTINGS
@given(
    pixels=images,
    suffix=st.sampled_from(SUFFIXES),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4),
)
def test_damaged_images(pixels: np.ndarray, suffix: str, cut: float, flips: list) -> None:
    if suffix == ".jpg" and pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., :3]
    data = bytearray(_encode(pixels, suffix))
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    _read_or_error(bytes(data[: max(1, int(cut * len(data)))]), suffix)


@SETTINGS
@given(
    size=st.tuples(st.integers(1, 16), st.integers(1, 16)),
    deep=st.booleans(),
    suffix=st.sampled_from((".png", ".tif")),
    seed=st.integers(0, 2**32 - 1),
)
def test_lossless_round_trip(
    size: tuple[int, int], deep: bool, suffix: str, seed: int, tmp_path: Path
) -> None:
    top = 65535 if deep else 255
    pixels = np.random.default_rng(seed).integers(0, top + 1, (*size, 3))
    pixels = pixels.astype(np.uint16 if deep else np.uint8)
    path = tmp_path / f"r{suffix}"
    write_image(path, pixels)
    assert np.array_equal(read_image(path).pixels, pixels)


def test_folder_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="is a folder"):
        read_image(tmp_path)
    (tmp_path / "e.png").write_bytes(b"")
    with pytest.raises(ImageError, match="e.png: empty file"):
        read_image(tmp_path / "e.png")


def test_tiff_pixel_limit_is_checked_from_the_header(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = tmp_path / "bomb.tif"
    tifffile.imwrite(path, np.zeros((64, 64, 3), np.uint8), compression="zlib")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64 x 64 > 2 x 1000
    decoded = []
    monkeypatch.setattr(tifffile.TiffFile, "asarray", lambda *a, **k: decoded.append(1))
    with pytest.raises(ImageError, match="bomb.tif: 64x64 pixels exceeds the limit"):
        read_image(path)
    assert not decoded, "the pixels must not be decoded"
