from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sassid.io import (
    ImageError,
    Photo,
    find_images,
    find_pairs,
    from_pixels,
    read_image,
    to_pixels,
    write_image,
)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_round_trip(tmp_path: Path, suffix: str) -> None:
    pixels = (np.random.default_rng(0).random((9, 11, 3)) * 65535).astype(np.uint16)
    write_image(tmp_path / f"a{suffix}", pixels)
    back = read_image(tmp_path / f"a{suffix}").pixels
    assert back.dtype == np.uint16 and np.array_equal(back, pixels)
    assert np.array_equal(from_pixels(to_pixels(back), np.uint16), pixels)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("precision", [np.float32, np.float64])
def test_from_pixels_rounds_half_up_in_float64_and_clamps(dtype: type, precision: type) -> None:
    """floor(x * top / 255 + 0.5) in float64, clamped, as the reference rounds; ties and the
    float32 just below a tie (whose float32 sum with 0.5 would round up) included."""
    rng = np.random.default_rng(0)
    chw = rng.uniform(-20, 280, (3, 17, 23)).astype(np.float32)
    below = np.nextafter(np.float32(127.5), np.float32(0))
    chw[0, 0, :8] = [0.5, 1.5, 254.5, 255.5, -0.5, np.float32(0.49999997), below, 127.5]
    chw = chw.astype(precision)
    top = 255.0 if dtype == np.uint8 else 65535.0
    expected = np.clip(np.floor(chw.astype(np.float64) * (top / 255.0) + 0.5), 0, top)
    got = from_pixels(chw, dtype)
    assert got.dtype == dtype and got.shape == (17, 23, 3)
    assert np.array_equal(got, expected.transpose(1, 2, 0).astype(dtype))
    if dtype == np.uint8:
        assert list(got[0, :8, 0]) == [1, 2, 255, 255, 0, 0, 127, 128]


def test_8_bit_formats_and_metadata(tmp_path: Path) -> None:
    pixels = (np.random.default_rng(1).random((16, 20, 3)) * 255).astype(np.uint8)
    icc = b"fake-icc-profile-bytes"
    exif = Image.Exif()
    exif[0x010F] = "sassid-camera"
    photo = Photo(pixels, icc_profile=icc, exif=exif.tobytes())
    for suffix in (".png", ".jpg", ".tif"):
        write_image(tmp_path / f"a{suffix}", photo)
        back = read_image(tmp_path / f"a{suffix}")
        assert back.pixels.shape == pixels.shape and back.pixels.dtype == np.uint8
        assert back.icc_profile == icc
        assert back.exif is not None and b"sassid-camera" in back.exif  # TIFF: its Make tag
    assert np.array_equal(read_image(tmp_path / "a.png").pixels, pixels)


def test_grey_and_alpha_are_converted_with_a_warning(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(tmp_path / "g.png")
    Image.fromarray(np.zeros((4, 5, 4), np.uint8)).save(tmp_path / "a.png")
    with pytest.warns(UserWarning, match="grey"):
        assert read_image(tmp_path / "g.png").pixels.shape == (4, 5, 3)
    with pytest.warns(UserWarning, match="alpha"):
        assert read_image(tmp_path / "a.png").pixels.shape == (4, 5, 3)


def test_bad_files_give_one_line(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    (tmp_path / "junk.jpg").write_bytes(b"hello")
    for name in ("cut.png", "junk.jpg", "absent.png"):
        with pytest.raises(ImageError) as info:
            read_image(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value)


def test_find_images_prefers_noisy_files(tmp_path: Path) -> None:
    scene = tmp_path / "Data" / "0001_001_S6"
    scene.mkdir(parents=True)
    for name in ("0001_NOISY_SRGB_010.PNG", "0001_GT_SRGB_010.PNG", "x_noisy.png", "x_clean.png"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(scene / name, format="PNG")
    assert [p.name for p in find_images([tmp_path])] == ["0001_NOISY_SRGB_010.PNG", "x_noisy.png"]
    assert [(i, n.name, c.name) for i, n, c in find_pairs(scene)] == [
        ("x", "x_noisy.png", "x_clean.png")
    ]


def test_image_megapixels_reads_the_header_only(tmp_path: Path) -> None:
    from PIL import Image

    from sassid.io import image_megapixels

    Image.new("RGB", (40, 30)).save(tmp_path / "a.png")
    assert image_megapixels(tmp_path / "a.png") == pytest.approx(40 * 30 / 1e6)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    assert image_megapixels(tmp_path / "bad.png") is None
    assert image_megapixels(tmp_path / "missing.jpg") is None


def test_image_megapixels_of_a_tiff(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    from sassid.io import image_megapixels

    tifffile.imwrite(tmp_path / "b.tif", np.zeros((20, 10, 3), dtype=np.uint16))
    assert image_megapixels(tmp_path / "b.tif") == pytest.approx(200 / 1e6)


def test_empty_sources_are_refused(tmp_path: Path) -> None:
    from sassid.io import ImageError, find_pairs

    with pytest.raises(ImageError, match="input path is empty"):
        find_images([tmp_path, ""])
    with pytest.raises(ImageError, match="input path is empty"):
        find_pairs("")
    (tmp_path / "f.png").write_bytes(b"x")
    with pytest.raises(ImageError, match="f.png: not a folder"):
        find_pairs(tmp_path / "f.png")
    with pytest.raises(ImageError, match="absent: no such folder"):
        find_pairs(tmp_path / "absent")


def _srgb_profile(space: bytes = b"RGB ") -> bytes:
    """Pillow's sRGB ICC profile, its header's colour space set to ``space``."""
    from PIL import ImageCms

    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[16:20] = space
    return bytes(icc)


def test_tiffs_that_are_not_plain_rgb_keep_their_colours(tmp_path: Path) -> None:
    """tifffile returns stored samples; CMYK, palette and inverted grey go through Pillow."""
    tifffile = pytest.importorskip("tifffile")
    red = np.zeros((4, 5, 4), np.uint8)
    red[..., 1:3] = 255  # C=0 M=255 Y=255 K=0
    tifffile.imwrite(tmp_path / "cmyk.tif", red, photometric="separated")
    tifffile.imwrite(
        tmp_path / "white.tif", np.full((4, 5), 10, np.uint8), photometric="miniswhite"
    )
    colormap = np.zeros((3, 256), np.uint16)
    colormap[0] = 65535  # every index is red
    tifffile.imwrite(
        tmp_path / "palette.tif",
        np.zeros((4, 5), np.uint8),
        photometric="palette",
        colormap=colormap,
    )
    assert read_image(tmp_path / "cmyk.tif").pixels[0, 0].tolist() == [255, 0, 0]
    with pytest.warns(UserWarning, match="grey"):
        assert read_image(tmp_path / "white.tif").pixels[0, 0].tolist() == [245, 245, 245]
    assert read_image(tmp_path / "palette.tif").pixels[0, 0].tolist() == [255, 0, 0]
    tifffile.imwrite(
        tmp_path / "cmyk16.tif", np.zeros((4, 5, 4), np.uint16), photometric="separated"
    )
    with pytest.raises(ImageError, match="cmyk16.tif: 16-bit SEPARATED TIFF is not supported"):
        read_image(tmp_path / "cmyk16.tif")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_planar_and_multi_page_tiffs(tmp_path: Path, dtype: type) -> None:
    tifffile = pytest.importorskip("tifffile")
    pixels = (np.random.default_rng(0).random((6, 7, 3)) * 200).astype(dtype)
    tifffile.imwrite(
        tmp_path / "planar.tif",
        pixels.transpose(2, 0, 1),
        photometric="rgb",
        planarconfig="separate",
    )
    assert np.array_equal(read_image(tmp_path / "planar.tif").pixels, pixels)
    tifffile.imwrite(tmp_path / "pages.tif", np.stack([pixels, pixels // 2]), photometric="rgb")
    with pytest.warns(UserWarning, match="only the first of its 2 pages"):
        assert np.array_equal(read_image(tmp_path / "pages.tif").pixels, pixels)


def test_lzw_tiff_without_imagecodecs(tmp_path: Path) -> None:
    """8 bit falls back to Pillow; 16 bit names the package it needs."""
    pytest.importorskip("tifffile")
    if importlib.util.find_spec("imagecodecs") is not None:
        pytest.skip("imagecodecs is installed")
    pixels = (np.random.default_rng(0).random((6, 7, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "lzw.tif", compression="tiff_lzw")
    assert np.array_equal(read_image(tmp_path / "lzw.tif").pixels, pixels)
    Image.fromarray(np.zeros((6, 7), np.uint16)).save(
        tmp_path / "lzw16.tif", compression="tiff_lzw"
    )
    with pytest.raises(ImageError, match="lzw16.tif: its LZW compression needs the imagecodecs"):
        read_image(tmp_path / "lzw16.tif")


def test_icc_and_exif_survive_16_bit_png_and_tiff(tmp_path: Path) -> None:
    pytest.importorskip("tifffile")
    pixels = (np.random.default_rng(2).random((6, 7, 3)) * 65535).astype(np.uint16)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the pixels are stored turned
    icc = _srgb_profile()
    write_image(tmp_path / "a.png", Photo(pixels, icc_profile=icc, exif=exif.tobytes()))
    back = read_image(tmp_path / "a.png")
    assert np.array_equal(back.pixels, pixels) and back.icc_profile == icc
    with Image.open(tmp_path / "a.png") as im:
        assert im.getexif()[0x0112] == 6
    for bits in (pixels, (pixels // 257).astype(np.uint8)):
        write_image(tmp_path / "a.tif", Photo(bits, icc_profile=icc, exif=exif.tobytes()))
        back = read_image(tmp_path / "a.tif")
        assert back.icc_profile == icc and np.array_equal(back.pixels, bits)
        with Image.open(tmp_path / "a.tif") as im:
            assert im.getexif()[0x0112] == 6  # the TIFF's own Orientation tag


def test_exif_after_the_pixels_of_a_png_is_read(tmp_path: Path) -> None:
    import png

    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (5, 4)).save(tmp_path / "a.png")
    chunks = list(png.Reader(filename=str(tmp_path / "a.png")).chunks())
    eXIf = (b"eXIf", exif.tobytes().removeprefix(b"Exif\x00\x00"))
    with open(tmp_path / "late.png", "wb") as f:
        png.write_chunks(f, [*chunks[:-1], eXIf, chunks[-1]])  # after IDAT, before IEND
    late = read_image(tmp_path / "late.png").exif
    assert late is not None
    parsed = Image.Exif()
    parsed.load(late)
    assert parsed[0x0112] == 6


def test_a_profile_of_another_colour_space_is_dropped(tmp_path: Path) -> None:
    Image.new("L", (5, 4)).save(tmp_path / "g.png", icc_profile=_srgb_profile(b"GRAY"))
    Image.new("RGB", (5, 4)).save(tmp_path / "c.png", icc_profile=_srgb_profile())
    with pytest.warns(UserWarning, match="GRAY colour profile is dropped"):
        assert read_image(tmp_path / "g.png").icc_profile is None
    assert read_image(tmp_path / "c.png").icc_profile == _srgb_profile()


def test_transparency_is_dropped_with_a_warning(tmp_path: Path) -> None:
    Image.new("P", (5, 4)).save(tmp_path / "p.png", transparency=0)
    Image.new("RGB", (5, 4)).save(tmp_path / "key.png", transparency=(0, 0, 0))  # colour key
    for name in ("p.png", "key.png"):
        with pytest.warns(UserWarning, match="transparency dropped"):
            assert read_image(tmp_path / name).pixels.shape == (4, 5, 3)


def test_tiffs_of_fewer_than_8_bits_go_through_pillow(tmp_path: Path) -> None:
    pytest.importorskip("tifffile")
    indices = np.arange(20, dtype=np.uint8).reshape(4, 5) % 16
    palette = Image.fromarray(indices, "P")
    palette.putpalette([v for i in range(16) for v in (i * 16, 0, 255 - i * 16)])
    palette.save(tmp_path / "pal4.tif", bits=4)
    expected = np.asarray(Image.open(tmp_path / "pal4.tif").convert("RGB"))
    assert np.array_equal(read_image(tmp_path / "pal4.tif").pixels, expected)


def test_a_name_with_noisy_in_it_leaves_no_other_photo_out(tmp_path: Path) -> None:
    for name in ("holiday.png", "beach.png", "ANNOYINGLY_NOISY_shot.png", "a_noisy.png"):
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    Image.new("RGB", (4, 4)).save(tmp_path / "a_CLEAN.png")
    with pytest.warns(UserWarning, match="1 clean reference"):
        names = [p.name for p in find_images([tmp_path])]
    assert names == ["ANNOYINGLY_NOISY_shot.png", "a_noisy.png", "beach.png", "holiday.png"]
    (tmp_path / "x.webp").write_bytes(b"")  # named directly: any format Pillow reads
    assert find_images([tmp_path / "x.webp"]) == [tmp_path / "x.webp"]


def test_clean_references_of_every_layout_are_left_out(tmp_path: Path) -> None:
    for name in ("noisy/a.png", "clean/a.png", "b_noisy.png", "b_clean.png", "b_clean.tif"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    with pytest.warns(UserWarning, match="3 clean reference"):
        found = find_images([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["b_noisy.png", "noisy/a.png"]


def test_pairs_of_any_case_and_two_images_of_one_name(tmp_path: Path) -> None:
    for name in ("a_NOISY.png", "a_clean.png"):
        Image.new("RGB", (4, 4)).save(tmp_path / name)
    assert [(i, n.name, c.name) for i, n, c in find_pairs(tmp_path)] == [
        ("a", "a_NOISY.png", "a_clean.png")
    ]
    Image.new("RGB", (4, 4)).save(tmp_path / "notes.png")  # unpaired names may repeat
    Image.new("RGB", (4, 4)).save(tmp_path / "notes.jpg")
    assert len(find_pairs(tmp_path)) == 1
    Image.new("RGB", (4, 4)).save(tmp_path / "a_clean.jpg")
    with pytest.raises(ImageError, match="a_clean.jpg and .*a_clean.png: two images of one name"):
        find_pairs(tmp_path)
