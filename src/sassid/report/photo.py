"""Per-photo data for the report: where to crop, the scores, and the teachers on the crop.

Only the U-Net output is full size; the BNN, the LAN and alpha are computed on the crop alone
(the teachers run on tiles of their training crop size, as ``Denoiser.from_model`` sets up), so
a report costs one U-Net pass per photo plus a small crop for each teacher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from sassid.adaptive import alpha_map
from sassid.inference import Denoiser
from sassid.metrics import psnr, ssim
from sassid.pixels import from_pixels, level_scale, to_pixels
from sassid.report.noise import noise_sigma

__all__ = ["Crop", "PhotoData", "TeacherCrops", "choose_crop", "measure", "teacher_crops"]


@dataclass(frozen=True)
class Crop:
    top: int
    left: int
    height: int
    width: int

    def of(self, image: np.ndarray) -> np.ndarray:
        return image[self.top : self.top + self.height, self.left : self.left + self.width]

    def centre(self, side: int) -> Crop:
        """The centred sub-crop of at most ``side`` x ``side`` pixels."""
        h, w = min(side, self.height), min(side, self.width)
        return Crop(self.top + (self.height - h) // 2, self.left + (self.width - w) // 2, h, w)


@dataclass
class TeacherCrops:
    """BNN and LAN outputs (uint8) and alpha (float, from the BNN output) on one crop."""

    crop: Crop
    bnn: np.ndarray
    lan: np.ndarray
    alpha: np.ndarray


@dataclass
class PhotoData:
    """Everything a photo's section shows; pixels keep their stored type (uint8/uint16)."""

    name: str
    noisy: np.ndarray
    denoised: np.ndarray
    clean: np.ndarray | None
    crop: Crop
    metrics: dict[str, float | None]
    teachers: TeacherCrops | None = None
    links: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""

    def noisy_255(self) -> np.ndarray:
        return _scaled(self.noisy)

    def denoised_255(self) -> np.ndarray:
        return _scaled(self.denoised)

    def clean_255(self) -> np.ndarray:
        assert self.clean is not None
        return _scaled(self.clean)


def _scaled(pixels: np.ndarray) -> np.ndarray:
    """float32 in the [0, 255] scale whatever the stored bit depth."""
    return pixels.astype(np.float32) * np.float32(level_scale(pixels.dtype))


def choose_crop(image: np.ndarray, side: int) -> Crop:
    """A ``side`` x ``side`` window (the whole image where smaller) holding both flat and
    textured areas, so alpha has something to show.

    The luminance is split into 8 x 8 blocks; each block's std says how textured it is. Among
    windows on a half-window grid, the one whose block stds spread most (std of stds) wins;
    ties go to the most central window.
    """
    h, w = image.shape[:2]
    ch, cw = min(side, h), min(side, w)
    if (ch, cw) == (h, w):
        return Crop(0, 0, h, w)
    grey = image.astype(np.float32).mean(axis=2)
    block = 8
    bh, bw = h // block, w // block
    if bh == 0 or bw == 0:
        return Crop((h - ch) // 2, (w - cw) // 2, ch, cw)
    stds = grey[: bh * block, : bw * block].reshape(bh, block, bw, block).std(axis=(1, 3))
    step_y, step_x = max(ch // 2, 1), max(cw // 2, 1)
    best: tuple[float, float, int, int] | None = None
    for top in sorted({*range(0, h - ch + 1, step_y), h - ch}):
        for left in sorted({*range(0, w - cw + 1, step_x), w - cw}):
            window = stds[top // block : (top + ch) // block, left // block : (left + cw) // block]
            spread = float(window.std()) if window.size else 0.0
            off_centre = abs(top + ch / 2 - h / 2) + abs(left + cw / 2 - w / 2)
            key = (spread, -off_centre, top, left)
            if best is None or key[:2] > best[:2]:
                best = key
    assert best is not None
    return Crop(best[2], best[3], ch, cw)


def _sigma_or_none(pixels: np.ndarray) -> float | None:
    """The noise estimate, or None for a photo with no 2 x 2 block (1 pixel wide or high):
    such a photo is still denoised and shown, as ``sassid denoise`` writes it."""
    try:
        return noise_sigma(pixels)
    except ValueError:
        return None


def measure(
    noisy: np.ndarray, denoised: np.ndarray, clean: np.ndarray | None
) -> dict[str, float | None]:
    """Noise estimate before/after (None where the photo is too small for one); PSNR and SSIM
    (skimage) against ``clean`` if given."""
    scores: dict[str, float | None] = {
        "sigma_noisy": _sigma_or_none(noisy),
        "sigma_denoised": _sigma_or_none(denoised),
    }
    if clean is not None:
        scores.update(
            psnr_noisy=psnr(noisy, clean),
            psnr_denoised=psnr(denoised, clean),
            ssim_noisy=ssim(noisy, clean),
            ssim_denoised=ssim(denoised, clean),
        )
    return scores


def teacher_crops(bnn: Denoiser, lan: Denoiser, noisy: np.ndarray, crop: Crop) -> TeacherCrops:
    """Run both teachers on ``crop`` of ``noisy``; alpha from the BNN's float output (Eq. 3)."""
    x = torch.from_numpy(to_pixels(crop.of(noisy)))[None]
    bnn_out = bnn.tensor(x).float().cpu()
    lan_out = lan.tensor(x).float().cpu()
    settings = bnn.alpha  # the run's own Eq. 3 thresholds and window
    alpha = alpha_map(bnn_out, settings.lower, settings.upper, settings.window)[0, 0].numpy()
    return TeacherCrops(
        crop,
        from_pixels(bnn_out[0].numpy(), np.uint8),
        from_pixels(lan_out[0].numpy(), np.uint8),
        alpha,
    )
