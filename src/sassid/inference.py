"""Running a trained network on a whole photo (arrays in, arrays out)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sassid.io import from_pixels, to_pixels

__all__ = ["denoise_pixels"]


def denoise_pixels(
    net: nn.Module, pixels: np.ndarray, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Denoise an HWC uint8/uint16 photo in one pass; returns the same dtype, rounded."""
    x = torch.from_numpy(to_pixels(pixels))[None].to(device)
    with torch.inference_mode():
        out = net(x)[0].float().cpu().numpy()
    return from_pixels(out, pixels.dtype.type)
