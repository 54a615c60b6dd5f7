"""Running trained networks on photos: the ``unet`` denoiser, the teachers, or their fusion.

``Denoiser`` wraps a model file's networks and applies the chosen one with optional tiling and
the x8 self-ensemble. ``net = "fusion"`` is the paper's image-level fusion (Table 3):
(1 - alpha) * BNN + alpha * LAN, alpha from the BNN output.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from sassid.adaptive import alpha_map
from sassid.errors import OptionError, SassidError
from sassid.io import from_pixels, to_pixels
from sassid.tiling import check_tiling, ensemble_x8, run_tiled

__all__ = ["Denoiser", "NET_CHOICES"]

NET_CHOICES = ("unet", "bnn", "lan", "fusion")
DEFAULT_TILE = 512


def _fusion(bnn: nn.Module, lan: nn.Module) -> Callable[[Tensor], Tensor]:
    def fused(x: Tensor) -> Tensor:
        bnn_out = bnn(x)
        alpha = alpha_map(bnn_out)
        return (1 - alpha) * bnn_out + alpha * lan(x)

    return fused


@dataclass
class Denoiser:
    """Apply one of a model's networks to whole photos.

    Args:
        nets: networks by name (``load_model`` output).
        net: ``unet`` (the method), ``bnn``, ``lan`` or ``fusion`` (or any key of ``nets``).
        tile: tile side in pixels (0: whole image); overlap: pixels shared by adjacent tiles.
        ensemble: average the x8 flips/rotations.
        source: the model file, named in errors.

    Raises:
        OptionError: bad tile/overlap or unknown net; SassidError: the model lacks the net, or
            its output holds NaN/inf (never written as a black image).
    """

    nets: dict[str, nn.Module]
    net: str = "unet"
    tile: int = 512
    overlap: int = 64
    ensemble: bool = False
    device: torch.device | str = "cpu"
    source: str = "model"

    def __post_init__(self) -> None:
        check_tiling(self.tile, self.overlap)
        needed = ("bnn", "lan") if self.net == "fusion" else (self.net,)
        missing = [n for n in needed if n not in self.nets]
        if self.net not in NET_CHOICES and self.net not in self.nets:
            raise OptionError(f"unknown net {self.net!r} (choose from {', '.join(NET_CHOICES)})")
        if missing:
            raise SassidError(
                f"the model has no {' or '.join(missing)} network for --net {self.net}"
            )
        for n in needed:
            self.nets[n].to(self.device).eval()
        self._fn: Callable[[Tensor], Tensor] = (
            _fusion(self.nets["bnn"], self.nets["lan"])
            if self.net == "fusion"
            else self.nets[self.net]
        )

    @classmethod
    def from_model(
        cls,
        model: str | os.PathLike[str],
        *,
        net: str = "unet",
        tile: int | None = None,
        overlap: int | None = None,
        ensemble: bool = False,
        device: str = "auto",
    ) -> Denoiser:
        """Load ``model`` (run dir, model file, checkpoint or reference weights) for ``net``.

        ``tile=None`` picks 512 for the U-Net and, for the teachers (bnn, lan, fusion), the crop
        size they were trained on: a BNN trained on small crops degrades on larger inputs.
        ``overlap=None`` is a quarter of the tile.
        """
        from sassid.models import networks_from_payload, read_model_source, training_patch_size
        from sassid.train import resolve_device

        if tile is not None and overlap is not None:
            check_tiling(tile, overlap)  # before the model is read: a bad option fails first
        path, payload = read_model_source(model)
        if tile is None:
            trained = training_patch_size(payload) if net != "unet" else None
            tile = trained or DEFAULT_TILE
        if overlap is None:
            overlap = max(tile, 0) // 4
        return cls(
            networks_from_payload(path, payload, net),
            net=net,
            tile=tile,
            overlap=overlap,
            ensemble=ensemble,
            device=resolve_device(device),
            source=str(path),
        )

    def tensor(self, x: Tensor, on_tile: Callable[[], None] | None = None) -> Tensor:
        """(1, 3, H, W) in [0, 255] -> denoised, same shape."""
        fn = self._fn
        if self.ensemble:
            base = fn
            fn = lambda t: ensemble_x8(base, t)  # noqa: E731
        with torch.inference_mode():
            x = x.to(self.device)
            out = run_tiled(fn, x, self.tile, self.overlap, on_tile) if self.tile else fn(x)
            if not bool(torch.isfinite(out).all()):
                raise SassidError(
                    f"{self.source}: the {self.net} network output holds NaN or infinite values "
                    "(nothing written)"
                )
            return out

    def pixels(self, pixels: np.ndarray, on_tile: Callable[[], None] | None = None) -> np.ndarray:
        """HWC uint8/uint16 -> denoised, same dtype (rounded half up, clamped)."""
        x = torch.from_numpy(to_pixels(pixels))[None]
        out = self.tensor(x, on_tile)[0].float().cpu().numpy()
        return from_pixels(out, pixels.dtype.type)

    def tiles_for(self, height: int, width: int) -> int:
        from sassid.tiling import tile_grid

        if not self.tile or (height <= self.tile and width <= self.tile):
            return 1
        return len(tile_grid(height, self.tile, self.overlap)) * len(
            tile_grid(width, self.tile, self.overlap)
        )
