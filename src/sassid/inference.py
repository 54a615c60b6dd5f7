"""Running trained networks on photos: the ``unet`` denoiser, the teachers, or their fusion.

``Denoiser`` wraps a model's networks and applies the chosen one with optional tiling and the
x8 self-ensemble. ``net = "fusion"`` is the paper's image-level fusion (Table 3):
(1 - alpha) * BNN + alpha * LAN, alpha from the BNN output with the model's own ``[alpha]``
settings. The inference rules (which tile size each network gets) live here and only here.
Each network runs through an inference backend (``sassid.backends``: torch or onnxruntime,
fp32, bf16 or int8); tiling, ensemble and pixel conversion are the same for all of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from sassid.adaptive import alpha_map
from sassid.config import AlphaConfig
from sassid.corrections import restore_low_frequencies
from sassid.device import resolve_device
from sassid.errors import OptionError, SassidError
from sassid.guard import GateChoice, apply_gate, choose_gate
from sassid.models import ModelFile, read_model
from sassid.noise import measure_noise
from sassid.pixels import from_pixels, to_pixels
from sassid.tiling import check_tile_options, check_tiling, ensemble_x8, run_tiled, tile_grid

__all__ = [
    "Denoiser",
    "fuse",
    "NET_CHOICES",
    "DEFAULT_TILE",
    "UNET_MAX_OVERLAP",
    "default_tile",
    "default_overlap",
]

NET_CHOICES = ("unet", "bnn", "lan", "fusion")
DEFAULT_TILE = 512
"""The U-Net's tile side: it runs at any size, so the tile only bounds memory."""
FLAT_SPREAD = 4.0
"""A one-colour output is refused for a photo whose pixel std, or mean distance to that colour,
passes this many noise stds."""
_BAND_ROWS = 256


def default_tile(net: str, patch_size: int | None) -> int:
    """The tile side for ``net``: the U-Net gets ``DEFAULT_TILE``; the teachers (and their
    fusion) get the crop size they trained on, since a BNN trained on small crops degrades on
    larger inputs (its border statistics change)."""
    if net == "unet" or not patch_size:
        return DEFAULT_TILE
    return patch_size


UNET_MAX_OVERLAP = 64
"""The U-Net's overlap at most (px). Tiles of 512 overlapping by a quarter (128) compute a
24 MP photo 1.92 times over, by 64 1.38 times. On the real sets in tiles of 256 with every seam
at the overlap tested (results/tiling_error_*.md), 64 left PSNR against clean within +0.012 dB
of a whole-image pass and no pixel more than 5 levels from it (SIDD; 1 on PolyU); at 48 one
pixel moved 37 levels."""


def default_overlap(tile: int, net: str) -> int:
    """A quarter of the tile, at most ``UNET_MAX_OVERLAP`` for the U-Net (whose output near a
    seam is measured, not exact); the blend's zero-weight margin is overlap/4
    (``sassid.tiling``). The teachers keep a quarter of their training-crop tiles."""
    if net == "unet":
        return min(tile // 4, UNET_MAX_OVERLAP)
    return tile // 4


def fuse(bnn_out: Tensor, lan_out: Tensor, alpha: AlphaConfig) -> Tensor:
    """The paper's image-level fusion of given teacher outputs: (1 - a) BNN + a LAN, with a
    from the BNN output (Eq. 3, ``alpha``'s settings)."""
    a = alpha_map(bnn_out, alpha.lower, alpha.upper, alpha.window)
    return (1 - a) * bnn_out + a * lan_out


def _fusion(
    bnn: Callable[[Tensor], Tensor], lan: Callable[[Tensor], Tensor], alpha: AlphaConfig
) -> Callable[[Tensor], Tensor]:
    def fused(x: Tensor) -> Tensor:
        return fuse(bnn(x), lan(x), alpha)

    return fused


@dataclass
class Denoiser:
    """Apply one of a model's networks to whole photos.

    Args:
        nets: networks by name (``load_model`` output).
        net: ``unet`` (the method), ``bnn``, ``lan`` or ``fusion`` (or any key of ``nets``).
        tile: tile side in pixels (0: whole image); overlap: pixels shared by adjacent tiles.
        ensemble: average the x8 flips/rotations.
        lowpass_sigma, noise_gate: the output corrections (``sassid.corrections``; 0 is off),
            the model's own via ``from_model``.
        alpha: Eq. 3 settings for ``fusion`` (the model's own, via ``from_model``).
        source: the model file, named in errors.
        backend, precision: how each network runs (``sassid.backends``); ``torch``/``fp32`` is
            the networks' own eager forward. ``calibration``: (1, 3, h, w) crops in [0, 255] of
            the user's noisy photos, for ``int8``.
        forward: a ready callable (B, 3, H, W) -> same to use instead of ``nets[net]``.
        guard: choose the noise gate's factor per photo (``sassid.guard``): the model's own
            unless the output is estimated worse than the noisy input. ``last_gate`` holds the
            verdict on the last photo ``pixels`` denoised (None: no gate, or not judged).

    Raises:
        OptionError: bad tile/overlap or unknown net; SassidError: the model lacks the net, or
            its output holds NaN/inf (never written as a black image).
    """

    nets: dict[str, nn.Module]
    net: str = "unet"
    tile: int = DEFAULT_TILE
    overlap: int = 64
    ensemble: bool = False
    device: torch.device | str = "cpu"
    alpha: AlphaConfig = AlphaConfig()
    lowpass_sigma: float = 0.0
    noise_gate: float = 0.0
    source: str = "model"
    backend: str = "torch"
    precision: str = "fp32"
    calibration: list[Tensor] | None = None
    forward: Callable[[Tensor], Tensor] | None = None
    guard: bool = True
    last_gate: GateChoice | None = field(default=None, init=False)

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
        if self.forward is not None:
            self._fn: Callable[[Tensor], Tensor] = self.forward
            return
        fns = {n: self._backend_forward(n) for n in needed}
        self._fn = (
            _fusion(fns["bnn"], fns["lan"], self.alpha) if self.net == "fusion" else fns[self.net]
        )

    def _backend_forward(self, name: str) -> Callable[[Tensor], Tensor]:
        net = self.nets[name]
        if self.backend == "torch" and self.precision == "fp32":
            return net  # the reference path: the module's own eager forward
        from sassid.backends import make_forward

        return make_forward(
            net,
            self.backend,
            self.precision,
            name=name,
            device=self.device,
            calibration=self.calibration,
        )

    def describe(self) -> str:
        """One line naming the backend, precision, tiling and output corrections, as
        ``sassid denoise`` prints it."""
        run = (
            "custom forward"
            if self.forward is not None
            else f"backend {self.backend}, precision {self.precision}"
        )
        extras = [
            f"tiles {self.tile} px overlapping {self.overlap}" if self.tile else "whole photos",
            "x8 ensemble" if self.ensemble else "",
            f"low frequencies restored ({self.lowpass_sigma:g} px)" if self.lowpass_sigma else "",
            f"noise gate {self.noise_gate:g}x" + (" (guarded)" if self.guard else "")
            if self.noise_gate
            else "",
        ]
        return ", ".join([f"{self.net}: {run}", *filter(None, extras)])

    @classmethod
    def from_model(
        cls,
        model: str | os.PathLike[str] | ModelFile,
        *,
        net: str = "unet",
        tile: int | None = None,
        overlap: int | None = None,
        ensemble: bool = False,
        device: str | torch.device = "auto",
        nets: dict[str, nn.Module] | None = None,
        backend: str = "torch",
        precision: str = "fp32",
        calibration: list[Tensor] | None = None,
        lowpass_sigma: float | None = None,
        noise_gate: float | None = None,
        guard: bool = True,
    ) -> Denoiser:
        """``net`` of ``model`` (run dir, model file, checkpoint, state_dict or reference
        weights, or an already read ``ModelFile``), with the inference rules applied:
        ``tile=None`` is ``default_tile(net, trained crop)``, ``overlap=None`` ``default_overlap``,
        and fusion uses the model's ``[alpha]`` settings. ``nets`` reuses networks already
        built from that model."""
        check_tile_options(tile, overlap)  # before the model is read: a bad option fails first
        source = read_model(model)
        if tile is None:
            tile = default_tile(net, source.patch_size)
        if overlap is None:
            overlap = default_overlap(tile, net)
        if nets is None:
            roles = ("bnn", "lan") if net == "fusion" else (net,)
            nets = source.networks(tuple(r for r in roles if r in source.nets))
        return cls(
            nets,
            net=net,
            tile=tile,
            overlap=overlap,
            ensemble=ensemble,
            device=resolve_device(device),
            alpha=source.alpha,
            source=str(source.path),
            backend=backend,
            precision=precision,
            calibration=calibration,
            lowpass_sigma=source.lowpass_sigma if lowpass_sigma is None else lowpass_sigma,
            noise_gate=source.noise_gate if noise_gate is None else noise_gate,
            guard=guard,
        )

    def tensor(self, x: Tensor, on_tile: Callable[[], None] | None = None) -> Tensor:
        """(1, 3, H, W) float32 in [0, 255] -> denoised, same shape.

        Raises:
            ValueError: another shape or type, or an input that is not finite (a NaN pixel
                would otherwise be blamed on the network); SassidError: the output is not.
        """
        if x.ndim != 4 or x.shape[1] != 3 or not x.is_floating_point():
            raise ValueError(f"need a (N, 3, H, W) float tensor, got {tuple(x.shape)} {x.dtype}")
        if not bool(torch.isfinite(x).all()):
            raise ValueError("the input holds NaN or infinite values")
        x = x.float()
        fn = self._fn
        if self.ensemble:
            base = fn
            fn = lambda t: ensemble_x8(base, t)  # noqa: E731
        with torch.inference_mode():
            x = x.to(self.device)
            out = self._run(fn, x, on_tile)
            if not bool(torch.isfinite(out).all()):
                raise SassidError(
                    f"{self.source}: the {self.net} network output holds NaN or infinite values "
                    "(nothing written)"
                )
            return out

    def pixels(self, pixels: np.ndarray, on_tile: Callable[[], None] | None = None) -> np.ndarray:
        """HWC uint8/uint16 -> denoised, same dtype (rounded half up, clamped).

        Raises:
            ValueError: not an (H, W, 3) uint8/uint16 array of at least one pixel.
        """
        if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] != 3:
            shape = getattr(pixels, "shape", type(pixels).__name__)
            raise ValueError(f"need (H, W, 3) uint8 or uint16 pixels, got {shape}")
        if pixels.shape[0] == 0 or pixels.shape[1] == 0:
            raise ValueError(f"need at least one pixel, got {pixels.shape}")
        x = torch.from_numpy(to_pixels(pixels))[None]
        out = self.tensor(x, on_tile)[0].float().cpu().numpy()
        self.last_gate = self.correct(pixels, x[0].numpy(), out)
        del x
        # Row bands: from_pixels holds one float64 buffer the size of a channel (190 MB for a
        # 24 MP photo in one go); a band's is 12 MB, so the peak stays the float32 output.
        result = np.empty((*out.shape[1:], out.shape[0]), dtype=pixels.dtype)
        for top in range(0, out.shape[1], _BAND_ROWS):
            band = out[:, top : top + _BAND_ROWS]
            result[top : top + _BAND_ROWS] = from_pixels(band, pixels.dtype.type)
        self._check_not_flat(pixels, result)
        return result

    def _check_not_flat(self, pixels: np.ndarray, result: np.ndarray) -> None:
        """Refuse an output that is one colour everywhere for a photo with more in it than
        noise, or far from that colour (its spread, or its mean distance to the colour, over
        4x its noise std and 1 level): what a broken model (a diverged training) gives,
        black, white or any flat colour, which would otherwise be written as a result. A
        flat scene (a grey card, a clear sky) may come out flat, in its own colour.

        Raises:
            SassidError: naming the model, the network and the colour.
        """
        if min(result.shape[:2]) < 2:
            return  # (a photo under 2 x 2 px is one colour, whatever the model)
        first = result[0, 0]
        for top in range(0, result.shape[0], _BAND_ROWS):  # bands: stops at the first change
            if not (result[top : top + _BAND_ROWS] == first).all():
                return
        try:
            sigma = measure_noise([pixels]).sigma
        except ValueError:  # too small to measure: any spread counts
            sigma = 0.0
        noisy = to_pixels(pixels)  # (3, H, W) in [0, PIXEL_MAX]
        colour = to_pixels(result[:1, :1])  # (3, 1, 1)
        limit = FLAT_SPREAD * max(sigma, 1.0)
        spread = float(noisy.std(axis=(1, 2)).max())  # per channel: a colour is not spread
        if spread > limit or float(np.abs(noisy - colour).mean()) > limit:
            rgb = "/".join(str(int(v)) for v in first)
            raise SassidError(
                f"{self.source}: the {self.net} network turns the whole photo into one colour "
                f"({rgb}): a broken model (a diverged training?); nothing written"
            )

    def correct(self, pixels: np.ndarray, noisy: np.ndarray, out: np.ndarray) -> GateChoice | None:
        """The model's output corrections (``sassid.corrections``), in place on ``out``: low
        frequencies back (``lowpass_sigma``), then the removed part gated to ``noise_gate``
        times the noise std measured on ``pixels`` (the stored HWC photo; photos smaller than
        ``sassid.noise``'s patch, too small to measure, are not gated), at the factor the guard
        chooses for this photo when ``guard`` is on. Returns the guard's verdict."""
        restore_low_frequencies(noisy, out, self.lowpass_sigma)
        if self.noise_gate <= 0:
            return None
        try:
            sigma = measure_noise([pixels]).sigma
        except ValueError:  # smaller than one noise patch: nothing to measure the gate against
            return None
        choice = None
        if self.guard:
            plain = None if self.ensemble else out  # out is _plain_output(noisy) unless ensembled
            try:
                choice = choose_gate(
                    pixels, noisy, self._plain_output, sigma, self.noise_gate, out=plain
                )
            except (ValueError, np.linalg.LinAlgError):  # advisory: the model's own gate then
                choice = None
        apply_gate(noisy, out, sigma, self.noise_gate if choice is None else choice.factor)
        return choice

    def _run(
        self, fn: Callable[[Tensor], Tensor], x: Tensor, on_tile: Callable[[], None] | None = None
    ) -> Tensor:
        """``fn`` on ``x``, in this denoiser's tiles (whole when ``tile`` is 0)."""
        return run_tiled(fn, x, self.tile, self.overlap, on_tile) if self.tile else fn(x)

    def _plain_output(self, noisy: np.ndarray) -> np.ndarray:
        """CHW float32 -> the network's output (one pass) with the low frequencies restored:
        what ``correct`` gates, for the guard. With ``ensemble`` the photo's output is the x8
        average, and the guard judges this single pass in its place."""
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32))[None]
            x = x.to(self.device)
            out = self._run(self._fn, x)[0].float().cpu().numpy()
        restore_low_frequencies(noisy, out, self.lowpass_sigma)
        return out

    def tiles_for(self, height: int, width: int) -> int:
        """How many tiles a ``height`` x ``width`` photo takes (1 when untiled)."""
        if not self.tile or (height <= self.tile and width <= self.tile):
            return 1
        return len(tile_grid(height, self.tile, self.overlap)) * len(
            tile_grid(width, self.tile, self.overlap)
        )
