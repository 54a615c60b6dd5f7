"""Activation equalization: same fp32 function, flatter channel ranges."""

from __future__ import annotations

import torch

from sassid.backends.equalize import _channel_ranges, equalize_unet
from sassid.nets import UNet


def _unet() -> UNet:
    torch.manual_seed(0)
    net = UNet(enc_channels=8, dec_channels=16).eval()
    with torch.no_grad():  # spread the channel ranges as training does
        for conv in net.modules():
            if isinstance(conv, torch.nn.Conv2d):
                conv.weight.mul_(torch.logspace(-1, 0.5, conv.out_channels)[:, None, None, None])
    return net


def _crops() -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.rand(1, 3, 64, 64, generator=g) * 255 for _ in range(2)]


def test_equalized_unet_computes_the_same_function() -> None:
    net = _unet()
    eq = equalize_unet(net, _crops())
    x = torch.rand(1, 3, 70, 50, generator=torch.Generator().manual_seed(2)) * 255
    with torch.no_grad():
        expected, out = net(x), eq(x)
    assert float((out - expected).abs().max()) < 1e-3 * float(expected.abs().max())
    assert any(
        not torch.equal(a, b) for a, b in zip(net.parameters(), eq.parameters(), strict=True)
    )


def test_channel_ranges_are_flatter_and_scales_capped() -> None:
    net, crops = _unet(), _crops()
    before = _channel_ranges(net, crops)
    eq = equalize_unet(net, crops, max_scale=4.0)
    after = _channel_ranges(eq, crops)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    eq_convs = [m for m in eq.modules() if isinstance(m, torch.nn.Conv2d)]
    first, first_eq = convs[0], eq_convs[0]
    spread = float(before[first].max() / before[first].min())
    spread_eq = float(after[first_eq].max() / after[first_eq].min())
    assert spread > 4 and spread_eq < spread
    scale = first_eq.weight.abs().amax(dim=(1, 2, 3)) / first.weight.abs().amax(dim=(1, 2, 3))
    assert float(scale.min()) >= 1 - 1e-5 and float(scale.max()) <= 4 + 1e-4


def test_into_output_moves_the_scales_into_the_output_convolution() -> None:
    net, crops = _unet(), _crops()
    with_head = equalize_unet(net, crops, into_output=True)
    without = equalize_unet(net, crops, into_output=False)
    assert torch.equal(without.head.weight, net.head.weight)
    assert not torch.equal(with_head.head.weight, net.head.weight)
    x = crops[0]
    with torch.no_grad():
        expected = net(x)
        assert float((with_head(x) - expected).abs().max()) < 1e-3 * float(expected.abs().max())
