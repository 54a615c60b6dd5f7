"""Activation equalization of the U-Net before int8 quantization (Nagel et al., ICCV 2019).

int8 activations share one scale per tensor, so a channel whose values span a tenth of the
tensor's range gets a tenth of the 256 levels. LeakyReLU is positively homogeneous,
LeakyReLU(s x) = s LeakyReLU(x) for s > 0, and so are max pooling, nearest upsampling and
concatenation: multiplying output channel c of a convolution (weights and bias) by s_c and
dividing input channel c of every convolution that reads it by s_c leaves the fp32 network's
function unchanged while the channel's activations grow by s_c. Here s_c = R / r_c, at most
``max_scale``, with r_c the channel's largest |pre-activation| over the calibration crops and R
the largest of the tensor's channels. Measured in ``benchmarks/int8_study.py``
(results/int8_study.md): it halves int8's PSNR cost on mild noise.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from sassid.nets.unet import UNet

__all__ = ["equalize_unet", "MAX_SCALE", "EQUALIZE_CROPS"]

MAX_SCALE = 4.0
"""Largest factor a channel is scaled up by: beyond it the consumer's weights for that channel
shrink towards their own int8 step."""

EQUALIZE_CROPS = 16
"""Calibration crops whose channel ranges set the scales (the range pass is an fp32 forward)."""


def _convs(stage: nn.Module) -> list[nn.Conv2d]:
    return [m for m in stage.modules() if isinstance(m, nn.Conv2d)]


def _links(
    net: UNet, into_output: bool = True
) -> list[tuple[nn.Conv2d, list[tuple[nn.Conv2d, int]]]]:
    """Each convolution whose output feeds others through LeakyReLU (and pooling, upsampling,
    concatenation), with its consumers and the first input channel it occupies there;
    ``into_output``: the last decoder convolution and the output convolution too."""
    enc = [_convs(stage) for stage in net.trunk.encoder]  # level: its convolutions
    dec = [_convs(stage) for stage in net.trunk.decoder]  # deepest level first
    e, d = enc[0][0].out_channels, dec[0][0].out_channels
    links: list[tuple[nn.Conv2d, list[tuple[nn.Conv2d, int]]]] = [(enc[0][0], [(enc[0][1], 0)])]
    for level in range(4):  # level outputs feed the next level and, pooled, a decoder skip
        skip_at = e if level == 3 else d  # after the upsampled features in the concatenation
        links.append((enc[level][-1], [(enc[level + 1][0], 0), (dec[3 - level][0], skip_at)]))
    links += [(enc[4][0], [(enc[5][0], 0)]), (enc[5][0], [(dec[0][0], 0)])]
    for level in range(5):
        links.append((dec[level][0], [(dec[level][1], 0)]))
        if level < 4:
            links.append((dec[level][1], [(dec[level + 1][0], 0)]))
    if into_output:  # the output conv stays fp32, so it absorbs the scales at no cost
        links.append((dec[4][1], [(net.head, 0)]))
    return links


def _channel_ranges(net: nn.Module, calibration: list[Tensor]) -> dict[nn.Module, Tensor]:
    """max |output| per output channel of every convolution, over the calibration crops."""
    ranges: dict[nn.Module, Tensor] = {}

    def record(module: nn.Module, _args: object, out: Tensor) -> None:
        r = out.detach().abs().amax(dim=(0, 2, 3))
        ranges[module] = torch.maximum(ranges.get(module, torch.zeros_like(r)), r)

    hooks = [m.register_forward_hook(record) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            for crop in calibration:
                net(crop.float())
    finally:
        for hook in hooks:
            hook.remove()
    return ranges


def equalize_unet(
    unet: UNet,
    calibration: list[Tensor],
    max_scale: float = MAX_SCALE,
    *,
    into_output: bool = True,
) -> UNet:
    """A copy of ``unet`` computing the same function (up to fp32 rounding) with equalized
    activation ranges; ``calibration``: (1, 3, h, w) crops in [0, 255]. ``into_output``:
    equalize the last decoder convolution's output channels too (the output convolution, fp32
    in int8, divides them back): its int8 output is what the output convolution sees."""
    if unet.trunk.upward:
        raise ValueError("equalize_unet takes the U-Net denoiser, not a blind-spot trunk")
    net = copy.deepcopy(unet).float().eval()
    ranges = _channel_ranges(net, calibration)
    with torch.no_grad():
        for producer, consumers in _links(net, into_output):
            r = ranges[producer].clamp_min(1e-6)
            scale = (r.max() / r).clamp(1.0, max_scale)
            producer.weight.mul_(scale[:, None, None, None])
            if producer.bias is not None:
                producer.bias.mul_(scale)
            for consumer, first in consumers:
                consumer.weight[:, first : first + len(scale)].div_(scale[None, :, None, None])
    return net
