"""U-Net denoiser of Li et al. (CVPR 2023), Sec. 3.3: the only network that runs at inference.

A plain (non-residual) five-level U-Net predicting the clean image in [0, 255]; 1,083,747
parameters. Differs from the reference in one way: any H x W is accepted; inputs are
reflect-padded at the bottom and right to a multiple of 32 and the output is cropped back.
"""

from __future__ import annotations

from torch import Tensor, nn

from sassid.nets.layers import crop_to, init_kaiming_, pad_to_multiple
from sassid.nets.trunk import SIZE_MULTIPLE, Trunk

__all__ = ["UNet"]


class UNet(nn.Module):
    """The final denoiser: ``denoised = UNet()(noisy)``, both (B, C, H, W) in [0, 255]."""

    size_multiple = SIZE_MULTIPLE

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        enc_channels: int = 48,
        dec_channels: int = 96,
    ) -> None:
        super().__init__()
        self.trunk = Trunk(
            in_channels=in_channels, enc_channels=enc_channels, dec_channels=dec_channels
        )
        self.head = nn.Conv2d(dec_channels, out_channels, 1)
        init_kaiming_(self, last=self.head)

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        x = pad_to_multiple(x, self.size_multiple, mode="reflect")
        return crop_to(self.head(self.trunk(x)), h, w)
