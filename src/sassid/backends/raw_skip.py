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
"""

from __future__ import annotations

import copy

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
    (the input's channels). ``unet`` is copied, not changed."""

    def __init__(self, unet: UNet) -> None:
        super().__init__()
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
        return self.unet.head(self.rest(self.features(f) + self.raw_skip(x)))
