"""Reading and writing photos: the only place where files become arrays and back.

Arrays are HWC RGB, ``uint8`` or ``uint16`` as stored. PNG and JPEG go through Pillow, 16-bit
RGB PNG through pypng (Pillow cannot hold it), grey and RGB TIFF through tifffile (extra
``sassid[tiff]``), other TIFF of up to 8 bits (CMYK, palette, LZW without ``imagecodecs``)
through Pillow.
Grey images are expanded to RGB; alpha, a colour profile that is not RGB's and the pages of a
TIFF after its first are dropped, each with a warning. Metadata travels as ``Photo.exif``: a
TIFF's descriptive tags and EXIF/GPS IFDs as an EXIF blob (``sassid.tiff_tags``), so that it
is kept from and into every format.
"""

from __future__ import annotations

import io
import os
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sassid.atomic import atomic_path, atomic_write_bytes
from sassid.errors import SassidError
from sassid.pixels import from_pixels, to_pixels
from sassid.tiff_tags import (
    EXIF_PREFIX,
    IPTC,
    ORIENTATION,
    XMP,
    add_sub_ifds,
    drop_non_ascii,
    exif_from_tiff,
    parse_exif,
    serialize,
    tiff_write_plan,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageError",
    "Photo",
    "read_image",
    "image_megapixels",
    "write_image",
    "find_images",
    "source_path",
    "list_images",
    "to_pixels",
    "from_pixels",
    "atomic_path",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


class ImageError(SassidError, ValueError):
    """An image file cannot be used; the message names the file and the problem."""


@dataclass
class Photo:
    """Pixels (H, W, 3) uint8/uint16 plus what a writer needs to keep (ICC profile, EXIF)."""

    pixels: np.ndarray
    path: Path | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None


def _to_rgb(pixels: np.ndarray, path: Path) -> np.ndarray:
    if pixels.ndim == 2:
        warnings.warn(f"{path}: grey image expanded to RGB", stacklevel=3)
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ImageError(f"{path}: unsupported array shape {pixels.shape}")
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ImageError(f"{path}: no pixels ({pixels.shape[1]} x {pixels.shape[0]})")
    if pixels.shape[2] in (2, 4):
        warnings.warn(f"{path}: alpha channel dropped", stacklevel=3)
        pixels = pixels[..., :-1]
    if pixels.shape[2] == 1:
        warnings.warn(f"{path}: grey image expanded to RGB", stacklevel=3)
        pixels = np.repeat(pixels, 3, axis=2)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageError(f"{path}: unsupported pixel type {pixels.dtype} (need 8 or 16 bit)")
    return np.ascontiguousarray(pixels)


def _read_png16(path: Path) -> np.ndarray:
    """Read a 16-bit PNG with pypng (grey or RGB, with or without alpha)."""
    import png

    reader = png.Reader(filename=str(path))
    width, height, rows, info = reader.asDirect()
    planes = info["planes"]
    data = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return data.reshape(height, width, planes) if planes > 1 else data.reshape(height, width)


def read_image(path: str | os.PathLike[str]) -> Photo:
    """Read a PNG, JPEG or TIFF photo as RGB ``uint8`` or ``uint16``.

    Raises:
        ImageError: missing, unreadable, truncated or unsupported file (one-line message).
    """
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: is a folder, not an image file")
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".tif", ".tiff"):
            tiff = _read_tiff(path)
            if tiff is not None:
                profile = _rgb_profile(tiff[1], path)
                return Photo(_to_rgb(tiff[0], path), path, profile, exif_from_tiff(path))
        from PIL import Image

        is_tiff = suffix in (".tif", ".tiff")
        # Pillow turns a TIFF upright by its Orientation tag as it loads it from memory (from
        # a file, not always): from memory, so that the tag is known to be used up.
        with Image.open(io.BytesIO(path.read_bytes()) if is_tiff else path) as im:
            orientation = im.tag_v2.get(ORIENTATION, 1) if is_tiff else 1
            stored = (im.tag_v2.get(256), im.tag_v2.get(257)) if is_tiff else None
            if suffix == ".png" and _png_bit_depth(path) == 16:
                # Pillow would decode 16-bit RGB to 8 bit; decode once with pypng instead.
                # (ICC and EXIF that a 16-bit PNG stores after its pixels are not seen.)
                icc, exif = im.info.get("icc_profile"), im.info.get("exif")
                return Photo(_to_rgb(_read_png16(path), path), path, _rgb_profile(icc, path), exif)
            im.load()  # a PNG's eXIf chunk may follow its pixels: read the info after them
            icc, exif = im.info.get("icc_profile"), im.info.get("exif")
            if im.mode == "PA" or ("transparency" in im.info and im.mode not in ("RGBA", "LA")):
                warnings.warn(f"{path}: transparency dropped", stacklevel=2)  # (alpha: below)
            if im.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "I;16B"):
                im = im.convert("RGB")
            pixels = np.asarray(im)
            if is_tiff:
                exif = exif_from_tiff(path, upright=_turned(pixels, stored, orientation))
        return Photo(_to_rgb(pixels, path), path, _rgb_profile(icc, path), exif)
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - decoders raise many types; all mean "bad file"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ImageError(f"{path}: cannot read image ({reason})") from None


def image_megapixels(path: str | os.PathLike[str]) -> float | None:
    """Width x height / 1e6 from the file's header, without decoding the pixels; None where
    the header cannot be read (``read_image`` then reports why)."""
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            try:
                import tifffile
            except ImportError:
                pass
            else:
                with tifffile.TiffFile(path) as tif:
                    page = tif.pages[0]
                    return int(page.imagewidth) * int(page.imagelength) / 1e6
        from PIL import Image

        with Image.open(path) as im:
            return im.width * im.height / 1e6
    except Exception:  # noqa: BLE001 - any unreadable header means "unknown"
        return None


def check_pixel_count(path: Path, width: int, height: int) -> None:
    """Refuse a decompression bomb before decoding it, with Pillow's own limit for every format
    (``PIL.Image.MAX_IMAGE_PIXELS``; Pillow refuses above twice that)."""
    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    if limit and width * height > 2 * limit:
        raise ImageError(
            f"{path}: {width}x{height} pixels exceeds the limit of {2 * limit} "
            "(PIL.Image.MAX_IMAGE_PIXELS x 2); a possible decompression bomb"
        )


_TIFF_ICC_TAG = 34675  # InterColorProfile


def _turned(pixels: np.ndarray, stored: tuple[object, object] | None, orientation: int) -> bool:
    """Whether Pillow applied a TIFF's ``orientation`` to ``pixels`` (``stored``: its width and
    height as stored). A quarter turn (5-8) shows in the shape; a flip (2-4) does not, and
    Pillow applies those as it does turns when it reads from memory."""
    width, height = stored or (None, None)
    if orientation in (5, 6, 7, 8) and width != height:
        return pixels.shape[0] == width
    return orientation != 1


def _read_tiff(path: Path) -> tuple[np.ndarray, bytes | None] | None:
    """The first page of a grey or RGB TIFF through tifffile (any depth), with its ICC profile.

    None hands the file to Pillow: tifffile is not installed, or a file of 8 bits or fewer that
    tifffile would misread (it returns the stored samples and ignores their meaning: CMYK,
    palette indices, inverted grey) or cannot decode without ``imagecodecs`` (LZW, JPEG).
    Deeper files of those kinds are refused rather than read at 8 bit. The size in the header
    is checked before the pixels are decoded.
    """
    try:
        import tifffile
    except ImportError:
        return None
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        check_pixel_count(path, int(page.imagewidth), int(page.imagelength))
        bits = int(page.bitspersample)
        photometric = tifffile.PHOTOMETRIC(page.photometric)
        if photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB):
            if bits <= 8:
                return None
            raise ImageError(
                f"{path}: {bits}-bit {photometric.name} TIFF is not supported "
                "(save it as RGB or grey)"
            )
        try:
            pixels = np.asarray(tif.asarray(key=0))
        except Exception as exc:  # noqa: BLE001 - tifffile names the codec it lacks
            if "imagecodecs" not in str(exc):
                raise
            if bits <= 8:
                return None
            raise ImageError(
                f"{path}: its {tifffile.COMPRESSION(page.compression).name} compression needs "
                "the imagecodecs package (pip install imagecodecs)"
            ) from None
        if page.axes.startswith("S"):  # planar: one plane per channel
            pixels = np.moveaxis(pixels, 0, -1)
        if len(tif.pages) > 1:
            warnings.warn(
                f"{path}: only the first of its {len(tif.pages)} pages is used", stacklevel=3
            )
        tag = page.tags.get(_TIFF_ICC_TAG)  # (its other tags: sassid.tiff_tags)
        return pixels, bytes(tag.value) if tag is not None else None


def _rgb_profile(icc: bytes | None, path: Path) -> bytes | None:
    """``icc``, unless it is an ICC profile of another colour space than RGB: a CMYK or grey
    profile would be invalid on the RGB output, so it is dropped with a warning (an ICC header
    has ``acsp`` at bytes 36-39 and names its colour space at bytes 16-19)."""
    if icc is None or len(icc) < 128 or icc[36:40] != b"acsp" or icc[16:20] == b"RGB ":
        return icc
    space = icc[16:20].decode("ascii", "replace").strip()
    warnings.warn(f"{path}: its {space} colour profile is dropped (output is RGB)", stacklevel=3)
    return None


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as f:
        header = f.read(25)
    return header[24] if len(header) == 25 else 8


def write_image(
    path: str | os.PathLike[str], photo: Photo | np.ndarray, jpeg_quality: int = 95
) -> None:
    """Write RGB pixels keeping their bit depth; ICC profile and EXIF are kept where given.

    8-bit PNG/JPEG via Pillow, 16-bit PNG via pypng (ICC and EXIF added as chunks), TIFF via
    tifffile (ICC, and EXIF as the TIFF's own tags: ``sassid.tiff_tags``; without tifffile,
    8-bit TIFF via Pillow, which keeps IFD0's tags but not the EXIF and GPS IFDs, with a
    warning). JPEG is 8 bit only: 16-bit pixels are rounded to 8 bit there. Written
    atomically (see ``sassid.atomic``).

    Raises:
        ImageError: unsupported suffix or pixel array; OutputError: the file cannot be written.
    """
    if isinstance(photo, np.ndarray):
        photo = Photo(photo)
    path = Path(path)
    pixels = photo.pixels
    suffix = path.suffix.lower()
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype not in (np.uint8, np.uint16):
        raise ImageError(
            f"{path}: need (H, W, 3) uint8 or uint16 pixels, got {pixels.shape} {pixels.dtype}"
        )
    if suffix not in IMAGE_SUFFIXES:
        raise ImageError(f"{path}: unsupported output format (use {', '.join(IMAGE_SUFFIXES)})")
    # Encoded in memory, then written with a size check: encoders that write to a file
    # themselves can miss a short write (a full disk, a file-size limit) and leave a cut file.
    buffer = io.BytesIO()
    if pixels.dtype == np.uint16 and suffix == ".png":
        buffer.write(_png16_bytes(pixels, photo.icc_profile, photo.exif))
    elif suffix in (".tif", ".tiff") and (pixels.dtype == np.uint16 or _has_tifffile()):
        import tifffile

        def tiff_bytes(exif: bytes | None) -> bytes:
            plan, out = tiff_write_plan(exif), io.BytesIO()
            _warn_non_ascii(path, plan.dropped, stacklevel=4)
            tifffile.imwrite(
                out,
                pixels,
                photometric="rgb",
                iccprofile=photo.icc_profile,
                byteorder=">" if plan.byteorder == ">" else "<",
                **plan.options,
            )
            return add_sub_ifds(out.getvalue(), plan)

        try:
            buffer.write(tiff_bytes(photo.exif))
        except Exception as exc:  # noqa: BLE001 - a malformed tag from the source photo
            if not photo.exif:
                raise
            warnings.warn(f"{path}: its EXIF tags could not be written ({exc})", stacklevel=2)
            buffer = io.BytesIO(tiff_bytes(None))
    else:
        if pixels.dtype == np.uint16:
            pixels = np.round(pixels / 257.0).astype(np.uint8)
        from PIL import Image

        im = Image.fromarray(pixels, "RGB")
        options: dict[str, object] = {}
        if photo.icc_profile:
            options["icc_profile"] = photo.icc_profile
        if photo.exif and suffix in (".jpg", ".jpeg"):
            exif = fit_jpeg_exif(photo.exif, path)
            if exif:
                options["exif"] = exif
        elif photo.exif and suffix == ".png":
            options["exif"] = photo.exif
        elif photo.exif and (tags := parse_exif(photo.exif)) is not None:  # TIFF, by Pillow
            _warn_non_ascii(path, drop_non_ascii(tags), stacklevel=3)
            if tags.sub_ifds:
                warnings.warn(
                    f"{path}: EXIF camera and GPS tags not written (a TIFF needs tifffile "
                    "for them: pip install 'sassid[tiff]')",
                    stacklevel=2,
                )
            tags.sub_ifds = {}
            options["exif"] = serialize(tags)
        fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
        if fmt[suffix] == "JPEG":
            options.update(quality=jpeg_quality, subsampling=0)
        im.save(buffer, format=fmt[suffix], **options)
    atomic_write_bytes(path, buffer.getvalue())


JPEG_MAX_EXIF = 65533
"""A JPEG holds EXIF in one APP1 marker: 65535 bytes less its length field (Pillow's limit)."""


def fit_jpeg_exif(exif: bytes, path: Path) -> bytes | None:
    """``exif`` if it fits a JPEG; else without its XMP and IPTC tags (a TIFF's may be large)
    if that fits; else None. Each loss is a warning naming ``path``."""
    if len(exif) <= JPEG_MAX_EXIF:
        return exif
    tags = parse_exif(exif)
    if tags is not None:
        tags.ifd0 = [e for e in tags.ifd0 if e.code not in (XMP, IPTC)]
        smaller = EXIF_PREFIX + serialize(tags)
        if len(smaller) <= JPEG_MAX_EXIF:
            warnings.warn(f"{path}: XMP and IPTC do not fit a JPEG's EXIF, dropped", stacklevel=3)
            return smaller
    warnings.warn(f"{path}: EXIF of {len(exif)} bytes does not fit a JPEG, dropped", stacklevel=3)
    return None


def _warn_non_ascii(path: Path, names: list[str], stacklevel: int) -> None:
    """One warning per TIFF text tag dropped for not being 7-bit ASCII (``drop_non_ascii``),
    ``stacklevel`` frames up: ``write_image``'s caller."""
    for name in names:
        warnings.warn(f"{path}: its {name} tag is not 7-bit ASCII, dropped", stacklevel=stacklevel)


def _has_tifffile() -> bool:
    try:
        import tifffile  # noqa: F401
    except ImportError:
        return False
    return True


def _png16_bytes(pixels: np.ndarray, icc: bytes | None, exif: bytes | None) -> bytes:
    """A 16-bit RGB PNG by pypng, with the ICC profile (``iCCP``, after ``IHDR``) and EXIF
    (``eXIf``, before the pixels) that pypng's writer itself cannot store."""
    import png

    h, w, _ = pixels.shape
    plain = io.BytesIO()
    png.Writer(w, h, greyscale=False, bitdepth=16).write(plain, pixels.reshape(h, w * 3).tolist())
    chunks = list(png.Reader(bytes=plain.getvalue()).chunks())
    extra = []
    if icc:
        extra.append((b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if exif:
        extra.append((b"eXIf", exif.removeprefix(b"Exif\x00\x00")))
    out = io.BytesIO()
    png.write_chunks(out, [chunks[0], *extra, *chunks[1:]])
    return out.getvalue()


def _is_image(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


def _clean_partners(files: list[Path]) -> set[Path]:
    """The clean references among ``files``: ``<id>_clean.*`` beside an ``<id>_noisy.*``,
    SIDD's ``*GT*`` beside its ``*NOISY*`` (any case in the suffix), and ``clean/<name>.*``
    beside ``noisy/<name>.*``. Only a file whose noisy partner is there counts, so a photo
    that merely has "noisy" in its name leaves no other photo out."""
    by_stem: dict[tuple[Path, str], list[Path]] = {}
    for path in files:
        by_stem.setdefault((path.parent, path.stem.lower()), []).append(path)
    partners: set[Path] = set()
    for path in files:
        stem = path.stem.lower()
        keys = [(path.parent, stem[: -len("noisy")] + "clean")] if stem.endswith("_noisy") else []
        if "NOISY" in path.stem:
            keys.append((path.parent, path.stem.replace("NOISY", "GT").lower()))
        if path.parent.name == "noisy":
            keys.append((path.parent.with_name("clean"), stem))
        for key in keys:
            partners.update(by_stem.get(key, []))
    return partners


def list_images(folder: Path) -> list[Path]:
    """Every image file under ``folder`` (recursively, hidden files skipped), sorted."""
    return sorted(p for p in folder.rglob("*") if _is_image(p))


def source_path(source: str | os.PathLike[str]) -> Path:
    """``source`` as a Path, refusing the empty string: ``Path("")`` is the current folder, so
    an unset shell variable (``sassid denoise "$PHOTO"``) would otherwise take in every photo
    below it.

    Raises:
        ImageError: ``source`` is empty.
    """
    if not os.fspath(source):
        raise ImageError(
            "an input path is empty (an unset shell variable?); name the current folder as ."
        )
    return Path(source)


def find_images(sources: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Image files named by ``sources`` (files, or folders searched recursively), sorted.

    In a folder, the clean references of noisy/clean pairs (``<id>_clean.*`` beside
    ``<id>_noisy.*``, SIDD's ``*GT*`` beside ``*NOISY*``, ``clean/`` beside ``noisy/``) are
    left out, with a warning that counts them, so they are never trained on; every other image
    is kept.

    Raises:
        ImageError: a source that is empty or does not exist.
    """
    found: list[Path] = []
    for source in sources:
        path = source_path(source)
        if path.is_dir():
            files = list_images(path)
            partners = _clean_partners(files)
            if partners:
                warnings.warn(
                    f"{path}: {len(partners)} clean reference(s) of noisy/clean pairs left out",
                    stacklevel=2,
                )
            found.extend(p for p in files if p not in partners)
        elif path.is_file():  # any format Pillow reads; read_image says what it cannot
            found.append(path)
        else:
            raise ImageError(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


def _by_stem(folder: Path) -> dict[str, list[Path]]:
    """The images in ``folder`` by lower-case stem (``a.png`` and ``a.jpg`` share one)."""
    files: dict[str, list[Path]] = {}
    for path in sorted(p for p in folder.iterdir() if _is_image(p)):
        files.setdefault(path.stem.lower(), []).append(path)
    return files


def _one(paths: list[Path]) -> Path:
    """The one file of a paired name; two (``a_clean.png`` and ``a_clean.jpg``) are refused,
    since either could be the one meant."""
    if len(paths) > 1:
        raise ImageError(f"{paths[0]} and {paths[1]}: two images of one name; keep one")
    return paths[0]


def find_pairs(folder: str | os.PathLike[str]) -> list[tuple[str, Path, Path]]:
    """Noisy/clean pairs in ``folder``: ``<id>_noisy.*`` + ``<id>_clean.*``, or the same names
    in ``noisy/`` and ``clean/``. Returns (id, noisy path, clean path), sorted by id.

    Raises:
        ImageError: an empty path, no such folder, no pairs, a noisy file without its clean
            partner, or two images of one name (``a_clean.png`` and ``a_clean.jpg``).
    """
    folder = source_path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}")
    pairs: list[tuple[str, Path, Path]] = []
    if (folder / "noisy").is_dir() and (folder / "clean").is_dir():
        clean = _by_stem(folder / "clean")
        for stem, noisy_files in sorted(_by_stem(folder / "noisy").items()):
            noisy = _one(noisy_files)
            if stem not in clean:
                raise ImageError(f"{noisy}: no clean image of the same name in {folder / 'clean'}")
            pairs.append((noisy.stem, noisy, _one(clean[stem])))
    else:
        files = _by_stem(folder)
        for stem, noisy_files in sorted(files.items()):
            if stem.endswith("_noisy"):
                noisy = _one(noisy_files)
                ident = noisy.stem[: -len("_noisy")]
                partner = files.get(stem[: -len("noisy")] + "clean")
                if partner is None:
                    raise ImageError(f"{noisy}: no {ident}_clean.* (any case) beside it")
                pairs.append((ident, noisy, _one(partner)))
    if not pairs:
        raise ImageError(f"{folder}: no noisy/clean pairs (<id>_noisy.* + <id>_clean.*)")
    return pairs
