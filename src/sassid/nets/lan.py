"""Locally aware network (LAN) of Li et al. (CVPR 2023), Sec. 3.2.

A network with a tiny spatial receptive field: one 1x1 conv, then (receptive_field - 1) / 2
3x3 convs (the only spatial ones), then a body of 1x1 residual blocks with RCAN-style channel
attention, then a 1x1 conv to RGB. 94,939 parameters at receptive_field = 3.

Locality, stated exactly: the output at pixel p is a function of (a) the input pixels in the
receptive_field x receptive_field window centred on p (zero outside the image), and (b) the
per-image channel means that the attention blocks pool over the whole feature map. Nothing else.
Part (b) makes the output depend weakly on the whole image, so a LAN evaluated on a 256 patch
and on a full photo differ slightly; this is the reference's behaviour and is kept.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["LAN", "ChannelAttention", "ResidualBlock"]


class ChannelAttention(nn.Module):
    """x * sigmoid(W2 relu(W1 mean_hw(x))): a per-channel gate from global means."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.squeeze = nn.Conv2d(channels, channels // reduction, 1)
        self.excite = nn.Conv2d(channels // reduction, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        gate = self.excite(self.squeeze(self.pool(x)).relu()).sigmoid()
        return x * gate


class ResidualBlock(nn.Module):
    """x + attention(W2 relu(W1 x)), all 1x1."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 1)
        self.conv2 = nn.Conv2d(channels, channels, 1)
        self.attention = ChannelAttention(channels, reduction)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.attention(self.conv2(self.conv1(x).relu()))


class LAN(nn.Module):
    """Locally aware network: (B, C, H, W) in [0, 255] -> a detail-preserving estimate."""

    size_multiple = 1

    def __init__(
        self,
        receptive_field: int = 3,
        *,
        in_channels: int = 3,
        width: int = 64,
        num_blocks: int = 6,
        reduction: int = 16,
    ) -> None:
        super().__init__()
        if receptive_field < 1 or receptive_field % 2 == 0:
            raise ValueError(
                f"receptive_field must be a positive odd integer, got {receptive_field}"
            )
        self.receptive_field = receptive_field
        self.entry = nn.Conv2d(in_channels, width, 1)
        self.local = nn.ModuleList(
            nn.Conv2d(width, width, 3, padding=1) for _ in range(receptive_field // 2)
        )
        self.blocks = nn.ModuleList(ResidualBlock(width, reduction) for _ in range(num_blocks))
        self.tail = nn.Conv2d(width, width, 1)
        self.exit = nn.Conv2d(width, in_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.entry(x).relu()
        for conv in self.local:
            h = conv(h).relu()
        r = h
        for block in self.blocks:
            r = block(r)
        return self.exit(h + self.tail(r))
