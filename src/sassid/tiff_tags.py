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
would be corrupt), the Interoperability IFD, and anything of a BigTIFF (whose entries are
20 bytes; rare for photos). Entries of an unknown type are dropped.
"""

from __future__ import annotations

import os
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
]

EXIF_PREFIX = b"Exif\x00\x00"
EXIF_IFD, GPS_IFD = 34665, 34853
ORIENTATION = 274
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

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
"""Bytes per value of each TIFF 6.0 field type (BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE,
UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE)."""
_FORMATS = {1: "B", 3: "H", 4: "I", 5: "I", 6: "b", 8: "h", 9: "i", 10: "i", 11: "f", 12: "d"}
_MAX_VALUE_BYTES = 16 << 20  # a tag longer than this is not a photo's description


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


def _read_ifd(read: Callable[[int, int], bytes], offset: int, order: str) -> list[Entry]:
    """The entries of the classic-TIFF IFD at ``offset`` (unknown types skipped)."""
    (count,) = struct.unpack(order + "H", read(offset, 2))
    raw = read(offset + 2, 12 * count)
    if len(raw) < 12 * count:
        raise ValueError("IFD cut short")
    entries = []
    for i in range(count):
        code, kind, n, inline = struct.unpack(order + "HHI4s", raw[12 * i : 12 * i + 12])
        size = TYPE_SIZES.get(kind, 0) * n
        if size == 0 or size > _MAX_VALUE_BYTES:
            continue
        if size <= 4:
            value = inline[:size]
        else:
            value = read(struct.unpack(order + "I", inline)[0], size)
            if len(value) < size:
                raise ValueError(f"tag {code}'s value lies past the end of the file")
        entries.append(Entry(code, kind, n, value))
    return entries


def _pointer(entry: Entry, order: str) -> int | None:
    if entry.type not in (4, 13) or entry.count != 1:  # LONG or IFD
        return None
    return int(struct.unpack(order + "I", entry.value)[0])


def _read_tags(read: Callable[[int, int], bytes]) -> ExifTags | None:
    """IFD0's kept tags and the EXIF/GPS IFDs of the TIFF structure ``read`` reads, or None
    where it is not a classic TIFF."""
    header = read(0, 8)
    if len(header) < 8 or header[:2] not in (b"II", b"MM"):
        return None
    order = "<" if header[:2] == b"II" else ">"
    magic, first = struct.unpack(order + "HI", header[2:8])
    if magic != 42:  # 43: BigTIFF
        return None
    tags = ExifTags(order)
    for entry in _read_ifd(read, first, order):
        if entry.code == 270 and entry.value.startswith(b'{"shape":'):
            continue  # tifffile's own record of its array's shape, not a description
        if entry.code in KEPT_TAGS:
            tags.ifd0.append(entry)
        elif entry.code in SUB_IFDS and (offset := _pointer(entry, order)) is not None:
            kept = [e for e in _read_ifd(read, offset, order) if e.code not in DROPPED_IN_SUB_IFDS]
            if kept:
                tags.sub_ifds[entry.code] = kept
    return tags


def parse_exif(blob: bytes) -> ExifTags | None:
    """An EXIF blob (with or without its ``Exif\\0\\0`` prefix) parsed; None if it is not one."""
    data = blob.removeprefix(EXIF_PREFIX)
    try:
        return _read_tags(lambda offset, n: data[offset : offset + n])
    except (ValueError, struct.error):
        return None


def exif_from_tiff(path: str | os.PathLike[str], *, upright: bool = False) -> bytes | None:
    """The descriptive tags and EXIF/GPS IFDs of a TIFF file's first IFD as an EXIF blob;
    None where it has none (or is no classic TIFF). ``upright``: the pixels were read already
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
        tags.ifd0 = [e for e in tags.ifd0 if e.code != ORIENTATION]
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


def tiff_write_plan(blob: bytes | None) -> TiffWritePlan:
    """tifffile options for ``blob``'s kept IFD0 tags (resolution and description through
    tifffile's own parameters, which it would otherwise write itself), in its byte order."""
    tags = parse_exif(blob) if blob else None
    options: dict[str, Any] = {"metadata": None, "software": "sassid"}
    if tags is None:
        return TiffWritePlan("<", options, {})
    order = tags.order
    extratags: list[tuple[int, int, int, Any, bool]] = []
    resolution: dict[int, Any] = {}
    dropped = []
    for e in tags.ifd0:
        if e.type == 2 and not e.value.isascii():
            dropped.append(KEPT_TAGS[e.code])
        elif e.code in (282, 283) and e.type == 5 and e.count == 1:
            resolution[e.code] = _values(e, order)
        elif e.code == 296 and e.type == 3 and e.count == 1:
            options["resolutionunit"] = _values(e, order)
        elif e.code == 270 and e.type == 2:
            options["description"] = e.value.rstrip(b"\x00").decode("latin-1")
        elif e.code in KEPT_TAGS and e.code not in (282, 283, 296, 270):
            extratags.append((e.code, e.type, e.count, _values(e, order), True))
    if 282 in resolution and 283 in resolution:
        options["resolution"] = (resolution[282], resolution[283])
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
