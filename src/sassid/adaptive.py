"""The spatially adaptive coefficient alpha of Li et al. (CVPR 2023), Eq. 2-3.

alpha weighs, per pixel, how much the U-Net should follow the LAN (texture) rather than the BNN
(flat areas). It is computed from the BNN output in the [0, 255] pixel scale; the thresholds
``lower = 1`` and ``upper = 5`` are in those units. Matches the authors' code exactly: RGB
channel mean, 7 x 7 window, reflect padding, population standard deviation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["local_std", "alpha_map"]


def local_std(image: Tensor, window: int = 7) -> Tensor:
    """Population standard deviation of the channel mean over each ``window`` x ``window`` patch.

    sigma(i, j) = sqrt(mean_{(u,v) in W(i,j)} (g(u, v) - mean_W g)^2),  g = mean over channels,
    with the window W centred on (i, j) and the image reflect-padded by window // 2 (replicate
    where the image is too small to reflect).

    Args:
        image: (B, C, H, W) in the [0, 255] scale.
        window: odd window side.

    Returns:
        (B, 1, H, W), in the same units as ``image``.
    """
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd integer, got {window}")
    gray = image.mean(dim=1, keepdim=True)
    pad = window // 2
    h, w = gray.shape[-2:]
    mode = "reflect" if pad < h and pad < w else "replicate"
    padded = F.pad(gray, (pad, pad, pad, pad), mode=mode)
    # Explicit (v - mean)^2 over unfolded windows: E[v^2] - E[v]^2 loses ~1e-3 relative
    # precision in float32 at pixel values ~255.
    patches = F.unfold(padded, window).view(gray.shape[0], window * window, h, w)
    deviation = patches - patches.mean(dim=1, keepdim=True)
    return deviation.square().mean(dim=1, keepdim=True).sqrt()


def alpha_map(image: Tensor, lower: float = 1.0, upper: float = 5.0, window: int = 7) -> Tensor:
    """The adaptive coefficient of Eq. 3, from the local std of ``image`` (the BNN output).

    alpha = S(sigma - lower) where sigma <= lower (flat: in [0.269, 0.5)),
            0.5               where lower < sigma <= upper,
            S(sigma - upper) where sigma > upper  (texture: in (0.5, 1)),
    with S the logistic sigmoid; continuous at both thresholds.

    Args:
        image: (B, C, H, W) in the [0, 255] scale.

    Returns:
        (B, 1, H, W) in (0, 1); broadcast over channels where it weighs a loss.
    """
    if not lower <= upper:
        raise ValueError(f"need lower <= upper, got {lower} and {upper}")
    sigma = local_std(image, window)
    alpha = torch.full_like(sigma, 0.5)
    alpha = torch.where(sigma <= lower, torch.sigmoid(sigma - lower), alpha)
    return torch.where(sigma > upper, torch.sigmoid(sigma - upper), alpha)
