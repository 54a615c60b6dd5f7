"""Teacher outputs computed once over the training images instead of on every crop.

In stages 2 and 3 the frozen BNN (and LAN) are evaluated on every batch in the reference; their
forward pass costs more than the student's whole step. Here each teacher runs once over every
training image in each of the first ``transforms`` dihedral transforms (the sampler is then
restricted to those transforms, or with ``cache_augment`` turns their targets to the others),
on overlapping tiles of the training crop size (a BNN degrades
on inputs larger than its crops) blended as in ``sassid.tiling``. Targets are stored as float16
(3 channels x 2 bytes = 6 MB per megapixel per teacher and transform), in memory or, past
``memory_limit`` bytes in all (the targets already held in memory count), in ``.npy`` files
on disk read through ``np.memmap``. ``add_posterior``
derives one more target from the cached BNN outputs and the noisy photos (for ``[unet]
supervision = "posterior"``; another 6 MB per megapixel and transform).

Dihedral transform ``t`` (bits of ``t``): bit 0 flips H, bit 1 flips W, bit 2 transposes,
applied in that order, the order ``PatchSampler`` applies its coin flips; the crop of
``T_t(image)`` at ``crop_location`` equals ``T_t`` applied to the original crop.

How these targets differ from per-crop ones: at a crop's borders the per-crop teacher saw zero
padding and the LAN's channel attention pooled over the crop alone; cached targets see the real
neighbourhood (up to the tile's own borders, which the blending window hides).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from sassid.constants import PIXEL_MAX
from sassid.tiling import blend_window, tile_grid

__all__ = ["TeacherCache", "transform_image", "crop_location", "TRANSFORM_CHOICES", "POSTERIOR"]

TRANSFORM_CHOICES = (1, 2, 4, 8)
BATCH_TILES = 16
MEMORY_LIMIT = 2 << 30
"""Bytes of cached targets kept in memory before the rest go to disk (2 GiB: 358 megapixels
in one transform of one teacher, at 6 MB each)."""
F16_MAX = float(np.finfo(np.float16).max)
"""Targets are stored as float16; a diverging teacher's larger values are clipped to it (the
stage's loss check has stopped such a run before its cache is built)."""
POSTERIOR = "posterior"
"""The cache's name for the BNN outputs combined with the noisy pixels (``add_posterior``)."""


def transform_image(array: np.ndarray, t: int) -> np.ndarray:
    """``T_t`` on an HWC array (a view); ``sassid.data.transform_chw`` is its tensor twin."""
    if t & 1:
        array = array[::-1]
    if t & 2:
        array = array[:, ::-1]
    if t & 4:
        array = array.transpose(1, 0, 2)
    return array


def crop_location(
    height: int, width: int, top: int, left: int, size: int, t: int
) -> tuple[int, int]:
    """Top-left of the ``size`` crop of ``T_t(image)`` that is ``T_t(image[top:, left:])``."""
    if t & 1:
        top = height - top - size
    if t & 2:
        left = width - left - size
    if t & 4:
        top, left = left, top
    return top, left


def _to_tensor(array: np.ndarray) -> Tensor:
    scale = PIXEL_MAX / (65535.0 if array.dtype == np.uint16 else 255.0)
    chw = torch.from_numpy(np.array(array, dtype=np.float32)).permute(2, 0, 1) * scale
    return chw[None]


def _tiled(fn: Callable[[Tensor], Tensor], image: Tensor, tile: int, overlap: int) -> Tensor:
    """``sassid.tiling.run_tiled``, with the tiles of one image run in batches."""
    _, _, h, w = image.shape
    if h <= tile and w <= tile:
        return fn(image)
    boxes = [(t, left) for t in tile_grid(h, tile, overlap) for left in tile_grid(w, tile, overlap)]
    out = torch.zeros_like(image)
    weight = torch.zeros_like(image[:, :1])
    for start in range(0, len(boxes), BATCH_TILES):
        chunk = boxes[start : start + BATCH_TILES]
        crops = torch.cat([image[..., t : t + tile, left : left + tile] for t, left in chunk])
        outputs = fn(crops)
        for (t, left), y in zip(chunk, outputs, strict=True):
            ch, cw = y.shape[-2:]
            interior = (t > 0, t + ch < h, left > 0, left + cw < w)
            window = blend_window(ch, cw, overlap, interior, image.device)[0]
            out[0, :, t : t + ch, left : left + cw] += y * window
            weight[0, :, t : t + ch, left : left + cw] += window
    return out / weight


def _stored(result: np.ndarray, directory: Path | None, stem: str) -> np.ndarray:
    """``result``, or with a ``directory`` the same saved there and read back as a memmap."""
    if directory is None:
        return result
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.npy"
    np.save(path, result)
    return np.load(path, mmap_mode="r")


class TeacherCache:
    """``arrays[name][t][i]``: teacher ``name``'s output on ``T_t(images[i])``, HWC float16."""

    def __init__(self, arrays: dict[str, list[list[np.ndarray]]], transforms: int) -> None:
        self.arrays = arrays
        self.transforms = transforms

    @classmethod
    def build(
        cls,
        teachers: dict[str, nn.Module],
        images: list[np.ndarray],
        *,
        transforms: int,
        tile: int,
        device: torch.device,
        autocast: Callable[[], object],
        directory: Path | None = None,
        memory_limit: int = MEMORY_LIMIT,
        held_bytes: int = 0,
    ) -> TeacherCache:
        """Run every teacher over every image in ``transforms`` transforms, ``tile`` px tiles
        (0: whole images) overlapping by a quarter; on disk (with a ``directory``) when
        ``held_bytes`` (targets of an earlier stage kept in memory) and these pass
        ``memory_limit``."""
        if transforms not in TRANSFORM_CHOICES:
            raise ValueError(f"transforms must be one of {TRANSFORM_CHOICES}, got {transforms}")
        pixels = sum(im.shape[0] * im.shape[1] for im in images)
        new_bytes = pixels * 6 * transforms * len(teachers)
        on_disk = directory is not None and held_bytes + new_bytes > memory_limit
        arrays: dict[str, list[list[np.ndarray]]] = {}
        for name, net in teachers.items():
            net.eval()
            per_t: list[list[np.ndarray]] = []
            for t in range(transforms):
                outs = []
                for i, image in enumerate(images):
                    x = _to_tensor(transform_image(image, t)).to(device)
                    with torch.no_grad(), autocast():  # type: ignore[attr-defined]
                        y = _tiled(net, x, tile, tile // 4) if tile else net(x)
                    result = y[0].float().permute(1, 2, 0).cpu().numpy()
                    result = np.clip(result, -F16_MAX, F16_MAX).astype(np.float16)
                    outs.append(_stored(result, directory if on_disk else None, f"{name}_{t}_{i}"))
                per_t.append(outs)
            arrays[name] = per_t
        return cls(arrays, transforms)

    def add_posterior(
        self,
        images: list[np.ndarray],
        source: str = "bnn",
        name: str = POSTERIOR,
        directory: Path | None = None,
        memory_limit: int = MEMORY_LIMIT,
    ) -> None:
        """Add ``name``: ``corrections.blind_spot_posterior`` of the cached ``source`` outputs
        and the noisy images, each image's noise level measured from itself
        (``noise.measure_noise_level``). On disk (with a ``directory``) if ``source`` is, or
        if with the targets in memory it would pass ``memory_limit``."""
        from sassid.corrections import blind_spot_posterior
        from sassid.noise import measure_noise_level

        sources = self._targets(source)
        on_disk = directory is not None and (
            any(isinstance(a, np.memmap) for a in sources)
            or self.memory_bytes() + sum(a.nbytes for a in sources) > memory_limit
        )
        per_t: list[list[np.ndarray]] = [[] for _ in range(self.transforms)]
        for i, image in enumerate(images):
            level = measure_noise_level(image)
            for t in range(self.transforms):
                noisy = _to_tensor(transform_image(image, t))[0].numpy()
                prior = np.asarray(self.arrays[source][t][i], dtype=np.float32).transpose(2, 0, 1)
                result = blind_spot_posterior(noisy, prior, level).transpose(1, 2, 0)
                stored = _stored(
                    result.astype(np.float16), directory if on_disk else None, f"{name}_{t}_{i}"
                )
                per_t[t].append(stored)
        self.arrays[name] = per_t

    def _targets(self, *names: str) -> list[np.ndarray]:
        """Every stored target of ``names`` (default: all), in every transform and image."""
        return [a for n in names or self.arrays for outs in self.arrays[n] for a in outs]

    def nbytes(self) -> int:
        """All targets' bytes, in memory or on disk."""
        return sum(a.nbytes for a in self._targets())

    def memory_bytes(self) -> int:
        """The bytes of the targets held in memory (not memory-mapped from disk)."""
        return sum(a.nbytes for a in self._targets() if not isinstance(a, np.memmap))

    def crop(self, name: str, index: int, t: int, top: int, left: int, size: int) -> Tensor:
        """(3, size, size) float32 target for the crop at (top, left) of ``T_t(image)``."""
        array = self.arrays[name][t][index]
        patch = np.asarray(array[top : top + size, left : left + size], dtype=np.float32)
        return torch.from_numpy(patch).permute(2, 0, 1)
