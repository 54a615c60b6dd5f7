"""Pixels to page: 8-bit conversion, downscaling, false colour for alpha, signed differences,
and ``data:`` URIs (PNG lossless for full-resolution crops, JPEG 4:4:4 for downscaled views)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

__all__ = [
    "ALPHA_STOPS",
    "DIFF_GAIN",
    "alpha_colours",
    "data_uri",
    "downscale",
    "signed_difference",
    "to_uint8",
]

DIFF_GAIN = 4.0
"""Differences are shown as 128 + DIFF_GAIN * (a - b), in the [0, 255] scale."""

ALPHA_STOPS = ((0.269, (37, 99, 235)), (0.5, (229, 231, 235)), (1.0, (234, 88, 12)))
"""alpha -> colour: blue where alpha is lowest (flat: the U-Net followed the BNN), grey at 0.5,
orange toward 1 (texture: it followed the LAN). 0.269 = sigmoid(-1), alpha's minimum."""


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """HWC uint8 as is; uint16 rounded to 8 bit for display."""
    if pixels.dtype == np.uint8:
        return pixels
    return np.clip(np.round(pixels.astype(np.float64) / 257.0), 0, 255).astype(np.uint8)


def downscale(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """uint8 HWC with its longer side at most ``max_side`` (Lanczos; unchanged if smaller)."""
    h, w = pixels.shape[:2]
    if max(h, w) <= max_side:
        return pixels
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def signed_difference(a: np.ndarray, b: np.ndarray, gain: float = DIFF_GAIN) -> np.ndarray:
    """128 + gain * (a - b) per channel, clipped to uint8; a, b in [0, 255] (any dtype)."""
    diff = a.astype(np.float32) - b.astype(np.float32)
    return np.clip(np.round(128.0 + gain * diff), 0, 255).astype(np.uint8)


def alpha_colours(alpha: np.ndarray) -> np.ndarray:
    """(H, W) alpha in (0, 1) -> (H, W, 3) uint8 through ``ALPHA_STOPS`` (piecewise linear)."""
    xs = np.array([s[0] for s in ALPHA_STOPS])
    rgb = np.array([s[1] for s in ALPHA_STOPS], dtype=np.float64)
    flat = np.clip(alpha.astype(np.float64), xs[0], xs[-1]).ravel()
    out = np.stack([np.interp(flat, xs, rgb[:, c]) for c in range(3)], axis=1)
    return np.round(out).reshape(*alpha.shape, 3).astype(np.uint8)


def data_uri(pixels: np.ndarray, fmt: str = "png", quality: int = 90) -> str:
    """``data:image/png;base64,...`` (or JPEG with 4:4:4 chroma) of uint8 HWC pixels."""
    buffer = io.BytesIO()
    image = Image.fromarray(to_uint8(pixels))
    if fmt == "png":
        image.save(buffer, format="PNG", compress_level=6)
        mime = "image/png"
    elif fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=quality, subsampling=0)
        mime = "image/jpeg"
    else:
        raise ValueError(f"unknown image format {fmt!r}")
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"
