"""A TIFF's descriptive tags and EXIF carried across a rewrite, as one EXIF blob.

A photo's metadata travels through sassid as ``Photo.exif``: the EXIF blob that JPEG (APP1)
and PNG (eXIf) store, ``b"Exif\\0\\0"`` and a small TIFF structure of its own (byte order,
IFD0, and the EXIF and GPS IFDs that IFD0 points to). A TIFF holds the same tags in its own
IFD0, among those that describe its pixels, so:

- ``exif_from_tiff`` reads a TIFF's first IFD and keeps ``KEPT_TAGS`` (what the photo is, not
  how its pixels are stored: orientation, camera, date, resolution, XMP, IPTC, copyright) and
  the entries of its EXIF and GPS IFDs, as such a blob (raw values, the file's byte order);
- ``tiff_write_plan`` turns a blob (from a TIFF, a JPEG or a PNG) back into what
  ``tifffile.imwrite`` takes, and ``add_sub_ifds`` appends the EXIF and GPS IFDs to the file
  tifffile wrote (tifffile does not write those pointers itself: they are written under a
  placeholder code and patched, ``PLACEHOLDERS``).

Not kept: a MakerNote (its offsets are often relative to the original file, so a moved copy
would be corrupt), the Interoperability IFD and other pointers inside the EXIF and GPS IFDs,
BigTIFF's 8-byte types, entries of an unknown type, and a tag whose value lies past the end
of the file (the others are kept).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KEPT_TAGS",
    "exif_from_tiff",
    "tiff_write_plan",
    "add_sub_ifds",
    "TiffWritePlan",
    "parse_exif",
    "drop_non_ascii",
    "serialize",
    "EXIF_PREFIX",
    "ORIENTATION",
    "XMP",
    "IPTC",
]

EXIF_PREFIX = b"Exif\x00\x00"
EXIF_IFD, GPS_IFD = 34665, 34853
ORIENTATION, XMP, IPTC = 274, 700, 33723
SUB_IFDS = (EXIF_IFD, GPS_IFD)
KEPT_TAGS = {
    270: "ImageDescription",
    271: "Make",
    272: "Model",
    274: "Orientation",
    282: "XResolution",
    283: "YResolution",
    296: "ResolutionUnit",
    306: "DateTime",
    315: "Artist",
    700: "XMP",
    33432: "Copyright",
    33723: "IPTC",
}
"""IFD0 tags that describe the photo (its pixels' layout is the writer's own)."""
DROPPED_IN_SUB_IFDS = {37500: "MakerNote", 40965: "InteroperabilityIFD"}
PLACEHOLDERS = {EXIF_IFD: 34664, GPS_IFD: 34852}
"""Codes tifffile writes (it refuses the pointer tags), patched to the real ones afterwards;
each sorts where its real code does, so IFD0 stays in ascending order."""

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
"""Bytes per value of each classic TIFF field type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE,
UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE, IFD). BigTIFF's 8-byte types (16-18) have
no classic form and are not kept."""
_READ_SIZES = {**TYPE_SIZES, 16: 8, 17: 8, 18: 8}  # (BigTIFF's LONG8, SLONG8, IFD8: pointers)
_POINTER_FORMATS = {4: "I", 13: "I", 16: "Q", 18: "Q"}
_FORMATS = {1: "B", 3: "H", 4: "I", 5: "I", 6: "b", 8: "h", 9: "i", 10: "i", 11: "f", 12: "d"}
MAX_TAG_BYTES = 16 << 20
"""The most bytes read for one tag's value, and for all kept values together: a photo's
description is far smaller, and a crafted file's counts cannot make a read hold more."""


@dataclass(frozen=True)
class Entry:
    """One IFD entry: its code, field type, value count and raw value bytes (``order``)."""

    code: int
    type: int
    count: int
    value: bytes


@dataclass
class ExifTags:
    """A parsed blob: byte order (``<`` or ``>``), IFD0's entries, and each sub-IFD's."""

    order: str
    ifd0: list[Entry] = field(default_factory=list)
    sub_ifds: dict[int, list[Entry]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Layout:
    """Classic TIFF (2-byte entry count, 12-byte entries, 4-byte offsets) or BigTIFF (8, 20,
    8)."""

    order: str
    big: bool

    @property
    def offset_format(self) -> str:
        return "Q" if self.big else "I"


def _read_ifd(
    read: Callable[[int, int], bytes],
    offset: int,
    layout: _Layout,
    wanted: Callable[[int, int], bool],
    budget: list[int],
) -> list[Entry]:
    """The entries of the IFD at ``offset`` that ``wanted(code, type)``, of a classic type.

    Only wanted values are read, each at most ``MAX_TAG_BYTES`` and all of them at most
    ``budget[0]`` (which they use up); one whose value lies past the end of the data is
    skipped, not the IFD (a broken tag should not cost the photo its orientation).
    """
    order, big = layout.order, layout.big
    count_format, size = (order + "Q", 20) if big else (order + "H", 12)
    (count,) = struct.unpack(count_format, read(offset, 8 if big else 2))
    raw = read(offset + (8 if big else 2), size * count)
    if len(raw) < size * count:
        raise ValueError("IFD cut short")
    entry_format = order + ("HHQ8s" if big else "HHI4s")
    entries = []
    for i in range(count):
        code, kind, n, inline = struct.unpack(entry_format, raw[size * i : size * (i + 1)])
        nbytes = _READ_SIZES.get(kind, 0) * n
        if nbytes == 0 or nbytes > min(MAX_TAG_BYTES, budget[0]) or not wanted(code, kind):
            continue
        if nbytes <= len(inline):
            value = inline[:nbytes]
        else:
            value = read(struct.unpack(order + layout.offset_format, inline)[0], nbytes)
            if len(value) < nbytes:
                continue
        budget[0] -= nbytes
        entries.append(Entry(code, kind, n, value))
    return entries


def _pointer(entry: Entry, order: str) -> int | None:
    """The offset a sub-IFD pointer holds (LONG or IFD; LONG8 or IFD8 in a BigTIFF)."""
    if entry.type not in _POINTER_FORMATS or entry.count != 1:
        return None
    return int(struct.unpack(order + _POINTER_FORMATS[entry.type], entry.value)[0])


def _in_ifd0(code: int, kind: int) -> bool:
    if code in SUB_IFDS:
        return kind in _POINTER_FORMATS
    return code in KEPT_TAGS and kind in TYPE_SIZES and kind != 13


def _in_sub_ifd(code: int, kind: int) -> bool:
    # no pointers (they would dangle) and no 8-byte BigTIFF types (no classic form)
    return code not in DROPPED_IN_SUB_IFDS and kind in TYPE_SIZES and kind != 13


def _read_tags(read: Callable[[int, int], bytes]) -> ExifTags | None:
    """IFD0's kept tags and the EXIF/GPS IFDs of the TIFF structure ``read`` reads (classic
    or BigTIFF), or None where it is no TIFF."""
    header = read(0, 16)
    if len(header) < 8 or header[:2] not in (b"II", b"MM"):
        return None
    order = "<" if header[:2] == b"II" else ">"
    (magic,) = struct.unpack(order + "H", header[2:4])
    if magic == 42:
        layout, (first,) = _Layout(order, False), struct.unpack(order + "I", header[4:8])
    elif magic == 43 and len(header) == 16:
        layout, (first,) = _Layout(order, True), struct.unpack(order + "Q", header[8:16])
    else:
        return None
    tags, budget = ExifTags(order), [MAX_TAG_BYTES]
    for entry in _read_ifd(read, first, layout, _in_ifd0, budget):
        if entry.code == 270 and entry.value.startswith(b'{"shape":'):
            continue  # tifffile's own record of its array's shape, not a description
        if entry.code in KEPT_TAGS:
            tags.ifd0.append(entry)
        elif (offset := _pointer(entry, order)) is not None:
            kept = _read_ifd(read, offset, layout, _in_sub_ifd, budget)
            if kept:
                tags.sub_ifds[entry.code] = kept
    return tags


_XMP_ORIENTATION = (
    re.compile(rb'tiff:Orientation="[0-9]"'),
    re.compile(rb"<tiff:Orientation>[0-9]</tiff:Orientation>"),
)


def _xmp_upright(entry: Entry) -> Entry:
    """An XMP packet whose ``tiff:Orientation`` says 1 (as Pillow's ``exif_transpose`` leaves
    it): a reader that finds no Orientation tag would otherwise take the XMP's."""
    value = _XMP_ORIENTATION[0].sub(b'tiff:Orientation="1"', entry.value)
    value = _XMP_ORIENTATION[1].sub(b"<tiff:Orientation>1</tiff:Orientation>", value)
    return Entry(entry.code, entry.type, len(value), value)


def parse_exif(blob: bytes) -> ExifTags | None:
    """An EXIF blob (with or without its ``Exif\\0\\0`` prefix) parsed; None if it is not one."""
    data = blob.removeprefix(EXIF_PREFIX)
    try:
        return _read_tags(lambda offset, n: data[offset : offset + n])
    except (ValueError, struct.error):
        return None


def exif_from_tiff(path: str | os.PathLike[str], *, upright: bool = False) -> bytes | None:
    """The descriptive tags and EXIF/GPS IFDs of a TIFF file's first IFD as an EXIF blob;
    None where it has none (or is no TIFF). ``upright``: the pixels were read already
    turned by the Orientation tag (Pillow does that for TIFF), which is then not kept: the
    output would be turned twice."""
    with open(path, "rb") as f:

        def read(offset: int, n: int) -> bytes:
            f.seek(offset)
            return f.read(n)

        try:
            tags = _read_tags(read)
        except (ValueError, struct.error, OSError):
            return None
    if tags is not None and upright:
        tags.ifd0 = [
            _xmp_upright(e) if e.code == XMP and e.type in (1, 2, 7) else e
            for e in tags.ifd0
            if e.code != ORIENTATION
        ]
    if tags is None or not (tags.ifd0 or tags.sub_ifds):
        return None
    return EXIF_PREFIX + serialize(tags)


def _ifd_bytes(entries: Sequence[Entry], offset: int, order: str) -> bytes:
    """An IFD placed at ``offset`` (even): entries in ascending code order, values of more
    than 4 bytes after it (each at an even offset), next-IFD offset 0."""
    entries = sorted(entries, key=lambda e: e.code)
    head = struct.pack(order + "H", len(entries))
    data = b""
    data_start = offset + 2 + 12 * len(entries) + 4
    for e in entries:
        if len(e.value) <= 4:
            inline = e.value.ljust(4, b"\x00")
        else:
            inline = struct.pack(order + "I", data_start + len(data))
            data += e.value + b"\x00" * (len(e.value) % 2)
        head += struct.pack(order + "HHI", e.code, e.type, e.count) + inline
    return head + struct.pack(order + "I", 0) + data


def serialize(tags: ExifTags) -> bytes:
    """``tags`` as a TIFF structure (header, IFD0 pointing to the sub-IFDs, the sub-IFDs)."""
    order = tags.order
    header = (b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, 8)
    pointers = [Entry(code, 4, 1, b"\x00" * 4) for code in tags.sub_ifds]
    ifd0_size = len(_ifd_bytes([*tags.ifd0, *pointers], 8, order))
    offset = 8 + ifd0_size + ifd0_size % 2
    subs = b""
    for i, (code, entries) in enumerate(tags.sub_ifds.items()):
        pointers[i] = Entry(code, 4, 1, struct.pack(order + "I", offset + len(subs)))
        subs += _ifd_bytes(entries, offset + len(subs), order)
        subs += b"\x00" * (len(subs) % 2)
    ifd0 = _ifd_bytes([*tags.ifd0, *pointers], 8, order)
    return header + ifd0 + b"\x00" * (len(ifd0) % 2) + subs


def _values(entry: Entry, order: str) -> Any:
    """An entry's value as tifffile's ``extratags`` take it."""
    if entry.type in (2, 7):  # ASCII, UNDEFINED: the bytes
        return entry.value
    fmt = _FORMATS[entry.type]
    n = entry.count * (2 if entry.type in (5, 10) else 1)
    values = struct.unpack(order + fmt * n, entry.value)
    return values[0] if n == 1 else values


@dataclass
class TiffWritePlan:
    """What ``tifffile.imwrite`` takes to write a blob's tags, and the sub-IFDs to append."""

    byteorder: str
    options: dict[str, Any]
    sub_ifds: dict[int, list[Entry]]
    dropped: list[str] = field(default_factory=list)
    """Tags left out: text that is not 7-bit ASCII, which TIFF (and tifffile) require."""


def drop_non_ascii(tags: ExifTags) -> list[str]:
    """Remove IFD0's text tags that are not 7-bit ASCII, as TIFF requires (tifffile refuses
    them, Pillow writes ``?`` for each other byte); returns their names."""
    dropped = [e for e in tags.ifd0 if e.type == 2 and not e.value.isascii()]
    tags.ifd0 = [e for e in tags.ifd0 if e not in dropped]
    return [KEPT_TAGS[e.code] for e in dropped]


def _resolution(entry: Entry, order: str) -> tuple[int, int] | None:
    """An X/YResolution's first value as (numerator, denominator), if it is a positive one."""
    if entry.type not in (5, 10):
        return None
    num, den = _values(Entry(entry.code, entry.type, 1, entry.value[:8]), order)
    return (num, den) if num > 0 and den > 0 else None


def tiff_write_plan(blob: bytes | None) -> TiffWritePlan:
    """tifffile options for ``blob``'s kept IFD0 tags (resolution and description through
    tifffile's own parameters, which it would otherwise write itself), in its byte order."""
    tags = parse_exif(blob) if blob else None
    options: dict[str, Any] = {"metadata": None, "software": "sassid"}
    if tags is None:
        return TiffWritePlan("<", options, {})
    order = tags.order
    dropped = drop_non_ascii(tags)
    extratags: list[tuple[int, int, int, Any, bool]] = []
    resolution: dict[int, tuple[int, int]] = {}
    for e in tags.ifd0:
        if e.code in (282, 283):
            if (value := _resolution(e, order)) is not None:
                resolution[e.code] = value
        elif e.code == 296:
            if e.type == 3 and e.count == 1 and _values(e, order) in (1, 2, 3):
                options["resolutionunit"] = _values(e, order)
        elif e.code == 270 and e.type == 2:
            options["description"] = e.value.rstrip(b"\x00").decode("ascii")
        else:
            extratags.append((e.code, e.type, e.count, _values(e, order), True))
    if resolution:  # one of the two stands for both
        x = resolution.get(282, resolution.get(283))
        options["resolution"] = (x, resolution.get(283, x))
    for code in tags.sub_ifds:
        extratags.append((PLACEHOLDERS[code], 4, 1, 0, True))
    options["extratags"] = extratags
    return TiffWritePlan(order, options, dict(tags.sub_ifds), dropped)


def add_sub_ifds(tiff: bytes, plan: TiffWritePlan) -> bytes:
    """``tiff`` (as tifffile wrote it by ``plan``) with the plan's sub-IFDs appended and each
    placeholder entry in its IFD0 turned into the pointer to its sub-IFD."""
    if not plan.sub_ifds:
        return tiff
    order = plan.byteorder
    out = bytearray(tiff + b"\x00" * (len(tiff) % 2))
    (first,) = struct.unpack_from(order + "I", out, 4)
    (count,) = struct.unpack_from(order + "H", out, first)
    where = {}
    for i in range(count):
        at = first + 2 + 12 * i
        (code,) = struct.unpack_from(order + "H", out, at)
        where[code] = at
    for code, entries in plan.sub_ifds.items():
        at = where.get(PLACEHOLDERS[code])
        if at is None:
            raise ValueError(f"tifffile did not write the placeholder of tag {code}")
        struct.pack_into(order + "HHII", out, at, code, 4, 1, len(out))
        out += _ifd_bytes(entries, len(out), order)
        out += b"\x00" * (len(out) % 2)
    return bytes(out)
