"""Training data: noisy photos held in memory as stored, and random augmented crops.

Each sample is a uniform random ``patch_size`` crop of a uniformly chosen image, then three
independent coin flips (flip H, flip W, transpose) giving the 8 dihedral transforms, as the
reference. All randomness comes from one explicit ``torch.Generator`` so a run is reproducible
and resumable.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from sassid.constants import PIXEL_MAX
from sassid.errors import TrainingError
from sassid.io import ImageError, find_images, read_image
from sassid.pixels import dtype_max
from sassid.teachers import TeacherCache, crop_location

__all__ = ["load_noisy_images", "PatchSampler", "transform_chw"]


def load_noisy_images(
    sources: Iterable[str | os.PathLike[str]], patch_size: int
) -> tuple[list[np.ndarray], list[Path]]:
    """Read every image under ``sources``; unreadable or too small ones are skipped with a
    warning. Raises TrainingError if none is usable."""
    sources = list(sources)
    try:
        paths = find_images(sources)
    except ImageError as exc:
        raise TrainingError(str(exc)) from None
    if not paths:
        raise TrainingError(f"no images (.png, .jpg, .tif) found in {', '.join(map(str, sources))}")
    images, kept = [], []
    for path in paths:
        try:
            pixels = read_image(path).pixels
        except ImageError as exc:
            warnings.warn(f"skipped: {exc}", stacklevel=2)
            continue
        h, w = pixels.shape[:2]
        if h < patch_size or w < patch_size:
            warnings.warn(
                f"skipped: {path}: {w}x{h} is smaller than the {patch_size}px crop", stacklevel=2
            )
            continue
        images.append(pixels)
        kept.append(path)
    if not images:
        raise TrainingError(
            f"none of the {len(paths)} images is usable (unreadable, or smaller than "
            f"the {patch_size}px crop)"
        )
    return images, kept


def transform_chw(chw: Tensor, t: int) -> Tensor:
    """``T_t`` (flip H if bit 1, flip W if bit 2, then transpose if bit 4) on a (C, H, W)
    tensor; the tensor twin of ``sassid.teachers.transform_image``."""
    if t & 1:
        chw = chw.flip(-2)
    if t & 2:
        chw = chw.flip(-1)
    if t & 4:
        chw = chw.transpose(-2, -1)
    return chw


class PatchSampler:
    """Draws batches of augmented crops, (B, 3, p, p) float32 in [0, 255].

    With a ``TeacherCache``, ``targets`` returns the cached teacher outputs at the same crops
    and transforms; the sampler then draws only the cache's transforms (``t mod transforms``
    of the three coin flips, uniform when ``transforms`` divides 8). With ``augment_cached``
    it draws all 8 and transforms each cached target along with its crop: crop ``T_t(x)``,
    target ``R(teacher(T_c(x)))`` with ``c = t mod transforms`` the cached transform and ``R``
    the rest of ``t`` (``T_t = R T_c``), i.e. the teacher's estimate of the same pixels seen
    in another orientation instead of its output on that orientation.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        patch_size: int,
        generator: torch.Generator,
        cache: TeacherCache | None = None,
        augment_cached: bool = False,
    ):
        self.images = images
        self.patch_size = patch_size
        self.generator = generator
        self.cache = cache
        self.augment_cached = augment_cached
        self._last: list[tuple[int, int, int, int]] = []

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def draw(self) -> tuple[int, int, int, int]:
        """(image index, top, left, dihedral transform t) of one crop."""
        p = self.patch_size
        index = self._randint(len(self.images))
        h, w = self.images[index].shape[:2]
        top, left = self._randint(h - p + 1), self._randint(w - p + 1)
        flips = torch.rand(3, generator=self.generator) < 0.5
        t = int(flips[0]) + 2 * int(flips[1]) + 4 * int(flips[2])
        if self.cache is not None and not self.augment_cached:
            t %= self.cache.transforms
        return index, top, left, t

    def crop(self, index: int, top: int, left: int, t: int) -> Tensor:
        p = self.patch_size
        image = self.images[index]
        patch = torch.from_numpy(np.array(image[top : top + p, left : left + p]))  # own copy
        scale = PIXEL_MAX / dtype_max(image.dtype)
        return transform_chw(patch.permute(2, 0, 1).to(torch.float32) * scale, t)

    def batch(self, size: int) -> Tensor:
        self._last = [self.draw() for _ in range(size)]
        return torch.stack([self.crop(*c) for c in self._last]).contiguous()

    def targets(self, names: tuple[str, ...]) -> dict[str, Tensor]:
        """The cache's targets for the last batch's crops, (B, 3, p, p) float32 per teacher."""
        if self.cache is None:
            raise ValueError("no teacher cache")
        p = self.patch_size
        out = {}
        for name in names:
            crops = []
            for index, top, left, t in self._last:
                h, w = self.images[index].shape[:2]
                cached = t % self.cache.transforms  # == t unless augment_cached
                ct, cl = crop_location(h, w, top, left, p, cached)
                crop = self.cache.crop(name, index, cached, ct, cl, p)
                crops.append(transform_chw(crop, t - cached))
            out[name] = torch.stack(crops)
        return out
