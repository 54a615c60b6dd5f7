"""Is a trained model trustworthy on these photos? Judged from the noisy images alone.

With ``y`` the noisy image, ``o`` the model output and ``d = y - o`` the removed part, a model
that removes exactly the noise leaves ``d`` zero-mean, as strong as the noise, and unrelated to
the image content. On the patches of ``y`` (``size`` x ``size``, per channel, plane removed):

- ``flat``: the flattest ``fraction`` of patches, where the noise std ``sigma`` is measured
  (sassid.noise); ``removed_flat = std(d)`` there, ``kept = removed_flat / sigma``: near 1 the
  noise is removed, near 0 it is kept.
- ``textured``: the most textured ``fraction``; ``removed_texture = std(d)`` there. Far above
  the noise level (``texture_ratio = removed_texture / sigma``) means detail is removed with it.
- ``bias``: the median of ``d`` per channel (pixel levels). A shift is a cast or haze the
  model adds. The median, not the mean: a camera's tone curve is concave, so zero-mean sensor
  noise becomes sRGB noise whose mean is below zero (Jensen) and grows with the noise, while its
  median stays zero (a monotone curve keeps medians); a model trained with L1 predicts that
  median. On the first 13 ``sidd_samples`` pairs the clean images are 3.6/2.3/3.3 levels
  brighter than the noisy ones in mean but 0.9/0.5/1.1 in median, and five of seven good
  one-hour models lift their output's mean 2.0-2.5 levels above the input's, toward clean
  (results/reliability_check_sidd_samples.md). ``mean_bias`` keeps the mean for the record.

Pooled over all images these catch a model that is wrong everywhere; a model can also fail on
one photo alone (three two-minute ``sidd_samples`` models each made one image 5-7.5 dB worse while
the pooled check passed two of them). So each image is judged on its own too (``ImageCheck``):
its removed std in its own flat patches against its own noise std (above
``OVER_REMOVAL_LIMIT``: something other than noise is taken away) and each channel's median
shift against ``max(BIAS_LIMIT, IMAGE_BIAS_SIGMAS x`` that channel's noise std ``)``: a good model's
median shift grows with strong noise (clipping at black and white moves it by a few levels
on the noisiest ``sidd_samples`` photos), a cast does not need noise to grow.

``warnings`` lists each problem found; the numbers are written for the user.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from sassid.noise import _plane_residuals, measure_noise, mostly_clipped, patch_grid
from sassid.pixels import level_scale

__all__ = [
    "ImageCheck",
    "Reliability",
    "assess",
    "check_crops",
    "check_picks",
    "grouped_median",
    "judge_photo",
]

CHECK_IMAGES = 16
"""Images judged one by one (picked evenly): each costs one U-Net pass on a 256 px crop."""
CHECK_CROP = 256

TEXTURE_LIMIT = 2.5
"""Removed std in textured patches above this many noise stds: detail is being removed."""
KEPT_LIMIT = 0.5
"""Removed std in flat patches below this share of the noise std: the noise mostly stays."""
BIAS_LIMIT = 2.0
"""A median shift of more than this many levels in any channel: a cast or haze."""
IMAGE_BIAS_SIGMAS = 0.5
"""On one image, a channel's median shift above this many of that channel's noise std (and
above BIAS_LIMIT)."""
OVER_REMOVAL_LIMIT = 1.4
"""On one image, removed std in its flat patches above this many of its noise stds (floored at
half a level). This limit and IMAGE_BIAS_SIGMAS flag no photo of the good one-hour models and
name the photo each two-minute model makes 5-7.5 dB worse (results/reliability_check_*.md)."""
PHOTO_LOCATIONS = 4000
"""Patch locations ``judge_photo`` samples (as ``measure_noise`` does): 1 MP of a large photo."""
SIGMA_FLOOR = 0.5
"""Noise stds below half a level are taken as half a level in ratios (nearly clean photos)."""


def _against_noise(removed: float, sigma: float) -> str:
    """``removed`` as a multiple of the noise level, or, where the photos show no measurable
    noise, that fact (a ratio to 0.0 reads as millions)."""
    if sigma < SIGMA_FLOOR:
        return f"where the noise measures under {SIGMA_FLOOR:g} levels (none to remove)"
    return f"{removed / sigma:.1f}x the noise level {sigma:.1f}"


@dataclass(frozen=True)
class ImageCheck:
    """One image's numbers: its noise std (``measure_noise``, all channels), the std of what
    the model removed in its flattest unclipped patches (less each channel's mean there), the
    median removed per channel, each channel's own noise std, and what is wrong (empty:
    nothing; ``summary`` says it in one sentence)."""

    name: str
    sigma: float
    removed_flat: float
    bias: tuple[float, ...]
    channel_sigma: tuple[float, ...] = ()
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The problems as one sentence (empty when there are none)."""
        if not self.problems:
            return ""
        return "the output departs from the input beyond the noise: " + "; ".join(self.problems)


@dataclass(frozen=True)
class Reliability:
    sigma: float
    removed_flat: float
    removed_texture: float
    bias: tuple[float, ...]
    mean_bias: tuple[float, ...] = ()
    warnings: list[str] = field(default_factory=list)
    images: list[ImageCheck] = field(default_factory=list)

    @property
    def reliable(self) -> bool:
        return not self.warnings

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "reliable": self.reliable}


def check_picks(total: int, count: int = CHECK_IMAGES) -> list[int]:
    """Indices of ``count`` of ``total`` images picked evenly (all of them when fewer)."""
    if total <= 0:
        return []
    return sorted(set(np.linspace(0, total - 1, min(count, total)).astype(int).tolist()))


def check_crops(
    images: Sequence[np.ndarray],
    count: int = CHECK_IMAGES,
    size: int = CHECK_CROP,
    names: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Central crops (at most ``size``, cut to multiples of 32) of the images ``check_picks``
    picks, by name (``names[i]``, default ``image <i+1>``): what the end-of-training check
    judges. An image under 32 px gives no crop."""
    crops: dict[str, np.ndarray] = {}
    for i in check_picks(len(images), count):
        h, w = images[i].shape[:2]
        side_h, side_w = min(h, size) // 32 * 32, min(w, size) // 32 * 32
        if side_h and side_w:
            top, left = (h - side_h) // 2, (w - side_w) // 2
            name = names[i] if names is not None else f"image {i + 1}"
            crops[name if name not in crops else f"{name} ({i + 1})"] = images[i][
                top : top + side_h, left : left + side_w
            ]
    return crops


def grouped_median(values: np.ndarray, step: float) -> float:
    """Median of values on a grid of ``step`` (integer pixel differences: step 1), each taken as
    spread evenly over its bin: m = v - step/2 + step (0.5 - P(< v)) / P(= v), where v is the
    first value whose cumulative share reaches one half. Unlike ``np.median`` it moves by less
    than a step, so sub-level shifts of a uint8 output stay visible."""
    bins = np.round(np.asarray(values, dtype=np.float64).ravel() / step).astype(np.int64)
    n = bins.size
    if n == 0:
        raise ValueError("median of no values")
    lo = int(bins.min())
    counts = np.bincount(bins - lo)  # integer counts: an exact half is found exactly
    cumulative = np.cumsum(counts)
    k = int(np.searchsorted(2 * cumulative, n))  # first bin whose cumulative share >= 1/2
    below = int(cumulative[k] - counts[k])
    return float((lo + k - 0.5 + (n / 2 - below) / counts[k]) * step)


@dataclass(frozen=True)
class _Removed:
    """What a model removed from one image (``noisy - output``, 8-bit levels), on its patches."""

    values: np.ndarray  # (N, C): every removed value of the patches judged
    flat: np.ndarray  # removed values in the flattest unclipped ``fraction`` of the patches,
    # less each channel's mean there
    textured: np.ndarray  # removed values in the most textured ``fraction``


def _removed(
    noisy: np.ndarray, output: np.ndarray, size: int, fraction: float, max_locations: int
) -> _Removed:
    """``noisy - output`` on at most ``max_locations`` evenly strided patch locations (all
    channels of each), split by the noisy patch's flatness (plane-fit residual variance)."""
    scale = level_scale(noisy.dtype)
    y, o = patch_grid(noisy, size), patch_grid(output, size)
    if len(y) > max_locations:  # sampled before conversion: a 24 MP photo costs only these
        y, o = y[:: len(y) // max_locations + 1], o[:: len(o) // max_locations + 1]
    channels = noisy.shape[2]
    clipped = mostly_clipped(y.reshape(-1, size, size), noisy.dtype)
    y = y.astype(np.float64).reshape(-1, size, size) * scale
    d = y - o.astype(np.float64).reshape(-1, size, size) * scale
    values = d.reshape(-1, channels, size * size).transpose(0, 2, 1).reshape(-1, channels)
    # patches mostly at black or white hold no noise and would read as the flattest (as in
    # sassid.noise); the rest ranked by plane-fit residual variance
    energy = np.where(clipped & ~clipped.all(), np.inf, _plane_residuals(y).var(axis=(1, 2)))
    order = np.argsort(energy)
    count = max(1, int(np.isfinite(energy).sum() * fraction))
    flat_index = order[:count]
    flat = d[flat_index].copy()
    for c in range(channels):  # a cast is the median check's; here only what varies counts
        mine = flat_index % channels == c
        if mine.any():
            flat[mine] -= flat[mine].mean()
    return _Removed(values, flat.ravel(), d[order[-count:]].ravel())


def _judge_image(
    name: str, noisy: np.ndarray, removed: _Removed, step: float, size: int, fraction: float
) -> ImageCheck:
    """One image alone: over-removal in its flat patches and its own median shift."""
    sigma = measure_noise([noisy], size=size, fraction=fraction).sigma
    channels = range(noisy.shape[2])
    channel_sigma = tuple(  # each channel's own: a camera's blue is often 1.5x its green
        measure_noise([np.ascontiguousarray(noisy[..., c : c + 1])], size, fraction).sigma
        for c in channels
    )
    removed_flat = float(removed.flat.std())
    bias = tuple(grouped_median(removed.values[:, c], step) for c in channels)
    problems = []
    if removed_flat > OVER_REMOVAL_LIMIT * max(sigma, SIGMA_FLOOR):
        problems.append(
            f"it removes {removed_flat:.1f} levels (std) in flat areas, "
            f"{_against_noise(removed_flat, sigma)}"
        )
    limits = [max(BIAS_LIMIT, IMAGE_BIAS_SIGMAS * sc) for sc in channel_sigma]
    if any(abs(b) > limit for b, limit in zip(bias, limits, strict=True)):
        shift = "/".join(f"{-b:+.1f}" for b in bias)
        problems.append(f"its colours shift by a median of {shift} levels (R/G/B)")
    return ImageCheck(name, sigma, removed_flat, bias, channel_sigma, problems)


def judge_photo(
    name: str,
    noisy: np.ndarray,
    denoised: np.ndarray,
    size: int = 16,
    fraction: float = 0.1,
    max_locations: int = PHOTO_LOCATIONS,
) -> ImageCheck:
    """One photo and its denoised output (HWC, uint8 or uint16) judged alone, as ``assess``
    judges each image, on at most ``max_locations`` patches: what ``sassid denoise`` checks
    on every photo it writes.

    Raises:
        ValueError: the photo is under ``size`` px on a side (``sassid denoise`` then warns
            that it was not checked: a model can make such a sliver much worse).
    """
    if min(noisy.shape[:2]) < size:
        h, w = noisy.shape[:2]
        raise ValueError(f"{w} x {h} px: too small to judge (it needs {size} px on a side)")
    step = level_scale(noisy.dtype)
    removed = _removed(noisy, denoised, size, fraction, max_locations)
    return _judge_image(name, noisy, removed, step, size, fraction)


def assess(
    denoise: Callable[[np.ndarray], np.ndarray],
    images: Sequence[np.ndarray] | Mapping[str, np.ndarray],
    size: int = 16,
    fraction: float = 0.1,
) -> Reliability:
    """Run ``denoise`` (HWC uint8 -> same) on ``images`` (a sequence, or named as
    ``check_crops`` returns them) and judge it, pooled and per image (see module docstring)."""
    named = (
        images
        if isinstance(images, Mapping)
        else {f"image {i + 1}": im for i, im in enumerate(images)}
    )
    usable = {k: im for k, im in named.items() if im.shape[0] >= size and im.shape[1] >= size}
    if not usable:
        raise ValueError(f"no image is at least {size}x{size} pixels")
    removed: list[_Removed] = []
    checks = []
    scales = [level_scale(im.dtype) for im in usable.values()]
    step = min(scales)  # one 8-bit level is 257 uint16 levels: the finer grid holds both
    for (name, image), scale in zip(usable.items(), scales, strict=True):
        removed.append(_removed(image, denoise(image), size, fraction, max_locations=10**9))
        checks.append(_judge_image(name, image, removed[-1], scale, size, fraction))
    sigma = measure_noise(list(usable.values()), size=size, fraction=fraction).sigma
    removed_flat = float(np.concatenate([r.flat for r in removed]).std())
    removed_texture = float(np.concatenate([r.textured for r in removed]).std())
    pooled = np.concatenate([r.values for r in removed])
    bias = tuple(grouped_median(pooled[:, c], step) for c in range(pooled.shape[1]))
    mean_bias = tuple(float(v) for v in pooled.mean(axis=0))
    warnings = []
    if removed_texture > TEXTURE_LIMIT * max(sigma, SIGMA_FLOOR):
        warnings.append(
            f"in textured areas the model removes {removed_texture:.1f} levels (std), "
            f"{_against_noise(removed_texture, sigma)} (measured in flat areas): it is likely "
            "removing detail, not only noise"
        )
    if removed_flat < KEPT_LIMIT * sigma:
        warnings.append(
            f"in flat areas the model removes {removed_flat:.1f} levels (std) of noise "
            f"measured at {sigma:.1f}: most of the noise stays"
        )
    if max(abs(b) for b in bias) > BIAS_LIMIT:
        shift = "/".join(f"{-b:+.1f}" for b in bias)
        warnings.append(
            f"the output differs from the input by a median of {shift} levels per channel: "
            "a colour cast or haze"
        )
    failed = [c for c in checks if c.problems]
    if failed:
        listed = "; ".join(f"{c.name}: {' and '.join(c.problems)}" for c in failed[:3])
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        warnings.append(
            f"on {len(failed)} of {len(checks)} checked photos the output departs from the "
            f"input beyond the noise ({listed}{more}): check those photos' results"
        )
    return Reliability(sigma, removed_flat, removed_texture, bias, mean_bias, warnings, checks)
