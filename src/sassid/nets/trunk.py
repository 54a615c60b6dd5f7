"""The five-level U-Net trunk shared by the U-Net denoiser and the BNN.

Layout (Laine et al.'s HQ-SSL U-Net as used by Li et al.): a 48-channel encoder of seven 3x3
convs and five 2x2 max-pools, a 96-channel decoder of ten 3x3 convs with nearest upsampling and
skip concatenations, the raw input being the last skip. With ``upward=True`` every 3x3 conv sees
only rows above and including its own, and every pool is preceded by a one-row downward shift, so
output row r depends on input rows <= r only: the half-plane receptive field the BNN rotates.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from sassid.nets.layers import UpwardConv2d, leaky_relu, max_pool2x, shift_down, upsample2x

__all__ = ["Trunk", "SIZE_MULTIPLE", "encode"]

SIZE_MULTIPLE = 32
"""H and W must be multiples of 2**5 for five pooling levels."""


def encode(
    encoder: nn.ModuleList, x: Tensor, *, upward: bool = False
) -> tuple[Tensor, list[Tensor]]:
    """The encoder's six stages on ``x``: the deepest features (1/32 of the input's side) and
    the skips for the decoder, the pooled outputs of levels 0-3, shallowest first. ``upward``:
    shift each map down a row before its pool (the BNN's half-plane trunk)."""
    skips = []
    h = x
    for level, stage in enumerate(encoder):
        h = stage(h)
        if level < 5:
            if upward:
                h = shift_down(h, 1)
            h = max_pool2x(h)
            if level < 4:
                skips.append(h)
    return h, skips


def _conv(in_ch: int, out_ch: int, upward: bool) -> nn.Conv2d:
    return UpwardConv2d(in_ch, out_ch, 3) if upward else nn.Conv2d(in_ch, out_ch, 3, padding=1)


class Trunk(nn.Module):
    """Encoder-decoder feature extractor returning ``dec_channels`` maps at input resolution."""

    def __init__(
        self,
        *,
        in_channels: int = 3,
        enc_channels: int = 48,
        dec_channels: int = 96,
        upward: bool = False,
    ) -> None:
        super().__init__()
        self.upward = upward
        e, d = enc_channels, dec_channels

        def block(*convs: tuple[int, int]) -> nn.Sequential:
            layers: list[nn.Module] = []
            for cin, cout in convs:
                layers += [_conv(cin, cout, upward), leaky_relu()]
            return nn.Sequential(*layers)

        # Encoder: level 0 has two convs, levels 1-5 one each; levels 0-4 end in a pool.
        self.encoder = nn.ModuleList(
            [block((in_channels, e), (e, e))] + [block((e, e)) for _ in range(5)]
        )
        # Decoder, deepest first: inputs are upsampled features concatenated with a skip.
        self.decoder = nn.ModuleList(
            [
                block((e + e, d), (d, d)),
                block((d + e, d), (d, d)),
                block((d + e, d), (d, d)),
                block((d + e, d), (d, d)),
                block((d + in_channels, d), (d, d)),
            ]
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder[-1](torch.cat([self.upsampled_features(x), x], dim=1))

    def upsampled_features(self, x: Tensor) -> Tensor:
        """Everything but the last decoder stage: its input is these ``dec_channels`` maps at
        input resolution concatenated with the raw input ``x`` (the last skip)."""
        h, skips = encode(self.encoder, x, upward=self.upward)
        h = upsample2x(h)
        for stage in self.decoder[:-1]:
            h = upsample2x(stage(torch.cat([h, skips.pop()], dim=1)))
        return h
