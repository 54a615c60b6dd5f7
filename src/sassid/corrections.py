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

__all__ = [
    "restore_low_frequencies",
    "gate_to_noise",
    "lowpass_correction",
    "blind_spot_posterior",
    "GATE_WINDOW",
    "POSTERIOR_BETA",
]

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
    power: int = 1,
) -> np.ndarray:
    """Shrink ``d = noisy - out`` in place where its local RMS exceeds ``factor * noise_sigma``.

    ``out = noisy - g * d``, ``g = min(1, (factor * noise_sigma / sqrt(G_window * mean_c d^2))
    ** power)`` (CHW float arrays, one gain per pixel for all channels, so colours are not
    shifted). ``power=1`` caps the removed RMS at ``factor`` noise stds; ``power=2`` is the
    Wiener gain ``sigma^2 / E[d^2]`` (see ``blind_spot_posterior``);
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
    if power != 1:
        gain **= power
    for c in range(out.shape[0]):
        out[c] -= noisy[c]
        out[c] *= gain
        out[c] += noisy[c]
    return gain


POSTERIOR_BETA = 2.0
"""Over-subtraction of ``blind_spot_posterior``: the local mean of ``d^2`` over a window of
``GATE_WINDOW`` px is a noisy estimate (correlated noise leaves few independent samples in it),
and ``1 - sigma^2 / E`` rises faster where ``E`` reads high than it falls where ``E`` reads low,
so with ``beta = 1`` flat areas get noise back."""


def blind_spot_posterior(
    noisy: np.ndarray,
    prior: np.ndarray,
    level: NoiseLevelFunction,
    beta: float = POSTERIOR_BETA,
    window: float = GATE_WINDOW,
) -> np.ndarray:
    """The noisy pixel combined with a blind-spot prediction of it: ``p + w (y - p)``.

    A blind-spot network predicts pixel ``x`` as ``p`` from pixels whose noise is independent
    of its own, so ``d = y - p`` is the prediction's error plus that independent noise,
    ``E[d^2] = tau^2 + sigma^2``, and the best linear estimate of ``x`` from ``p`` and ``y``
    (the posterior mean for Gaussian errors, as in Laine et al. 2019) takes
    ``w = tau^2 / (tau^2 + sigma^2) = 1 - sigma^2 / E[d^2]``: ``p`` where the prediction is
    good (flat areas), the noisy pixel back where it is not (detail the blind spot cannot see).
    Here ``w = max(0, 1 - beta sigma^2 / (G_window * mean_c d^2))`` with ``sigma`` read from
    ``level`` at ``p``'s intensity: ``gate_to_noise`` at ``factor = sqrt(beta)``, ``power=2``.
    CHW float arrays in [0, 255]; returns a new float32 array.
    """
    out = np.array(prior, dtype=np.float32)
    gate_to_noise(noisy, out, level, float(np.sqrt(beta)), window, power=2)
    return out


def lowpass_correction(noisy: np.ndarray, out: np.ndarray, sigma: float) -> np.ndarray:
    """``restore_low_frequencies`` on HWC uint8/uint16 photos; returns the corrected photo."""
    fixed = to_pixels(out)
    restore_low_frequencies(to_pixels(noisy), fixed, sigma)
    return from_pixels(fixed, out.dtype.type)
