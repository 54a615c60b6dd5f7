"""A TIFF's descriptive tags and EXIF survive a rewrite (sassid.tiff_tags, through sassid.io):
camera, date, orientation, resolution, the EXIF and GPS IFDs; between TIFF, JPEG and PNG; in
either byte order; never turned twice; never a traceback for a damaged tag."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from sassid.io import Photo, read_image, write_image
from sassid.tiff_tags import EXIF_PREFIX, Entry, ExifTags, parse_exif, serialize

tifffile = pytest.importorskip("tifffile")

EXIF_IFD, GPS_IFD = 0x8769, 0x8825


def _camera_exif() -> bytes:
    """The EXIF a camera JPEG carries: IFD0 tags, an EXIF IFD with a MakerNote, a GPS IFD."""
    exif = Image.Exif()
    exif[274] = 6  # Orientation: stored turned
    exif[271], exif[272], exif[33432] = "Canon", "EOS R5", "(c) someone"
    exif[282], exif[283], exif[296] = IFDRational(300, 1), IFDRational(300, 1), 2
    sub = exif.get_ifd(EXIF_IFD)
    sub[0x9003] = "2024:01:02 03:04:05"  # DateTimeOriginal
    sub[0x829A] = IFDRational(1, 250)  # ExposureTime
    sub[0x8827] = 800  # ISO
    sub[0x927C] = b"maker-specific offsets"  # MakerNote: not carried
    exif.get_ifd(GPS_IFD)[1] = "N"
    exif.get_ifd(GPS_IFD)[2] = (IFDRational(52, 1), IFDRational(31, 1), IFDRational(1, 2))
    return exif.tobytes()


def _tags(path: Path) -> tuple[dict[int, object], dict[int, object], dict[int, object]]:
    with Image.open(path) as im:
        exif = im.getexif()
        return dict(exif), dict(exif.get_ifd(EXIF_IFD)), dict(exif.get_ifd(GPS_IFD))


def _check_camera_tags(path: Path, orientation: int | None = 6) -> None:
    ifd0, sub, gps = _tags(path)
    assert ifd0.get(274) == orientation
    assert (ifd0[271], ifd0[272], ifd0[33432]) == ("Canon", "EOS R5", "(c) someone")
    assert (float(ifd0[282]), float(ifd0[283]), ifd0[296]) == (300.0, 300.0, 2)
    assert sub[0x9003] == "2024:01:02 03:04:05" and sub[0x8827] == 800
    assert float(sub[0x829A]) == pytest.approx(1 / 250) and 0x927C not in sub
    assert gps[1] == "N" and [float(v) for v in gps[2]] == [52.0, 31.0, 0.5]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_camera_exif_goes_into_a_tiff_and_comes_back_out(tmp_path: Path, dtype: type) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (16, 24, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "shot.jpg", exif=_camera_exif(), quality=95)
    shot = read_image(tmp_path / "shot.jpg")
    bits = shot.pixels.astype(dtype) * (257 if dtype == np.uint16 else 1)
    write_image(tmp_path / "out.tif", Photo(bits, exif=shot.exif))
    _check_camera_tags(tmp_path / "out.tif")
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:  # a valid TIFF to another reader too
        assert np.array_equal(tif.asarray(), bits)
        assert tif.pages[0].tags["ExifTag"].value["ISOSpeedRatings"] == 800
        assert tif.pages[0].tags["Software"].value == "sassid"
    again = read_image(tmp_path / "out.tif")  # TIFF -> TIFF, TIFF -> JPEG and PNG
    assert again.pixels.shape == (16, 24, 3)  # not turned: the tag still says how to show it
    write_image(tmp_path / "again.tif", again)
    _check_camera_tags(tmp_path / "again.tif")
    eight = Photo((again.pixels // (257 if dtype == np.uint16 else 1)).astype(np.uint8))
    for suffix in (".jpg", ".png"):
        write_image(tmp_path / f"out{suffix}", Photo(eight.pixels, exif=again.exif))
        _check_camera_tags(tmp_path / f"out{suffix}")


def test_big_endian_tiff_keeps_its_byte_order_and_tags(tmp_path: Path) -> None:
    pixels = np.arange(4 * 6 * 3, dtype=np.uint16).reshape(4, 6, 3) * 300
    tags = [
        (274, 3, 1, 8, True),
        (271, 2, 0, "Nikon", True),
        (306, 2, 0, "2020:02:02 02:02:02", True),
    ]
    tifffile.imwrite(tmp_path / "be.tif", pixels, photometric="rgb", byteorder=">", extratags=tags)
    write_image(tmp_path / "out.tif", read_image(tmp_path / "be.tif"))
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        page = tif.pages[0]
        assert tif.byteorder == ">" and np.array_equal(tif.asarray(), pixels)
        assert (page.tags[274].value, page.tags[271].value) == (8, "Nikon")
        assert page.tags[306].value == "2020:02:02 02:02:02"


@pytest.mark.parametrize(
    ("orientation", "shape", "corner"), [(6, (6, 4), (0, 3)), (3, (4, 6), (3, 5))]
)
def test_a_tiff_pillow_turned_upright_is_not_turned_again(
    tmp_path: Path, orientation: int, shape: tuple[int, int], corner: tuple[int, int]
) -> None:
    """CMYK TIFFs are read by Pillow, which applies the Orientation tag to the pixels: the
    output then holds the upright pixels and no Orientation, or a viewer would turn it twice."""
    cmyk = np.zeros((4, 6, 4), np.uint8)
    cmyk[0, 0, 3] = 255  # the stored top-left pixel black
    tags = [(274, 3, 1, orientation, True), (271, 2, 0, "Scanner", True)]
    tifffile.imwrite(tmp_path / "c.tif", cmyk, photometric="separated", extratags=tags)
    photo = read_image(tmp_path / "c.tif")
    assert photo.pixels.shape[:2] == shape  # turned by Pillow ...
    assert tuple(np.argwhere(photo.pixels[..., 0] == 0)[0]) == corner  # ... and where to
    kept = parse_exif(photo.exif or b"")
    assert kept is not None and 271 in [e.code for e in kept.ifd0]
    assert 274 not in [e.code for e in kept.ifd0] and 270 not in [e.code for e in kept.ifd0]
    write_image(tmp_path / "out.tif", photo)
    ifd0, _, _ = _tags(tmp_path / "out.tif")
    assert 274 not in ifd0 and ifd0[271] == "Scanner"


def test_without_tifffile_an_8_bit_tiff_keeps_ifd0_and_says_what_it_drops(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    import sassid.io

    monkeypatch.setattr(sassid.io, "_has_tifffile", lambda: False)
    pixels = np.zeros((4, 6, 3), np.uint8)
    with pytest.warns(UserWarning, match=r"out.tif: EXIF camera and GPS tags not written"):
        write_image(tmp_path / "out.tif", Photo(pixels, exif=_camera_exif()))
    ifd0, sub, _ = _tags(tmp_path / "out.tif")
    assert (ifd0[271], ifd0.get(274)) == ("Canon", 6) and not sub


def _blob(*entries: Entry, order: str = "<", sub: dict[int, list[Entry]] | None = None) -> bytes:
    return EXIF_PREFIX + serialize(ExifTags(order, list(entries), sub or {}))


def test_damaged_tags_never_raise_and_a_bad_tag_never_loses_the_photo(tmp_path: Path) -> None:
    good = _camera_exif()
    rng = np.random.default_rng(0)
    for _ in range(300):  # every byte position, random values: parsed or None, never raised
        damaged = bytearray(good)
        for at in rng.integers(len(EXIF_PREFIX), len(good), 3):
            damaged[at] = int(rng.integers(0, 256))
        parse_exif(bytes(damaged))
    for cut in range(0, len(good), 7):
        parse_exif(good[:cut])
    assert parse_exif(b"not exif at all") is None
    assert parse_exif(EXIF_PREFIX + b"II+\x00\x08\x00\x00\x00") is None  # BigTIFF: not read
    # text that is not 7-bit ASCII: that tag is dropped, by name; the others are kept
    odd = _blob(Entry(270, 2, 6, "café".encode() + b"\x00"), Entry(271, 2, 6, b"Canon\x00"))
    pixels = np.full((4, 6, 3), 9, np.uint16)
    with pytest.warns(UserWarning, match=r"odd.tif: its ImageDescription tag is not 7-bit ASCII"):
        write_image(tmp_path / "odd.tif", Photo(pixels, exif=odd))
    ifd0, _, _ = _tags(tmp_path / "odd.tif")
    assert ifd0[271] == "Canon" and 270 not in ifd0


def test_tags_tifffile_refuses_leave_the_photo_written_without_them(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    import sassid.io
    from sassid.tiff_tags import tiff_write_plan

    def refused(blob: bytes | None):  # noqa: ANN202
        plan = tiff_write_plan(blob)
        if blob:
            plan.options["extratags"] = [(271, 99, 1, 0, True)]  # no such TIFF type
        return plan

    monkeypatch.setattr(sassid.io, "tiff_write_plan", refused)
    pixels = np.full((4, 6, 3), 9, np.uint16)
    with pytest.warns(UserWarning, match=r"out.tif: its EXIF tags could not be written"):
        write_image(tmp_path / "out.tif", Photo(pixels, exif=_camera_exif()))
    assert np.array_equal(read_image(tmp_path / "out.tif").pixels, pixels)


def test_serialized_blob_is_a_valid_tiff_structure() -> None:
    """Values over 4 bytes land after their IFD at even offsets; Pillow reads them back."""
    make = Entry(271, 2, 8, b"Olympus\x00")
    xres = Entry(282, 5, 1, struct.pack("<II", 72, 1))
    iso = Entry(0x8827, 3, 1, struct.pack("<H", 200))
    blob = _blob(make, xres, sub={0x8769: [iso]})
    exif = Image.Exif()
    exif.load(blob)
    assert exif[271] == "Olympus" and float(exif[282]) == 72.0
    assert exif.get_ifd(EXIF_IFD)[0x8827] == 200
    parsed = parse_exif(blob)
    assert parsed is not None and parsed.ifd0 == [make, xres] and parsed.sub_ifds == {0x8769: [iso]}


def test_a_large_xmp_leaves_a_jpeg_its_exif(tmp_path: Path) -> None:
    """A TIFF's XMP can pass the 64 KB a JPEG's EXIF marker holds: it is dropped, by name, and
    the camera tags are kept; an EXIF too large without it is dropped whole, also by name."""
    xmp = Entry(700, 1, 70_000, b"x" * 70_000)
    make = Entry(271, 2, 6, b"Canon\x00")
    pixels = np.zeros((4, 6, 3), np.uint8)
    with pytest.warns(UserWarning, match=r"big.jpg: XMP and IPTC do not fit a JPEG's EXIF"):
        write_image(tmp_path / "big.jpg", Photo(pixels, exif=_blob(make, xmp)))
    assert _tags(tmp_path / "big.jpg")[0][271] == "Canon"
    huge = Entry(271, 2, 70_000, b"C" * 69_999 + b"\x00")
    with pytest.warns(UserWarning, match=r"huge.jpg: EXIF of \d+ bytes does not fit a JPEG"):
        write_image(tmp_path / "huge.jpg", Photo(pixels, exif=_blob(huge)))
    assert read_image(tmp_path / "huge.jpg").exif is None


def _patch_entry(path: Path, code: int, kind: int, count: int, **new: int) -> None:
    """Rewrite one little-endian IFD entry's type (``type``) or value offset (``offset``)."""
    data = bytearray(path.read_bytes())
    at = data.find(struct.pack("<HHI", code, kind, count))
    assert at >= 0, f"no entry {code} of type {kind}"
    if "type" in new:
        struct.pack_into("<H", data, at + 2, new["type"])
    if "offset" in new:
        struct.pack_into("<I", data, at + 8, new["offset"])
    path.write_bytes(bytes(data))


def test_one_broken_tag_costs_only_itself(tmp_path: Path) -> None:
    """A private tag whose value lies past the end of the file: the Orientation is kept."""
    path = tmp_path / "broken.tif"
    tags = [(274, 3, 1, 6, True), (50000, 7, 16, b"y" * 16, True)]
    tifffile.imwrite(path, np.zeros((4, 6, 3), np.uint8), photometric="rgb", extratags=tags)
    _patch_entry(path, 50000, 7, 16, offset=10**6)
    write_image(tmp_path / "out.tif", read_image(path))
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.pages[0].tags[274].value == 6


def test_bigtiff_and_ifd_typed_pointers_are_read(tmp_path: Path) -> None:
    tags = [(274, 3, 1, 6, True), (271, 2, 0, "Canon", True)]
    pixels = np.zeros((4, 6, 3), np.uint8)
    tifffile.imwrite(tmp_path / "big.tif", pixels, photometric="rgb", bigtiff=True, extratags=tags)
    kept = parse_exif(read_image(tmp_path / "big.tif").exif or b"")
    assert kept is not None and {e.code for e in kept.ifd0} >= {271, 274}
    exif = Image.Exif()
    exif[271] = "Canon"
    exif.get_ifd(EXIF_IFD)[0x9003] = "2024:01:02 03:04:05"
    Image.fromarray(pixels).save(tmp_path / "ifd.tif", exif=exif.tobytes())
    _patch_entry(tmp_path / "ifd.tif", 34665, 4, 1, type=13)  # the pointer typed IFD
    kept = parse_exif(read_image(tmp_path / "ifd.tif").exif or b"")
    assert kept is not None and [e.code for e in kept.sub_ifds[EXIF_IFD]] == [0x9003]


def test_the_xmp_orientation_of_a_tiff_turned_upright_says_1(tmp_path: Path) -> None:
    """Pillow turns a CMYK TIFF by tag 274 and sassid drops the tag; Pillow reads an XMP's
    ``tiff:Orientation`` where the tag is missing, so the XMP must not say 6 any more."""
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
        b'tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>'
    )
    cmyk = Image.fromarray(np.zeros((4, 6, 3), np.uint8)).convert("CMYK")
    cmyk.save(tmp_path / "c.tif", tiffinfo={274: 6, 700: xmp})
    photo = read_image(tmp_path / "c.tif")
    assert photo.pixels.shape[:2] == (6, 4)
    write_image(tmp_path / "out.tif", photo)
    with Image.open(tmp_path / "out.tif") as im:
        im.load()
        assert im.size == (4, 6)  # shown as read: 4 wide, 6 high
        assert b'tiff:Orientation="1"' in im.info["xmp"]


def test_crafted_counts_cannot_make_a_read_hold_more_than_its_cap(monkeypatch) -> None:  # noqa: ANN001
    import sassid.tiff_tags

    monkeypatch.setattr(sassid.tiff_tags, "MAX_TAG_BYTES", 1000)
    region = b"x" * 800
    entries = [Entry(700, 1, 800, region)] + [Entry(33723, 7, 800, region)]
    kept = parse_exif(_blob(*entries, Entry(271, 2, 6, b"Canon\x00")))
    assert kept is not None and sum(len(e.value) for e in kept.ifd0) <= 1000
    assert [e.code for e in kept.ifd0] == [271, 700]  # (read in code order, until the cap)


def test_an_image_without_pixels_is_refused_by_name(tmp_path: Path) -> None:
    from sassid.io import ImageError

    tifffile.imwrite(tmp_path / "empty.tif", np.zeros((4, 6, 3), np.uint8), photometric="rgb")
    _patch_entry(tmp_path / "empty.tif", 256, 4, 1, offset=0)  # ImageWidth 0
    with pytest.raises(ImageError, match=r"empty.tif: no pixels"):
        read_image(tmp_path / "empty.tif")
