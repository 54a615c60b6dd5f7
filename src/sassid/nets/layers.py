"""Primitives shared by the networks: padding to a size multiple, and the row shifts that
make a convolution see only the upper half-plane (the building block of the BNN)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["pad_to_multiple", "crop_to", "shift_down", "UpwardConv2d", "leaky_relu"]


def pad_to_multiple(x: Tensor, multiple: int, mode: str = "constant") -> Tensor:
    """Pad the bottom and right of an NCHW tensor so H and W are multiples of ``multiple``.

    ``mode`` is a :func:`torch.nn.functional.pad` mode. ``"reflect"`` falls back to
    ``"replicate"`` when a side is too small to reflect (reflection needs pad < size).
    """
    h, w = x.shape[-2:]
    pad_h = (-h) % multiple
    pad_w = (-w) % multiple
    if pad_h == 0 and pad_w == 0:
        return x
    if mode == "reflect" and (pad_h >= h or pad_w >= w):
        mode = "replicate"
    if mode == "constant":
        return F.pad(x, (0, pad_w, 0, pad_h), mode="constant", value=0.0)
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def crop_to(x: Tensor, height: int, width: int) -> Tensor:
    """Undo :func:`pad_to_multiple`: keep the top-left ``height`` x ``width``."""
    return x[..., :height, :width]


def shift_down(x: Tensor, rows: int) -> Tensor:
    """Move the map down by ``rows``: zero rows enter at the top, the bottom rows fall off.

    After this, the value at row r comes from row r - rows, so it depends only on input rows
    at least ``rows`` above r (given that its input already looked only upwards).
    """
    if rows == 0:
        return x
    return F.pad(x, (0, 0, rows, 0))[..., : x.shape[-2], :]


class UpwardConv2d(nn.Conv2d):
    """A k x k convolution whose output row r sees input rows r-(k-1) .. r only.

    Equivalent to a centred, zero-padded convolution followed by a downward shift of k // 2
    rows; done here as one asymmetric zero pad (k-1 rows on top, none below) and a valid conv.
    A 1 x 1 kernel is a plain 1 x 1 convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=0)
        self._pad = (kernel_size // 2, kernel_size // 2, kernel_size - 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, self._pad))


def leaky_relu() -> nn.Module:
    """The activation of the BNN and U-Net (LeakyReLU with slope 0.1, as the reference)."""
    return nn.LeakyReLU(0.1, inplace=True)


def init_kaiming_(module: nn.Module, last: nn.Conv2d | None = None) -> None:
    """Kaiming-normal init for LeakyReLU(0.1) on every conv, zero biases; ``last`` gets the
    linear-gain variant (the reference's scheme for BNN and U-Net)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0.1)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    if last is not None:
        nn.init.kaiming_normal_(last.weight, nonlinearity="linear")


def upsample2x(x: Tensor) -> Tensor:
    """Nearest-neighbour x2 upsampling."""
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def max_pool2x(x: Tensor) -> Tensor:
    """2 x 2 max-pool, stride 2."""
    return F.max_pool2d(x, 2)


def rotate(x: Tensor, quarter_turns: int) -> Tensor:
    """Rotate NCHW maps counter-clockwise by ``quarter_turns`` x 90 degrees.

    Written as flips and a transpose (what ``torch.rot90`` does internally) because the ONNX
    exporter has no ``rot90``: this is what lets the BNN export (``sassid.export``).
    """
    k = quarter_turns % 4
    if k == 0:
        return x
    if k == 2:
        return x.flip(-2).flip(-1)
    if k == 1:
        return x.flip(-1).transpose(-2, -1)
    return x.transpose(-2, -1).flip(-1)
