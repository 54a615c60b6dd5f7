from __future__ import annotations

import torch

from sassid.losses import bnn_loss, denoiser_loss, lan_loss


def test_bnn_loss_is_mean_absolute_error() -> None:
    a, b = torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    b[0, 0, 0, 0] = 12.0
    assert bnn_loss(a, b).item() == 1.0  # 12 / 12 elements


def test_lan_loss_weighting() -> None:
    lan_out, bnn_out = torch.rand(2, 3, 8, 8) * 255, torch.rand(2, 3, 8, 8) * 255
    plain = lan_loss(lan_out, bnn_out)
    torch.testing.assert_close(lan_loss(lan_out, bnn_out, torch.zeros(2, 1, 8, 8)), plain)
    alpha = torch.full((2, 1, 8, 8), 0.75)
    torch.testing.assert_close(lan_loss(lan_out, bnn_out, alpha), 0.25 * plain)


def test_denoiser_loss_limits() -> None:
    out, bnn_out, lan_out = (torch.rand(1, 3, 8, 8) * 255 for _ in range(3))
    zeros, ones = torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    torch.testing.assert_close(denoiser_loss(out, bnn_out, lan_out, zeros), bnn_loss(out, bnn_out))
    torch.testing.assert_close(denoiser_loss(out, bnn_out, lan_out, ones), bnn_loss(out, lan_out))
