"""Realistic camera noise for clean sRGB photos: noise that is spatially correlated the way
real sRGB noise is, because it goes through the same pipeline.

Steps (each a small pure function):
1. sRGB -> linear (inverse sRGB transfer curve);
2. linear sRGB -> camera RGB (inverse colour-correction matrix) and inverse white balance;
3. mosaic to an RGGB Bayer pattern (one colour per pixel);
4. signal-dependent Poisson-Gaussian noise: y = a * Poisson(x / a) + N(0, b^2), the standard
   raw-sensor model; a (shot) and b (read) grow with the ISO-like level;
5. demosaic with Malvar, He and Cutler's gradient-corrected linear interpolation (ICASSP 2004),
   which spreads each pixel's noise to its neighbours;
6. white balance, colour matrix, sRGB curve, 8-bit quantisation; optionally JPEG.

At ``iso_like = 100`` the noise is mild; 3200 gives ~25 dB PSNR on typical photos.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from sassid.errors import OptionError

__all__ = [
    "CameraModel",
    "srgb_to_linear",
    "linear_to_srgb",
    "mosaic_rggb",
    "demosaic_malvar",
    "add_camera_noise",
    "encode_jpeg",
    "render_reference",
    "noise_autocorrelation",
    "synthesize_files",
    "ISO_RANGE",
    "check_synth_options",
]

# Noise levels cameras offer (ISO 1 is far below any sensor's base ISO; 409600 is the top of
# today's cameras). Outside it the noise model leaves its meaning (and at 0 or inf, numbers).
ISO_RANGE = (1.0, 409_600.0)

# A typical camera-to-sRGB colour-correction matrix (rows sum to 1, as after white balance).
DEFAULT_CCM = np.array([[1.65, -0.55, -0.10], [-0.25, 1.50, -0.25], [0.05, -0.55, 1.50]])


@dataclass(frozen=True)
class CameraModel:
    """Pipeline constants: colour matrix, white-balance gains (R, G, B), noise per ISO 100."""

    ccm: tuple[tuple[float, ...], ...] = tuple(map(tuple, DEFAULT_CCM))
    wb_gains: tuple[float, float, float] = (2.0, 1.0, 1.6)
    shot_per_iso100: float = 2.0e-5
    read_per_iso100: float = 2.0e-4


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer curve on [0, 1] values."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """sRGB transfer curve on [0, 1] values."""
    v = np.clip(v, 0, 1)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


def mosaic_rggb(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) Bayer plane: R at (even, even), G at mixed, B at (odd, odd)."""
    raw = rgb[..., 1].copy()
    raw[0::2, 0::2] = rgb[0::2, 0::2, 0]
    raw[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return raw


_G_AT_RB = (
    np.array(
        [[0, 0, -1, 0, 0], [0, 0, 2, 0, 0], [-1, 2, 4, 2, -1], [0, 0, 2, 0, 0], [0, 0, -1, 0, 0]]
    )
    / 8
)
_ROW_NEIGHBOURS = (
    np.array(
        [
            [0, 0, 0.5, 0, 0],
            [0, -1, 0, -1, 0],
            [-1, 4, 5, 4, -1],
            [0, -1, 0, -1, 0],
            [0, 0, 0.5, 0, 0],
        ]
    )
    / 8
)
_COL_NEIGHBOURS = _ROW_NEIGHBOURS.T
_DIAGONAL = (
    np.array(
        [
            [0, 0, -1.5, 0, 0],
            [0, 2, 0, 2, 0],
            [-1.5, 0, 6, 0, -1.5],
            [0, 2, 0, 2, 0],
            [0, 0, -1.5, 0, 0],
        ]
    )
    / 8
)


def demosaic_malvar(raw: np.ndarray) -> np.ndarray:
    """RGGB plane (H, W) -> (H, W, 3) by Malvar-He-Cutler 5x5 gradient-corrected interpolation."""

    def conv(kernel: np.ndarray) -> np.ndarray:
        return ndimage.convolve(raw, kernel, mode="mirror")

    g_rb, row, col, diag = (
        conv(_G_AT_RB),
        conv(_ROW_NEIGHBOURS),
        conv(_COL_NEIGHBOURS),
        conv(_DIAGONAL),
    )
    h, w = raw.shape
    r_even = (np.arange(h) % 2 == 0)[:, None]
    c_even = (np.arange(w) % 2 == 0)[None, :]
    at_r, at_b = r_even & c_even, ~r_even & ~c_even
    g_in_r_row, g_in_b_row = r_even & ~c_even, ~r_even & c_even
    red = np.select([at_r, g_in_r_row, g_in_b_row, at_b], [raw, row, col, diag])
    green = np.where(at_r | at_b, g_rb, raw)
    blue = np.select([at_b, g_in_b_row, g_in_r_row, at_r], [raw, row, col, diag])
    return np.stack([red, green, blue], axis=-1)


def _to_raw(clean: np.ndarray, camera: CameraModel) -> np.ndarray:
    linear = srgb_to_linear(clean.astype(np.float64) / 255.0)
    cam = linear @ np.linalg.inv(np.array(camera.ccm)).T / np.array(camera.wb_gains)
    return mosaic_rggb(np.clip(cam, 0, 1))


def _render(raw: np.ndarray, camera: CameraModel) -> np.ndarray:
    rgb = demosaic_malvar(raw) * np.array(camera.wb_gains) @ np.array(camera.ccm).T
    return np.clip(np.floor(linear_to_srgb(rgb) * 255.0 + 0.5), 0, 255).astype(np.uint8)


def render_reference(clean: np.ndarray, camera: CameraModel | None = None) -> np.ndarray:
    """The same pipeline without noise: the ground truth a real dataset would hold (the mean
    of many shots), demosaicing artefacts included. Score denoisers against this."""
    camera = camera or CameraModel()
    return _render(_to_raw(clean, camera), camera)


def check_synth_options(iso_like: float, jpeg_quality: int | None = None) -> None:
    """Refuse a noise level outside ``ISO_RANGE`` (or not finite) and a JPEG quality outside
    1..100, in one line, before any work."""
    low, high = ISO_RANGE
    if not (math.isfinite(iso_like) and low <= iso_like <= high):
        raise OptionError(f"--iso-like must be between {low:g} and {high:g}, got {iso_like}")
    if jpeg_quality is not None and not 1 <= jpeg_quality <= 100:
        raise OptionError(f"--jpeg-quality must be between 1 and 100, got {jpeg_quality}")


def _noisy_render(
    clean: np.ndarray, iso_like: float, seed: int | None, camera: CameraModel | None
) -> np.ndarray:
    """Steps 1-6 up to 8-bit quantisation (no JPEG): the pixels a JPEG is encoded from."""
    if clean.ndim != 3 or clean.shape[2] != 3 or clean.dtype != np.uint8:
        raise OptionError(f"need an (H, W, 3) uint8 photo, got {clean.shape} {clean.dtype}")
    camera = camera or CameraModel()
    rng = np.random.default_rng(seed)
    raw = _to_raw(clean, camera)
    shot = camera.shot_per_iso100 * iso_like / 100.0
    read = camera.read_per_iso100 * iso_like / 100.0
    noisy_raw = shot * rng.poisson(raw / shot) + rng.normal(0.0, read, raw.shape)
    return _render(noisy_raw, camera)


def encode_jpeg(
    pixels: np.ndarray,
    quality: int,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
) -> bytes:
    """The one JPEG encoding of the pipeline's last step (Pillow's defaults at ``quality``).

    ``add_camera_noise`` decodes these bytes and ``synthesize_files`` writes them as they are,
    so a written ``.jpg`` is exactly the image the noise model describes (re-encoding it would
    compress twice). ICC profile and EXIF go into the file; they do not change the pixels.
    """
    from PIL import Image

    options: dict[str, object] = {"quality": quality}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif:
        options["exif"] = exif
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _decode_jpeg(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def add_camera_noise(
    clean: np.ndarray,
    iso_like: float = 1600.0,
    seed: int | None = 0,
    jpeg_quality: int | None = None,
    camera: CameraModel | None = None,
) -> np.ndarray:
    """Make a clean (H, W, 3) uint8 sRGB photo noisy the way a camera pipeline does.

    Returns uint8 (H, W, 3). ``jpeg_quality`` (e.g. 90) adds JPEG compression at the end
    (:func:`encode_jpeg`, decoded again). Its noise-free counterpart is :func:`render_reference`.
    """
    check_synth_options(iso_like, jpeg_quality)
    out = _noisy_render(clean, iso_like, seed, camera)
    if jpeg_quality is not None:
        out = _decode_jpeg(encode_jpeg(out, jpeg_quality))
    return out


def noise_autocorrelation(
    noisy: np.ndarray, clean: np.ndarray, lags: tuple[int, ...] = (1, 2, 3, 4)
) -> list[float]:
    """Horizontal autocorrelation of the noise ``noisy - clean`` at each lag: the Pearson
    correlation of the residual with itself shifted by ``lag`` columns, per channel, averaged."""
    residual = noisy.astype(np.float64) - clean.astype(np.float64)
    values = []
    for lag in lags:
        per_channel = []
        for c in range(residual.shape[2]):
            a, b = residual[:, :-lag, c].ravel(), residual[:, lag:, c].ravel()
            per_channel.append(np.corrcoef(a, b)[0, 1])
        values.append(float(np.mean(per_channel)))
    return values


def _synth_one(
    path: Path, target: Path, iso_like: float, seed: int, jpeg_quality: int | None
) -> None:
    """Write ``path``'s noisy copy to ``target``, keeping its ICC profile and EXIF (so that an
    EXIF orientation still turns it the way it turns the source)."""
    from sassid.atomic import atomic_write_bytes
    from sassid.io import Photo, fit_jpeg_exif, from_pixels, read_image, to_pixels, write_image

    photo = read_image(path)
    pixels = photo.pixels
    if pixels.dtype != np.uint8:
        warnings.warn(f"{path}: 16-bit input, noisy image written at 8 bit", stacklevel=3)
        pixels = from_pixels(to_pixels(pixels), np.uint8)
    noisy = _noisy_render(pixels, iso_like, seed, None)
    if jpeg_quality is None:
        write_image(target, Photo(noisy, icc_profile=photo.icc_profile, exif=photo.exif))
        return
    exif = fit_jpeg_exif(photo.exif, path) if photo.exif else None
    # the bytes add_camera_noise decodes, written once (no second compression)
    atomic_write_bytes(target, encode_jpeg(noisy, jpeg_quality, photo.icc_profile, exif))


def synthesize_files(
    sources: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    iso_like: float = 1600.0,
    seed: int = 0,
    jpeg_quality: int | None = None,
    *,
    overwrite: bool = False,
) -> list[str]:
    """Write a noisy copy of every clean image under ``sources`` into ``output`` (PNG, or JPEG
    at ``jpeg_quality``: the single encoding ``add_camera_noise`` models). ICC profile and EXIF
    are kept. Output is 8 bit: 16-bit input is rounded to 8 bit first, with a warning naming
    the file. Every image found is used, clean or not. Returns one error line per file that
    failed; the others are still written.

    Raises:
        OptionError: bad ``iso_like``/``jpeg_quality``; ImageError: a missing source;
        NoImagesError: no images; OutputError: an output would overwrite an input, be written
        twice, land in an input folder, or (without ``overwrite``) replace a file that is
        there (checked before anything is written).
    """
    from sassid.errors import NoImagesError, SassidError
    from sassid.io import ImageError, list_images
    from sassid.outputs import check_new_outputs, check_plan, ensure_folder

    check_synth_options(iso_like, jpeg_quality)
    out = Path(output)
    paths: list[Path] = []
    for source in map(Path, sources):
        if not source.exists():
            raise ImageError(f"{source}: no such file or folder")
        paths.extend(list_images(source) if source.is_dir() else [source])
    if not paths:
        raise NoImagesError(f"no images found in {', '.join(map(str, sources))}")
    suffix = ".jpg" if jpeg_quality else ".png"
    plan = [(path, out / (path.stem + suffix)) for path in paths]
    check_plan(plan, [s for s in map(Path, sources) if s.is_dir()])
    check_new_outputs([target for _, target in plan], overwrite=overwrite)
    ensure_folder(out)
    errors = []
    for i, (path, target) in enumerate(plan):
        try:
            _synth_one(path, target, iso_like, seed + i, jpeg_quality)
        except (SassidError, OSError) as exc:
            errors.append(str(exc) if isinstance(exc, SassidError) else f"{path}: {exc.strerror}")
    return errors
