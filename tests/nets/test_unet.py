from __future__ import annotations

import pytest
import torch

from sassid.nets import UNet


def test_parameter_count() -> None:
    assert sum(p.numel() for p in UNet().parameters()) == 1_083_747


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (33, 257), (64, 96)])
def test_any_size(size: tuple[int, int]) -> None:
    with torch.no_grad():
        out = UNet()(torch.rand(2, 3, *size) * 255)
    assert out.shape == (2, 3, *size) and torch.isfinite(out).all()


def test_padding_does_not_leak_batch_items() -> None:
    net = UNet()
    x = torch.rand(2, 3, 33, 40) * 255
    with torch.no_grad():
        both = net(x)
        first = net(x[:1])
    torch.testing.assert_close(both[:1], first, rtol=1e-4, atol=1e-3)
