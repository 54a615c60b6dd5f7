"""The three stage losses of Li et al. (CVPR 2023): Eq. 1, 4 and 5.

Pure functions; L1 is the mean over all B x C x H x W elements (``nn.L1Loss()``), in the
[0, 255] scale. Teachers' outputs are taken as given: the caller computes them under
``torch.no_grad()`` (the stop-gradient sg(.) of the paper), so nothing here detaches.

Each takes a ``distance``: ``"l1"`` (the paper's) or ``"l2"``, the mean squared error
(``nn.MSELoss()``). Per pixel, L1 is minimised by the median of what the target can be given
the input, L2 by its mean. Camera noise in sRGB is skewed where the tone curve bends and the
sensor clips (dark areas), so there the two differ; a real set's clean image is the mean of
many shots, and PSNR scores squared error.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from sassid.constants import Distance

__all__ = ["Distance", "pixel_loss", "bnn_loss", "lan_loss", "denoiser_loss", "blended_target_loss"]


def pixel_loss(a: Tensor, b: Tensor, distance: Distance = "l1") -> Tensor:
    """mean |a - b| (``"l1"``) or mean (a - b)^2 (``"l2"``) over all elements."""
    if distance == "l1":
        return F.l1_loss(a, b)
    if distance == "l2":
        return F.mse_loss(a, b)
    raise ValueError(f"distance must be 'l1' or 'l2', got {distance!r}")


def bnn_loss(bnn_out: Tensor, noisy: Tensor, distance: Distance = "l1") -> Tensor:
    """Eq. 1: L_BNN = || BNN(y) - y ||_1; the blind network reconstructs its own noisy input."""
    return pixel_loss(bnn_out, noisy, distance)


def lan_loss(
    lan_out: Tensor, bnn_out: Tensor, alpha: Tensor | None = None, distance: Distance = "l1"
) -> Tensor:
    """Stage-2 loss: the LAN is supervised by the BNN output.

    With ``alpha=None``: the authors' code, || sg(x1) - x2 ||_1, unweighted.
    With ``alpha`` (B, 1, H, W): the paper's Eq. 4, (1 - alpha) * || sg(x1) - x2 ||_1, so the
    BNN teaches the LAN mostly where the BNN output is flat.
    """
    if alpha is None:
        return pixel_loss(lan_out, bnn_out, distance)
    weight = 1.0 - alpha
    return pixel_loss(weight * lan_out, weight * bnn_out, distance)


def denoiser_loss(
    out: Tensor, bnn_out: Tensor, lan_out: Tensor, alpha: Tensor, distance: Distance = "l1"
) -> Tensor:
    """Eq. 5 in the authors' exact form:

    L_D = L1((1 - alpha) * x1, (1 - alpha) * x_hat) + L1(alpha * x2, alpha * x_hat),

    with x1 the BNN output, x2 the LAN output, x_hat the U-Net output, alpha (B, 1, H, W).
    """
    flat = 1.0 - alpha
    return pixel_loss(flat * bnn_out, flat * out, distance) + pixel_loss(
        alpha * lan_out, alpha * out, distance
    )


def blended_target_loss(
    out: Tensor, bnn_out: Tensor, lan_out: Tensor, alpha: Tensor, distance: Distance = "l1"
) -> Tensor:
    """Eq. 5 with the weights moved inside the target (not the paper's; ``supervision="blend"``):

    L = L1(x_hat, (1 - alpha) * x1 + alpha * x2).

    Under L1, Eq. 5 is minimised per pixel by the weighted median of the two targets, i.e. by
    whichever teacher has the larger weight: alpha selects a teacher (and anything between
    them is optimal at alpha = 0.5) rather than blending them. This form asks for the blend
    itself, which is what Eq. 5 would ask for under L2.
    """
    return pixel_loss(out, (1.0 - alpha) * bnn_out + alpha * lan_out, distance)
