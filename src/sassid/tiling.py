"""Tiled inference with overlap and smooth blending, so memory stays bounded on any photo.

The grid is computed apart from running it (``tile_grid``), and blending is deterministic:
each tile's output is weighted by a separable window that is 0 over the outer ``overlap // 4``
pixels of every edge shared with a neighbour tile (those pixels saw padding, not the real
neighbourhood) and then rises linearly to 1; the weighted sum is divided by the summed weights.
A network that looks at most ``overlap // 4`` pixels away therefore tiles exactly; networks
with a wider reach (the U-Net) differ from whole-image output by a small, measured amount.
Peak memory is that of one tile through the network plus full-size float32 buffers (input,
weighted output, weights: 28 bytes per pixel); with the uint8/float conversions of a file
around it, under 100 bytes per pixel (~2.4 GB for a 24 MP photo).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sassid.errors import OptionError

__all__ = [
    "check_tiling",
    "check_tile_options",
    "tile_grid",
    "blend_window",
    "run_tiled",
    "ensemble_x8",
]


def check_tiling(tile: int, overlap: int) -> None:
    """A tile of ``tile`` pixels (0: whole image) with ``overlap`` >= 0 shared pixels; the
    stride ``tile - overlap`` must be positive, else tiles leave gaps or never advance.

    Raises:
        OptionError: one line naming the options.
    """
    if tile < 0 or overlap < 0:
        raise OptionError(f"--tile ({tile}) and --overlap ({overlap}) must be >= 0")
    if tile and tile <= overlap:
        raise OptionError(f"--tile ({tile}) must be larger than --overlap ({overlap})")


def check_tile_options(tile: int | None, overlap: int | None) -> None:
    """The user's ``--tile``/``--overlap`` (None: the default), checked before any work and
    naming only what was given."""
    if tile is not None and tile < 0:
        raise OptionError(f"--tile ({tile}) must be >= 0 (0: whole image)")
    if overlap is not None and overlap < 0:
        raise OptionError(f"--overlap ({overlap}) must be >= 0")
    if tile is not None and overlap is not None:
        check_tiling(tile, overlap)


def tile_grid(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one axis: stride tile - overlap, the last tile flush with the end.
    Every pixel of ``range(length)`` lies in some tile."""
    check_tiling(tile, overlap)
    if tile == 0:
        raise OptionError("tile_grid needs tile >= 1 (0 means no tiling)")
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    starts.append(length - tile)
    return starts


def _edge_ramp(
    n: int, overlap: int, rising: bool, falling: bool, device: torch.device | None
) -> Tensor:
    """Weights along one axis of a tile. At an edge shared with a neighbour tile, the first
    ``overlap // 4`` pixels get weight 0 (they saw zero padding instead of the real
    neighbourhood) and the next ones rise linearly to 1; edges on the image border keep 1."""
    w = torch.ones(n, device=device)
    margin = overlap // 4
    span = max(overlap - 2 * margin, 1)
    d = torch.arange(n, device=device, dtype=torch.float32)
    ramp = ((d - margin + 1) / (span + 1)).clamp(0, 1)
    if rising:
        w = torch.minimum(w, ramp)
    if falling:
        w = torch.minimum(w, ramp.flip(0))
    return w


def blend_window(
    height: int,
    width: int,
    overlap: int,
    interior: tuple[bool, bool, bool, bool] = (True, True, True, True),
    device: torch.device | None = None,
) -> Tensor:
    """(1, 1, height, width) weights of one tile; ``interior`` says which of its (top, bottom,
    left, right) edges are shared with another tile."""
    top, bottom, left, right = interior
    rows = _edge_ramp(height, overlap, top, bottom, device)
    cols = _edge_ramp(width, overlap, left, right, device)
    return (rows[:, None] * cols[None, :])[None, None]


def run_tiled(
    fn: Callable[[Tensor], Tensor],
    image: Tensor,
    tile: int,
    overlap: int,
    on_tile: Callable[[], None] | None = None,
) -> Tensor:
    """Apply ``fn`` to overlapping ``tile`` x ``tile`` crops of ``image`` (B, C, H, W), blend.

    ``fn`` sees tensors on ``image``'s device and returns the same shape. Images no larger than
    one tile go through whole.
    """
    check_tiling(tile, overlap)
    _, _, h, w = image.shape
    if tile == 0 or (h <= tile and w <= tile):
        return fn(image)
    rows, cols = tile_grid(h, tile, overlap), tile_grid(w, tile, overlap)
    out = torch.zeros_like(image)
    weight = torch.zeros_like(image[:, :1])
    for top in rows:
        for left in cols:
            crop = image[..., top : top + tile, left : left + tile]
            ch, cw = crop.shape[-2:]
            interior = (top > 0, top + ch < h, left > 0, left + cw < w)
            window = blend_window(ch, cw, overlap, interior, image.device)
            out[..., top : top + ch, left : left + cw] += fn(crop) * window
            weight[..., top : top + ch, left : left + cw] += window
            if on_tile is not None:
                on_tile()
    return out.div_(weight)  # in place: no third full-size buffer


def ensemble_x8(fn: Callable[[Tensor], Tensor], image: Tensor) -> Tensor:
    """The x8 geometric self-ensemble: mean of fn over {identity, rot90} x {flip H, flip W}
    combinations, each output mapped back by the inverse transform."""
    total = torch.zeros_like(image)
    for i in range(8):
        x = image
        if i >= 4:
            x = x.flip(-2)
        if i % 4 > 1:
            x = x.flip(-1)
        if i % 2:
            x = torch.rot90(x, 1, (-2, -1))
        y = fn(x)
        if i % 2:
            y = torch.rot90(y, -1, (-2, -1))
        if i % 4 > 1:
            y = y.flip(-1)
        if i >= 4:
            y = y.flip(-2)
        total += y
    return total / 8
