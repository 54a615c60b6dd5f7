"""The U-Net with its raw-input skip split off, for int8 (same function in fp32).

The last decoder stage convolves the concatenation [features, raw input]: 96 feature maps and
the 3 colour channels of the noisy photo itself. int8 gives each activation tensor one scale,
so in the concatenation the photo shares 256 levels with features of another range, and the
fine detail the U-Net copies from its input is rounded away. Since a convolution is linear in
its input channels,

    conv([f, x]) = conv_f(f) + conv_x(x)      (W = [W_f, W_x], bias in conv_f),

the split graph computes the same function; int8 then quantizes the features' convolution
alone and ``conv_x`` (3 input channels, 3% of that stage's multiply-adds) stays fp32. The
96-channel convolution also runs faster than the 99-channel one in onnxruntime's int8 kernels
(results/int8_study.md). The split is for the int8 export only: in PyTorch the concatenation is
faster.

With ``channels_last_matmuls`` the two fp32 convolutions of that stage, ``raw_skip`` (3x3) and
the 1x1 output head, are written as matrix products over pixels in (N, H, W, C) order:

    raw_skip(x) = [x shifted by each of the 9 taps] @ W_x    ((N, H, W, 9C) @ (9C, O))
    head(t)     = t @ W_head + b                            ((N, H, W, 96) @ (96, 3))

The same function again. onnxruntime runs its int8 convolutions channels-last, so an fp32 NCHW
convolution between them costs two full-resolution transposes of 96 channels; a matrix product
over the channel axis needs none, and the graph's own transposes cancel against onnxruntime's.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sassid.nets.layers import crop_to, pad_to_multiple
from sassid.nets.unet import UNet

__all__ = ["RawSkipSplitUNet", "RAW_SKIP"]

RAW_SKIP = "raw_skip"
"""The attribute holding the convolution over the raw input; exported ONNX node names contain
it, and ``sassid.backends.quantize`` leaves those nodes in fp32."""


class RawSkipSplitUNet(nn.Module):
    """``RawSkipSplitUNet(unet)(x) == unet(x)`` up to fp32 rounding, with the first convolution
    of the last decoder stage split into ``features`` (decoder channels) and ``raw_skip``
    (the input's channels). ``unet`` is copied, not changed. ``channels_last_matmuls``: compute
    ``raw_skip`` and the head as matrix products over channels-last pixels (see above)."""

    def __init__(self, unet: UNet, *, channels_last_matmuls: bool = False) -> None:
        super().__init__()
        self.channels_last_matmuls = channels_last_matmuls
        if unet.trunk.upward:
            raise ValueError("RawSkipSplitUNet takes the U-Net denoiser, not a blind-spot trunk")
        self.unet = copy.deepcopy(unet)
        self.size_multiple = unet.size_multiple
        last = self.unet.trunk.decoder[-1]
        assert isinstance(last, nn.Sequential)
        conv = last[0]
        assert isinstance(conv, nn.Conv2d) and conv.bias is not None
        raw_channels = conv.in_channels - self.unet.head.in_channels
        features = conv.in_channels - raw_channels
        self.features = nn.Conv2d(features, conv.out_channels, 3, padding=1)
        self.raw_skip = nn.Conv2d(raw_channels, conv.out_channels, 3, padding=1, bias=False)
        weight = conv.weight.detach()
        self.features.load_state_dict({"weight": weight[:, :features], "bias": conv.bias.detach()})
        self.raw_skip.load_state_dict({"weight": weight[:, features:]})
        self.rest = nn.Sequential(*list(last)[1:])  # LeakyReLU, conv, LeakyReLU

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        return crop_to(self.unpadded(pad_to_multiple(x, self.size_multiple, mode="reflect")), h, w)

    def unpadded(self, x: Tensor) -> Tensor:
        """The network on ``x`` whose sides are already multiples of ``size_multiple``."""
        f = self.unet.trunk.upsampled_features(x)
        if not self.channels_last_matmuls:
            return self.unet.head(self.rest(self.features(f) + self.raw_skip(x)))
        summed = to_nhwc(self.features(f)) + conv3x3_nhwc(to_nhwc(x), self.raw_skip)
        t = to_nhwc(self.rest(to_nchw(summed)))
        head = self.unet.head
        weight = head.weight[:, :, 0, 0].t()  # (96, 3): the 1x1 head as a matrix
        out = t @ weight
        return to_nchw(out if head.bias is None else out + head.bias)


def to_nhwc(x: Tensor) -> Tensor:
    return x.permute(0, 2, 3, 1)


def to_nchw(x: Tensor) -> Tensor:
    return x.permute(0, 3, 1, 2)


def conv3x3_nhwc(x: Tensor, conv: nn.Conv2d) -> Tensor:
    """``conv`` (3x3, zero padding 1, no bias) of ``x`` in (N, H, W, C) order, as one matrix
    product over its 3x3 patches: (N, H, W, 9C) @ (9C, O) -> (N, H, W, O)."""
    padded = F.pad(x, (0, 0, 1, 1, 1, 1))  # C untouched, W and H by one on each side
    cut = [slice(0, -2), slice(1, -1), slice(2, None)]  # tap k of 3 along an axis
    patches = torch.cat([padded[:, i, j] for i in cut for j in cut], dim=-1)  # tap-major
    out_ch, in_ch = conv.weight.shape[:2]
    weight = conv.weight.permute(2, 3, 1, 0).reshape(9 * in_ch, out_ch)  # (tap, C) rows
    return patches @ weight
