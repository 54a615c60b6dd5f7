"""The three stage losses of Li et al. (CVPR 2023): Eq. 1, 4 and 5.

Pure functions; L1 is the mean over all B x C x H x W elements (``nn.L1Loss()``), in the
[0, 255] scale. Teachers' outputs are taken as given: the caller computes them under
``torch.no_grad()`` (the stop-gradient sg(.) of the paper), so nothing here detaches.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

__all__ = ["bnn_loss", "lan_loss", "denoiser_loss", "blended_target_loss"]


def bnn_loss(bnn_out: Tensor, noisy: Tensor) -> Tensor:
    """Eq. 1: L_BNN = || BNN(y) - y ||_1; the blind network reconstructs its own noisy input."""
    return F.l1_loss(bnn_out, noisy)


def lan_loss(lan_out: Tensor, bnn_out: Tensor, alpha: Tensor | None = None) -> Tensor:
    """Stage-2 loss: the LAN is supervised by the BNN output.

    With ``alpha=None``: the authors' code, || sg(x1) - x2 ||_1, unweighted.
    With ``alpha`` (B, 1, H, W): the paper's Eq. 4, (1 - alpha) * || sg(x1) - x2 ||_1, so the
    BNN teaches the LAN mostly where the BNN output is flat.
    """
    if alpha is None:
        return F.l1_loss(lan_out, bnn_out)
    weight = 1.0 - alpha
    return F.l1_loss(weight * lan_out, weight * bnn_out)


def denoiser_loss(out: Tensor, bnn_out: Tensor, lan_out: Tensor, alpha: Tensor) -> Tensor:
    """Eq. 5 in the authors' exact form:

    L_D = L1((1 - alpha) * x1, (1 - alpha) * x_hat) + L1(alpha * x2, alpha * x_hat),

    with x1 the BNN output, x2 the LAN output, x_hat the U-Net output, alpha (B, 1, H, W).
    """
    flat = 1.0 - alpha
    return F.l1_loss(flat * bnn_out, flat * out) + F.l1_loss(alpha * lan_out, alpha * out)


def blended_target_loss(out: Tensor, bnn_out: Tensor, lan_out: Tensor, alpha: Tensor) -> Tensor:
    """Eq. 5 with the weights moved inside the target (not the paper's; ``supervision="blend"``):

    L = L1(x_hat, (1 - alpha) * x1 + alpha * x2).

    Under L1, Eq. 5 is minimised per pixel by the weighted median of the two targets, i.e. by
    whichever teacher has the larger weight: alpha selects a teacher (and anything between
    them is optimal at alpha = 0.5) rather than blending them. This form asks for the blend
    itself, which is what Eq. 5 would ask for under L2.
    """
    return F.l1_loss(out, (1.0 - alpha) * bnn_out + alpha * lan_out)
