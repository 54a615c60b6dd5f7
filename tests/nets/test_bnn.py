"""The BNN's blind neighbourhood is exact, proven by gradients, at any size and near borders."""

from __future__ import annotations

import pytest
import torch

from sassid.nets import BNN
from sassid.nets.layers import rotate


def _input_gradient(net: BNN, x: torch.Tensor, row: int, col: int) -> torch.Tensor:
    """|d out(row, col) / d x| summed over channels: (H, W)."""
    x = x.clone().requires_grad_(True)
    net(x)[0, :, row, col].sum().backward()
    assert x.grad is not None
    return x.grad[0].abs().sum(0)


@pytest.mark.parametrize("blind_size", [1, 5, 9, 13])
@pytest.mark.parametrize("size", [(64, 64), (45, 70)])
def test_blind_window_has_zero_gradient(blind_size: int, size: tuple[int, int]) -> None:
    torch.manual_seed(blind_size)
    # Narrow channels keep the test fast; the blind window comes from the shifts, not the width.
    net = BNN(blind_size, enc_channels=8, dec_channels=16)
    h, w = size
    x = torch.rand(1, 3, h, w) * 255
    k = (blind_size + 1) // 2
    pixels = [(h // 2, w // 2), (0, 0), (2, w - 1), (h - 1, 3), (h - 3, w - 2), (k - 1, k)]
    for row, col in pixels:
        grad = _input_gradient(net, x, row, col)
        top, left = max(row - k + 1, 0), max(col - k + 1, 0)
        window = grad[top : row + k, left : col + k]
        assert torch.count_nonzero(window) == 0, f"blind window leaks at {(row, col)}"
        outside = grad.clone()
        outside[top : row + k, left : col + k] = 0
        assert torch.count_nonzero(outside) > 0
        # The nearest visible pixels, one step past the window along each axis, are seen.
        for dr, dc in ((-k, 0), (k, 0), (0, -k), (0, k)):
            r, c = row + dr, col + dc
            if 0 <= r < h and 0 <= c < w:
                assert grad[r, c] > 0, f"pixel {(r, c)} just outside the window is not seen"


def test_default_width_blind_window() -> None:
    net = BNN(9)
    x = torch.rand(1, 3, 40, 40) * 255
    grad = _input_gradient(net, x, 20, 20)
    assert torch.count_nonzero(grad[16:25, 16:25]) == 0
    assert grad[15, 20] > 0 and grad[25, 20] > 0 and grad[20, 15] > 0 and grad[20, 25] > 0


def test_parameter_count() -> None:
    assert sum(p.numel() for p in BNN(9).parameters()) == 1_268_547


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 257), (32, 32)])
def test_any_size(size: tuple[int, int]) -> None:
    net = BNN(9)
    with torch.no_grad():
        out = net(torch.rand(2, 3, *size) * 255)
    assert out.shape == (2, 3, *size)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("size", [(64, 64), (64, 96)])
def test_batched_branches_equal_one_trunk_call_each(size: tuple[int, int]) -> None:
    """Both batching paths (one 4x batch for square inputs, two 2x batches otherwise) give
    each rotation's trunk features as the trunk alone computes them."""
    net = BNN(9, enc_channels=8, dec_channels=16)
    x = torch.rand(1, 3, *size) * 255
    with torch.no_grad():
        batched = net._branch_features(x)
        alone = [net.trunk(rotate(x, k)) for k in range(4)]
    for a, b in zip(batched, alone, strict=True):  # batch size changes oneDNN's summation order
        torch.testing.assert_close(a, b, rtol=1e-4, atol=5e-3)


@pytest.mark.parametrize("blind_size", [0, 2, -1])
def test_rejects_even_or_nonpositive_blind_size(blind_size: int) -> None:
    with pytest.raises(ValueError, match="blind_size"):
        BNN(blind_size)
