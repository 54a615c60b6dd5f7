"""The LAN's locality, stated exactly and tested by gradients.

Statement: the output at pixel p depends only on (a) input pixels in the receptive_field^2
window centred on p and (b) the per-image channel means pooled by the attention blocks.
Test: with the pooled means held constant (detached), the gradient of out(p) is non-zero at
every pixel of the window and exactly zero everywhere else; with them live, pixels outside the
window do get a (global) gradient.
"""

from __future__ import annotations

import pytest
import torch

from sassid.nets import LAN


def _gradient(net: LAN, x: torch.Tensor, row: int, col: int) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    net(x)[0, :, row, col].sum().backward()
    assert x.grad is not None
    return x.grad[0].abs().sum(0)


def _freeze_pooled_means(net: LAN) -> list[torch.utils.hooks.RemovableHandle]:
    return [
        block.attention.pool.register_forward_hook(lambda _m, _i, out: out.detach())
        for block in net.blocks
    ]


@pytest.mark.parametrize("receptive_field", [3, 5])
@pytest.mark.parametrize("pixel", [(20, 30), (0, 0), (44, 69), (1, 68)])
def test_output_depends_on_window_and_pooled_means_only(
    receptive_field: int, pixel: tuple[int, int]
) -> None:
    net = LAN(receptive_field)
    x = torch.rand(1, 3, 45, 70) * 255
    row, col = pixel
    r = receptive_field // 2
    top, left = max(row - r, 0), max(col - r, 0)
    bottom, right = min(row + r + 1, 45), min(col + r + 1, 70)

    handles = _freeze_pooled_means(net)
    local = _gradient(net, x, row, col)
    for handle in handles:
        handle.remove()
    window = local[top:bottom, left:right]
    assert torch.count_nonzero(window) == window.numel()
    local[top:bottom, left:right] = 0
    assert torch.count_nonzero(local) == 0

    full = _gradient(net, x, row, col)
    full[top:bottom, left:right] = 0
    assert torch.count_nonzero(full) > 0, "attention pools should make the output global"


def test_parameter_count() -> None:
    assert sum(p.numel() for p in LAN(3).parameters()) == 94_939


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 257)])
def test_any_size(size: tuple[int, int]) -> None:
    with torch.no_grad():
        out = LAN(3)(torch.rand(2, 3, *size) * 255)
    assert out.shape == (2, 3, *size) and torch.isfinite(out).all()


def test_rejects_even_receptive_field() -> None:
    with pytest.raises(ValueError, match="receptive_field"):
        LAN(4)
