from __future__ import annotations

import torch

from sassid.losses import blended_target_loss, bnn_loss, denoiser_loss, lan_loss


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


def test_blended_target_asks_for_the_blend_where_eq5_picks_a_teacher() -> None:
    bnn_out, lan_out = torch.full((1, 3, 4, 4), 100.0), torch.full((1, 3, 4, 4), 110.0)
    alpha = torch.full((1, 1, 4, 4), 0.3)
    candidates = {v: torch.full_like(bnn_out, v) for v in (100.0, 103.0, 110.0)}
    eq5 = {v: float(denoiser_loss(c, bnn_out, lan_out, alpha)) for v, c in candidates.items()}
    blend = {
        v: float(blended_target_loss(c, bnn_out, lan_out, alpha)) for v, c in candidates.items()
    }
    assert min(eq5, key=eq5.__getitem__) == 100.0  # weighted median: the heavier teacher
    assert min(blend, key=blend.__getitem__) == 103.0  # 0.7 * 100 + 0.3 * 110
    assert blend[103.0] == 0.0
    out = torch.rand(1, 3, 4, 4) * 255
    for a, target in ((0.0, bnn_out), (1.0, lan_out)):
        torch.testing.assert_close(
            blended_target_loss(out, bnn_out, lan_out, torch.full_like(alpha, a)),
            torch.nn.functional.l1_loss(out, target),
        )
