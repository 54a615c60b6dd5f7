from __future__ import annotations

import pytest
import torch

from sassid.losses import blended_target_loss, bnn_loss, denoiser_loss, lan_loss, pixel_loss


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


def test_l2_distance_is_mean_squared_error_in_every_loss() -> None:
    a, b = torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    b[0, 0, 0, 0] = 12.0
    assert bnn_loss(a, b, "l2").item() == 12.0  # 144 / 12 elements
    assert lan_loss(a, b, None, "l2").item() == 12.0
    alpha = torch.full((1, 1, 2, 2), 0.5)
    assert lan_loss(a, b, alpha, "l2").item() == 3.0  # (0.5 * 12)^2 / 12
    lan_out = torch.zeros_like(b)
    # Eq. 5 under l2: (0.5 * 12)^2 / 12 from the BNN term, nothing from the LAN's
    assert denoiser_loss(a, b, lan_out, alpha, "l2").item() == 3.0
    # the blend's target is 0.5 * b: (6)^2 / 12
    assert blended_target_loss(a, b, lan_out, alpha, "l2").item() == 3.0


def test_l2_asks_for_the_mean_where_l1_asks_for_the_median() -> None:
    # skewed targets (as noise is where the tone curve bends): 0, 0, 9 -> median 0, mean 3
    targets = torch.tensor([0.0, 0.0, 9.0]).view(3, 1, 1, 1).expand(3, 3, 1, 1)
    candidates = (0.0, 3.0)
    l1 = {v: float(bnn_loss(torch.full_like(targets, v), targets)) for v in candidates}
    l2 = {v: float(bnn_loss(torch.full_like(targets, v), targets, "l2")) for v in candidates}
    assert min(l1, key=l1.__getitem__) == 0.0
    assert min(l2, key=l2.__getitem__) == 3.0


def test_an_unknown_distance_is_refused() -> None:
    a = torch.zeros(1, 3, 2, 2)
    with pytest.raises(ValueError, match="distance"):
        pixel_loss(a, a, "l3")  # type: ignore[arg-type]
