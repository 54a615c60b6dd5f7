"""Blind-neighbourhood network (BNN) of Li et al. (CVPR 2023), Sec. 3.1.

Predicts each pixel from pixels outside a centred ``blind_size`` x ``blind_size`` window, so
noise correlated within that window cannot be copied to the output. Construction: the upward
half-plane trunk (``sassid.nets.trunk``) is applied to the input rotated by 0, 90, 180 and 270
degrees; each branch's features are shifted down by k = (blind_size + 1) // 2 rows, so they see
rows <= r - k only; the branches are rotated back and fused per pixel by 1x1 convs. The union of
the four shifted half-planes leaves out exactly |dy| < k and |dx| < k: a (2k - 1)^2 window.
blind_size = 1 is the classic blind-spot network of Laine et al.; 9 is the paper's.

Differences from the reference: it accepts any H x W. The input is zero-padded at the bottom and
right to a multiple of 32 and the output cropped back. Zero padding is the only choice that keeps
the blind window exact: reflected or replicated borders would copy pixels from inside the window
to positions the network can see. Non-square inputs run the trunk twice (0/180 and 90/270
branches batched together) instead of once on a 4x batch; on square inputs both are the same.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sassid.nets.layers import (
    crop_to,
    init_kaiming_,
    leaky_relu,
    pad_to_multiple,
    rotate,
    shift_down,
)
from sassid.nets.trunk import SIZE_MULTIPLE, Trunk

__all__ = ["BNN"]


class BNN(nn.Module):
    """Blind-neighbourhood network: (B, C, H, W) in [0, 255] -> estimate of the clean image."""

    size_multiple = SIZE_MULTIPLE

    def __init__(
        self,
        blind_size: int = 9,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        enc_channels: int = 48,
        dec_channels: int = 96,
    ) -> None:
        super().__init__()
        if blind_size < 1 or blind_size % 2 == 0:
            raise ValueError(f"blind_size must be a positive odd integer, got {blind_size}")
        self.blind_size = blind_size
        self.shift = (blind_size + 1) // 2
        self.trunk = Trunk(
            in_channels=in_channels,
            enc_channels=enc_channels,
            dec_channels=dec_channels,
            upward=True,
        )
        fused = 4 * dec_channels
        self.head = nn.Sequential(
            nn.Conv2d(fused, fused, 1),
            leaky_relu(),
            nn.Conv2d(fused, dec_channels, 1),
            leaky_relu(),
            nn.Conv2d(dec_channels, out_channels, 1),
        )
        last = self.head[-1]
        assert isinstance(last, nn.Conv2d)
        init_kaiming_(self, last=last)

    def _branch_features(self, x: Tensor) -> list[Tensor]:
        """Trunk features of the input rotated by 0, 1, 2, 3 quarter turns (in that order)."""
        if x.shape[-2] == x.shape[-1]:
            return list(self.trunk(torch.cat([rotate(x, k) for k in range(4)])).chunk(4))
        f0, f2 = self.trunk(torch.cat([x, rotate(x, 2)])).chunk(2)
        f1, f3 = self.trunk(torch.cat([rotate(x, 1), rotate(x, 3)])).chunk(2)
        return [f0, f1, f2, f3]

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.size_multiple, mode="constant")
        branches = self._branch_features(x)
        aligned = [rotate(shift_down(f, self.shift), -k) for k, f in enumerate(branches)]
        return crop_to(self.head(torch.cat(aligned, dim=1)), h, w)
