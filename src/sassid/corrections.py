"""Checks on what a denoiser removed, applied to its output: two rules from the noise's nature.

With ``y`` the noisy photo, ``o`` the network output and ``d = y - o`` the part it removed:

- **Low frequencies come back** (``restore_low_frequencies``): camera noise is zero-mean and
  reaches a few pixels at most, so ``d`` should hold nothing below the frequencies of a
  Gaussian of ``sigma`` px; what it holds there is the model's bias (haze, colour shift):
  ``o += G_sigma * d``.
- **Never remove more than noise** (``gate_to_noise``): where the local RMS of ``d`` exceeds
  ``factor`` times the photo's noise std (measured from the photo itself, ``sassid.noise``),
  the model is removing detail with the noise, so ``d`` is shrunk there to that level:
  ``o = y - g d`` with ``g = min(1, factor * sigma / sqrt(G_w * mean_c d^2))``. In flat areas
  ``d`` is the noise and passes unchanged; on mild noise, detail the teachers blurred is kept.
  Given a noise level function (``sassid.noise.NoiseLevelFunction``), sigma is read per pixel
  at the output's intensity, ``sigma(x)^2 = mean_c sigma_c(o_c(x))^2``: camera noise grows
  with the signal, so one sigma per photo (set by its flattest, often darkest, patches) would
  hold back the denoising of bright areas.

Both work in place on CHW float32 arrays in [0, 255] and cost a few Gaussian blurs.
"""

from __future__ import annotations

import numpy as np

from sassid.noise import NoiseLevelFunction
from sassid.pixels import from_pixels, to_pixels

__all__ = ["restore_low_frequencies", "gate_to_noise", "lowpass_correction", "GATE_WINDOW"]

GATE_WINDOW = 2.0
"""Gaussian std (px) of the window over which ``gate_to_noise`` measures the removed RMS."""


def restore_low_frequencies(noisy: np.ndarray, out: np.ndarray, sigma: float) -> None:
    """``out += G_sigma * (noisy - out)`` in place, per channel (CHW float arrays).

    The noise let back in is the noise's own low-pass: a small fraction of its std for
    ``sigma`` well beyond its reach. ``sigma <= 0`` leaves ``out`` unchanged.
    """
    from scipy.ndimage import gaussian_filter

    if sigma <= 0:
        return
    for c in range(out.shape[0]):
        out[c] += gaussian_filter(noisy[c] - out[c], sigma, mode="reflect")


_BAND_ROWS = 256


def _sigma_map(out: np.ndarray, level: NoiseLevelFunction) -> np.ndarray:
    """sqrt(mean_c sigma_c(out_c)^2) per pixel (H x W float32), in row bands to bound temps."""
    result = np.zeros(out.shape[1:], dtype=np.float32)
    for top in range(0, out.shape[1], _BAND_ROWS):
        band = result[top : top + _BAND_ROWS]
        for c in range(out.shape[0]):
            band += level.at(out[c, top : top + _BAND_ROWS], min(c, len(level.sigma) - 1)) ** 2
    result /= out.shape[0]
    return np.sqrt(result, out=result)


def gate_to_noise(
    noisy: np.ndarray,
    out: np.ndarray,
    noise_sigma: float | NoiseLevelFunction,
    factor: float,
    window: float = GATE_WINDOW,
) -> np.ndarray:
    """Shrink ``d = noisy - out`` in place where its local RMS exceeds ``factor * noise_sigma``.

    ``out = noisy - g * d``, ``g = min(1, factor * noise_sigma / sqrt(G_window * mean_c d^2))``
    (CHW float arrays, one gain per pixel for all channels, so colours are not shifted);
    ``noise_sigma``: one std for the photo, or a level function read at ``out``'s intensity.
    Returns ``g`` (H x W, in [0, 1]; 1 where nothing changed). ``factor <= 0`` leaves ``out``
    unchanged. Memory: at most three H x W float32 buffers beside the inputs.
    """
    from scipy.ndimage import gaussian_filter

    if factor <= 0:
        return np.ones(out.shape[1:], dtype=np.float32)
    energy = np.zeros(out.shape[1:], dtype=np.float32)
    removed = np.empty_like(energy)
    for c in range(out.shape[0]):
        np.subtract(noisy[c], out[c], out=removed)
        removed *= removed
        energy += removed
    del removed
    energy /= out.shape[0]
    gain = gaussian_filter(energy, window, mode="reflect", output=np.float32)
    del energy  # peak: three H x W float32 buffers beside the inputs
    np.sqrt(gain, out=gain)  # local RMS of the removed part
    if isinstance(noise_sigma, NoiseLevelFunction):
        limit: np.ndarray | np.float32 = _sigma_map(out, noise_sigma)
        limit *= np.float32(factor)
    else:
        limit = np.float32(factor * max(noise_sigma, 0.0))
    over = gain > limit
    np.divide(limit, gain, out=gain, where=over)
    gain[~over] = 1.0
    for c in range(out.shape[0]):
        out[c] -= noisy[c]
        out[c] *= gain
        out[c] += noisy[c]
    return gain


def lowpass_correction(noisy: np.ndarray, out: np.ndarray, sigma: float) -> np.ndarray:
    """``restore_low_frequencies`` on HWC uint8/uint16 photos; returns the corrected photo."""
    fixed = to_pixels(out)
    restore_low_frequencies(to_pixels(noisy), fixed, sigma)
    return from_pixels(fixed, out.dtype.type)
