"""Reading and writing photos: the only place where files become arrays and back.

Arrays are HWC RGB, ``uint8`` or ``uint16`` as stored. PNG and JPEG go through Pillow, 16-bit
RGB PNG through pypng (Pillow cannot hold it), TIFF through tifffile (extra ``sassid[tiff]``) or
Pillow for 8-bit. Grey images are expanded to RGB and alpha is dropped, with a warning.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sassid.atomic import atomic_path, atomic_write_bytes
from sassid.errors import SassidError
from sassid.pixels import from_pixels, to_pixels

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
            tiff_pixels = _read_tiff(path)
            if tiff_pixels is not None:
                return Photo(_to_rgb(tiff_pixels, path), path)
        from PIL import Image

        with Image.open(path) as im:
            icc = im.info.get("icc_profile")
            exif = im.info.get("exif")
            if suffix == ".png" and _png_bit_depth(path) == 16:
                # Pillow would decode 16-bit RGB to 8 bit; decode once with pypng instead.
                return Photo(_to_rgb(_read_png16(path), path), path, icc, exif)
            im.load()
            if im.mode not in ("RGB", "RGBA", "L", "LA", "I;16", "I;16B"):
                im = im.convert("RGB")
            pixels = np.asarray(im)
        return Photo(_to_rgb(pixels, path), path, icc, exif)
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


def _read_tiff(path: Path) -> np.ndarray | None:
    """TIFF through tifffile (any depth); None where tifffile is not installed. The size in the
    header is checked before the pixels are decoded."""
    try:
        import tifffile
    except ImportError:
        return None
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        check_pixel_count(path, int(page.imagewidth), int(page.imagelength))
        return np.asarray(tif.asarray(key=0))


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as f:
        header = f.read(25)
    return header[24] if len(header) == 25 else 8


def write_image(
    path: str | os.PathLike[str], photo: Photo | np.ndarray, jpeg_quality: int = 95
) -> None:
    """Write RGB pixels keeping their bit depth; ICC profile and EXIF are kept where given.

    8-bit PNG/JPEG/TIFF via Pillow, 16-bit PNG via pypng (which writes neither ICC nor EXIF),
    16-bit TIFF via tifffile (ICC kept). JPEG is 8 bit only: 16-bit pixels are rounded to
    8 bit there. Written atomically (see ``sassid.atomic``).

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
        import png

        h, w, _ = pixels.shape
        writer = png.Writer(w, h, greyscale=False, bitdepth=16)
        writer.write(buffer, pixels.reshape(h, w * 3).tolist())
    elif pixels.dtype == np.uint16 and suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(buffer, pixels, photometric="rgb", iccprofile=photo.icc_profile)
    else:
        if pixels.dtype == np.uint16:
            pixels = np.round(pixels / 257.0).astype(np.uint8)
        from PIL import Image

        im = Image.fromarray(pixels, "RGB")
        options: dict[str, object] = {}
        if photo.icc_profile:
            options["icc_profile"] = photo.icc_profile
        if photo.exif and suffix in (".jpg", ".jpeg", ".png", ".tif", ".tiff"):
            options["exif"] = photo.exif
        fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
        if fmt[suffix] == "JPEG":
            options.update(quality=jpeg_quality, subsampling=0)
        im.save(buffer, format=fmt[suffix], **options)
    atomic_write_bytes(path, buffer.getvalue())


def _is_image(path: Path) -> bool:
    return (
        path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )


def _noisy_marked(path: Path) -> bool:
    stem = path.stem
    return "NOISY" in stem or stem.lower().endswith("_noisy")


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

    Where a folder holds files marked noisy (SIDD's ``*NOISY*``, or ``<id>_noisy.*`` pairs),
    only those are kept, so clean references beside them are never used for training.

    Raises:
        ImageError: a source that is empty or does not exist.
    """
    found: list[Path] = []
    for source in sources:
        path = source_path(source)
        if path.is_dir():
            files = list_images(path)
            if any(_noisy_marked(p) for p in files):
                files = [p for p in files if _noisy_marked(p)]
            found.extend(files)
        elif path.is_file():
            found.append(path)
        else:
            raise ImageError(f"{path}: no such file or folder")
    return list(dict.fromkeys(found))


def find_pairs(folder: str | os.PathLike[str]) -> list[tuple[str, Path, Path]]:
    """Noisy/clean pairs in ``folder``: ``<id>_noisy.*`` + ``<id>_clean.*``, or the same names
    in ``noisy/`` and ``clean/``. Returns (id, noisy path, clean path), sorted by id.

    Raises:
        ImageError: an empty path, no such folder, no pairs, or a noisy file without its clean
            partner.
    """
    folder = source_path(folder)
    if not folder.is_dir():
        raise ImageError(f"{folder}: no such folder")
    pairs: list[tuple[str, Path, Path]] = []
    if (folder / "noisy").is_dir() and (folder / "clean").is_dir():
        clean = {p.stem: p for p in (folder / "clean").iterdir() if _is_image(p)}
        for noisy in sorted(p for p in (folder / "noisy").iterdir() if _is_image(p)):
            if noisy.stem not in clean:
                raise ImageError(f"{noisy}: no clean image of the same name in {folder / 'clean'}")
            pairs.append((noisy.stem, noisy, clean[noisy.stem]))
    else:
        files = {p.stem: p for p in folder.iterdir() if _is_image(p)}
        for stem, noisy in sorted(files.items()):
            if stem.lower().endswith("_noisy"):
                ident = stem[: -len("_noisy")]
                partner = files.get(
                    ident + stem[-6:].replace("noisy", "clean").replace("NOISY", "CLEAN")
                )
                if partner is None:
                    raise ImageError(f"{noisy}: no {ident}_clean.* beside it")
                pairs.append((ident, noisy, partner))
    if not pairs:
        raise ImageError(f"{folder}: no noisy/clean pairs (<id>_noisy.* + <id>_clean.*)")
    return pairs
