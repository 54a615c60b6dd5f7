"""The U-Net with each nearest-neighbour upsampling folded into the convolution after it: an
inference-only rewrite of a trained U-Net, equal to it up to float rounding.

Every decoder stage of the U-Net starts with ``y = conv3x3(cat([up2(h), skip]))``. Split the
output pixels by the parity (p, q) of their row and column: the 3 x 3 window of output pixel
(2i+p, 2j+q) over ``up2(h)`` covers only the 2 x 2 pixels of ``h`` at rows i-1+p, i+p and
columns j-1+q, j+q, so per phase the h part is a 2 x 2 convolution of ``h`` itself, with kernel

    K_pq = A_p W_h A_q^T,   A_0 = [[1, 0, 0], [0, 1, 1]],   A_1 = [[1, 1, 0], [0, 0, 1]]

(A_p sums the 3 taps of a kernel row or column that land on the same pixel of ``h``). One
2 x 2 convolution with ``4 C`` outputs, zero-padded by one pixel, computes all four phases at
``h``'s resolution: phase (p, q) of output pixel (i, j) is its channel block 2p+q at (i+p, j+q).
That is 4/9 of the multiply-adds of the h part, and the upsampled map and the concatenation are
never built. The skip part is either its own 3 x 3 convolution at full resolution, added phase by
phase, or, when the skip has few channels (the last stage, whose skip is the 3-channel input),
folded into the same 2 x 2 convolution after ``pixel_unshuffle(skip, 2)``: the full-resolution
rows 2i+p-1 .. 2i+p+1 of the skip lie in half-resolution rows i-1+p and i+p too.

The torch backend runs it on the CPU (``benchmarks/speed.py`` times it against the unfolded
network, call for call: 1.11-1.25x at 512² in bf16 with the trained 32/64 U-Net over four
runs, results/speed_cpu.md).
``sassid export`` writes the unfolded network, its trained weights as they are; a traced
``FoldedUNet`` still exports right (``_interleaved``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sassid.nets.layers import crop_to, pad_to_multiple
from sassid.nets.trunk import encode
from sassid.nets.unet import UNet

__all__ = ["FoldedUpConv", "FoldedUNet", "fold_upsampling"]

_TAPS = (
    torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], dtype=torch.float64),
    torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64),
)
"""A_p: which of a 3-tap kernel row lands on each of the 2 rows of h, for output phase p."""


def _phase_view(full: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, H/2, 2, W/2, 2, C) view; [b, i, p, j, q, c] is full[b, c, 2i+p, 2j+q]."""
    b, c, h, w = full.shape
    sb, sc, sh, sw = full.stride()
    return full.as_strided(
        (b, h // 2, 2, w // 2, 2, c), (sb, 2 * sh, sh, 2 * sw, sw, sc), full.storage_offset()
    )


def _interleaved(low: Tensor, channels: int) -> Tensor:
    """The phases of ``low`` (B, 4C, H/2+1, W/2+1) interleaved into (B, C, H, W) with ops
    that a traced graph records for every size (slices, stack, pixel_shuffle): the strided
    view of ``_shifted_phase_view`` is traced with the example's strides, which would be wrong
    for any other size in an exported ONNX graph."""
    c = channels
    phases = [
        low[:, k * c : (k + 1) * c, p : low.shape[2] - 1 + p, q : low.shape[3] - 1 + q]
        for k, (p, q) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1)))
    ]
    stacked = torch.stack(phases, dim=2)  # channel c*4 + 2p + q, as pixel_shuffle reads it
    return F.pixel_shuffle(stacked.flatten(1, 2), 2)


def _shifted_phase_view(low: Tensor, channels: int) -> Tensor:
    """(B, 4C, H/2+1, W/2+1) -> (B, H/2, 2, W/2, 2, C) view; [b, i, p, j, q, c] is
    low[b, (2p+q) C + c, i+p, j+q]: the phases of the 2 x 2 convolution, each at its own offset.
    """
    b, _, h1, w1 = low.shape
    sb, sc, sh, sw = low.stride()
    size = (b, h1 - 1, 2, w1 - 1, 2, channels)
    stride = (sb, sh, sh + 2 * channels * sc, sw, sw + channels * sc, sc)
    return low.as_strided(size, stride, low.storage_offset())


class FoldedUpConv(nn.Module):
    """``leaky_relu(conv(cat([up2(h), skip])))`` computed at ``h``'s resolution (module doc).

    Built from the 3 x 3, padding-1 ``conv`` whose first ``up_channels`` inputs are the
    upsampled map; ``slope`` is the LeakyReLU's negative slope.
    """

    def __init__(self, conv: nn.Conv2d, up_channels: int, slope: float) -> None:
        super().__init__()
        plain = conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
        if (
            conv.kernel_size != (3, 3)
            or conv.padding != (1, 1)
            or conv.padding_mode != "zeros"
            or not plain
            or conv.bias is None
        ):
            raise ValueError(
                "FoldedUpConv folds a plain 3x3 convolution with zero padding 1 and a bias"
            )
        # Derived on the CPU in float64 whatever the conv's device (the taps live there), then
        # copied into parameters on the conv's device and dtype.
        weight = conv.weight.detach().to("cpu", torch.float64)
        out_ch, in_ch = weight.shape[:2]
        skip_ch = in_ch - up_channels
        self.out_channels = out_ch
        self.slope = slope
        # Folding the skip in costs 16/9 of its multiply-adds (a 2 x 2 window over 4 unshuffled
        # channels per skip channel, 9 of its 16 taps nonzero) but saves a full-resolution conv
        # and the add pass: worth it when the skip is narrow beside the upsampled map (the last
        # stage's 3-channel input), not for the encoder's skips.
        self.skip_folded = 4 * skip_ch <= up_channels
        low_in = up_channels + (4 * skip_ch if self.skip_folded else 0)
        kernel = torch.zeros(4 * out_ch, low_in, 2, 2, dtype=torch.float64)
        for p in range(2):
            for q in range(2):
                block = kernel[(2 * p + q) * out_ch : (2 * p + q + 1) * out_ch]
                block[:, :up_channels] = torch.einsum(
                    "ay,ocyx,bx->ocab", _TAPS[p], weight[:, :up_channels], _TAPS[q]
                )
                if self.skip_folded:
                    self._fold_skip(block, weight[:, up_channels:], up_channels, p, q)
        dtype, device = conv.weight.dtype, conv.weight.device
        self.low = nn.Conv2d(low_in, 4 * out_ch, 2, padding=1, bias=self.skip_folded)
        self.low.to(device, dtype)
        self.low.weight.data.copy_(kernel)
        if self.skip_folded:
            assert self.low.bias is not None
            self.low.bias.data.copy_(conv.bias.detach().repeat(4))  # one copy per phase
            self.skip: nn.Conv2d | None = None
        else:
            self.skip = nn.Conv2d(skip_ch, out_ch, 3, padding=1).to(device, dtype)
            self.skip.weight.data.copy_(conv.weight.detach()[:, up_channels:])
            self.skip.bias.data.copy_(conv.bias.detach())  # type: ignore[union-attr]

    @staticmethod
    def _fold_skip(block: Tensor, skip_weight: Tensor, offset: int, p: int, q: int) -> None:
        """Write the 3 x 3 skip kernel into phase (p, q)'s 2 x 2 kernel over the unshuffled skip.

        Half-resolution row r in {0, 1} of the window, sub-row s (pixel_unshuffle's channel
        c*4 + 2s + t) is full row 2(i-1+p+r)+s, i.e. kernel row p-1+2r+s of output row 2i+p.
        """
        channels = torch.arange(skip_weight.shape[1]) * 4 + offset
        for r in range(2):
            for s in range(2):
                ky = p - 1 + 2 * r + s
                for u in range(2):
                    for t in range(2):
                        kx = q - 1 + 2 * u + t
                        if 0 <= ky <= 2 and 0 <= kx <= 2:
                            block[:, channels + 2 * s + t, r, u] = skip_weight[:, :, ky, kx]

    def forward(self, h: Tensor, skip: Tensor) -> Tensor:
        """(B, C_up, H/2, W/2) ``h`` and (B, C_skip, H, W) ``skip`` ->
        ``leaky_relu(conv(cat([up2(h), skip])))``, (B, C_out, H, W). Eager: phases written
        through strided views; traced or compiled: slices + pixel_shuffle (``_interleaved``)."""
        b, _, height, width = skip.shape
        if (height, width) != (2 * h.shape[-2], 2 * h.shape[-1]):
            raise ValueError(f"skip {tuple(skip.shape)} is not twice h {tuple(h.shape)}")
        c = self.out_channels
        traced = torch.jit.is_tracing() or torch.compiler.is_compiling()
        if self.skip is None:
            low = self.low(torch.cat([h, F.pixel_unshuffle(skip, 2)], dim=1))
            if traced:
                return F.leaky_relu(_interleaved(low, c), self.slope)
            F.leaky_relu_(low, self.slope)
            out = torch.empty(
                (b, c, height, width),
                dtype=low.dtype,
                device=low.device,
                memory_format=_format(low),
            )
            _phase_view(out).copy_(_shifted_phase_view(low, c))
            return out
        low = self.low(h)
        if traced:
            return F.leaky_relu(self.skip(skip) + _interleaved(low, c), self.slope)
        out = self.skip(skip)
        _phase_view(out).add_(_shifted_phase_view(low, c))
        return F.leaky_relu_(out, self.slope)


def _layers(stage: nn.Module) -> list[nn.Module]:
    """A trunk stage's layers in order (an ``nn.Sequential`` of conv, activation, ...)."""
    return list(stage.children())


def _format(x: Tensor) -> torch.memory_format:
    """The memory format ``x`` is laid out in (channels_last or contiguous)."""
    if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


class FoldedUNet(nn.Module):
    """A trained :class:`UNet` with its upsamplings folded (module doc): same input, same output
    up to float rounding, for inference only (the folded kernels are derived, not trained)."""

    size_multiple = UNet.size_multiple

    def __init__(self, unet: UNet) -> None:
        super().__init__()
        trunk = unet.trunk
        if trunk.upward:
            raise ValueError("only the U-Net's centred trunk folds (the BNN's looks upwards)")
        first_conv = _layers(trunk.encoder[0])[0]
        assert isinstance(first_conv, nn.Conv2d)
        in_ch, enc_ch = first_conv.in_channels, first_conv.out_channels
        self.encoder = trunk.encoder
        self.first = nn.ModuleList()
        self.rest = nn.ModuleList()
        for level, stage in enumerate(trunk.decoder):
            conv, act, *rest = _layers(stage)
            assert isinstance(conv, nn.Conv2d) and isinstance(act, nn.LeakyReLU)
            skip_ch = in_ch if level == len(trunk.decoder) - 1 else enc_ch
            self.first.append(
                FoldedUpConv(conv, conv.in_channels - skip_ch, float(act.negative_slope))
            )
            self.rest.append(nn.Sequential(*rest))
        self.head = unet.head

    def forward(self, x: Tensor) -> Tensor:
        height, width = x.shape[-2:]
        x = pad_to_multiple(x, self.size_multiple, mode="reflect")
        h, skips = encode(self.encoder, x)
        skips.insert(0, x)  # the raw input is the last stage's skip
        for first, rest in zip(self.first, self.rest, strict=True):
            h = rest(first(h, skips.pop()))
        return crop_to(self.head(h), height, width)


def fold_upsampling(net: nn.Module) -> nn.Module:
    """``net`` as a :class:`FoldedUNet` when it is a :class:`UNet`; any other network unchanged.

    The folded modules share the encoder and head with ``net``; copy it first to keep them apart.
    """
    return FoldedUNet(net) if isinstance(net, UNet) else net
