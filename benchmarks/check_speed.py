"""What ``sassid denoise`` costs around the network: the per-photo check
(``sassid.reliability.judge_photo``) and the host-side steps of ``Denoiser.pixels``.

    python benchmarks/check_speed.py [--megapixels 6 24] [--repeats 3]

Times, on synthetic 8-bit photos (a gradient plus Gaussian noise of std 8, as noisy input; a
smoothed copy as output) of each size: ``judge_photo``; the conversions to the networks' CHW
float32 (``to_pixels``) and back to HWC uint8 (``from_pixels``, whole photo), with
``from_pixels`` as it was until 2026-11-30 (float64 arithmetic on the transposed photo, full-size
temporaries) as the same run's baseline; and the output correction ``laptop`` applies (the
photo's noise std, ``measure_noise``, then ``gate_to_noise`` at 2). For scale, the fp32 torch
U-Net's time per megapixel at 512² (random weights: the time does not depend on them). Writes
results/check_speed.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import provenance, stamp, write_results  # noqa: E402
from sassid.constants import PIXEL_MAX  # noqa: E402
from sassid.corrections import gate_to_noise  # noqa: E402
from sassid.nets import UNet  # noqa: E402
from sassid.noise import measure_noise  # noqa: E402
from sassid.pixels import dtype_max, from_pixels, to_pixels  # noqa: E402
from sassid.reliability import PHOTO_LOCATIONS, judge_photo  # noqa: E402


def _photo(megapixels: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h = int(round((megapixels * 1e6 * 2 / 3) ** 0.5))
    w = int(round(megapixels * 1e6 / h))
    clean = np.linspace(30, 220, w, dtype=np.float32)[None, :, None] * np.ones(
        (h, 1, 3), np.float32
    )
    noisy = np.clip(clean + rng.normal(0, 8, clean.shape).astype(np.float32), 0, 255)
    return noisy.astype(np.uint8), np.clip(clean + 1, 0, 255).astype(np.uint8)


def from_pixels_before(chw: np.ndarray, dtype: type = np.uint8) -> np.ndarray:
    """``sassid.pixels.from_pixels`` until 2026-11-30: the same values (a test checks the
    rounding), computed on the transposed photo with full-size float64 temporaries."""
    top = dtype_max(dtype)
    scaled = np.asarray(chw, dtype=np.float64).transpose(1, 2, 0) * (top / PIXEL_MAX)
    return np.clip(np.floor(scaled + 0.5), 0, top).astype(dtype)


def _correct(noisy: np.ndarray, noisy_chw: np.ndarray, out_chw: np.ndarray) -> None:
    """The ``laptop`` output correction on a copy: noise std, then the gate at 2."""
    gate_to_noise(noisy_chw, out_chw.copy(), measure_noise([noisy]).sigma, 2.0)


def _seconds(fn, repeats: int) -> float:  # noqa: ANN001
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[6.0, 24.0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for mp in args.megapixels:
        noisy, out = _photo(mp, rng)
        noisy_chw, out_chw = to_pixels(noisy), to_pixels(out)
        steps = {
            "seconds": lambda n=noisy, o=out: judge_photo("x", n, o),
            "to_pixels": lambda n=noisy: to_pixels(n),
            "from_pixels": lambda c=out_chw: from_pixels(c),
            "from_pixels_before": lambda c=out_chw: from_pixels_before(c),
            "correction": lambda n=noisy, y=noisy_chw, o=out_chw: _correct(n, y, o),
        }
        row = {"megapixels": noisy.shape[0] * noisy.shape[1] / 1e6}
        row.update({name: _seconds(fn, args.repeats) for name, fn in steps.items()})
        rows.append(row)
        print(rows[-1], flush=True)
    unet = UNet().eval()
    x = torch.rand(1, 3, 512, 512) * 255
    with torch.no_grad():
        unet_s = _seconds(lambda: unet(x), args.repeats) / (512 * 512 / 1e6)
    meta = provenance()
    lines = [
        "# What sassid denoise costs around the network",
        "",
        stamp(meta),
        "",
        f"On synthetic 8-bit photos, best of {args.repeats} after a warm-up, seconds: the "
        f"per-photo check `reliability.judge_photo` ({PHOTO_LOCATIONS} sampled patch locations "
        "at most); `to_pixels` and `from_pixels` (whole photo), the latter also as it was "
        "until 2026-11-30 (float64 on the transposed photo); the `laptop` output correction "
        "(`measure_noise`, then `gate_to_noise` at 2). For scale, the fp32 torch U-Net (NCHW, "
        f"eager) takes {unet_s:.2f} s per megapixel at 512² in the same run.",
        "",
        "| photo (MP) | check (s) | check / fp32 U-Net time | to_pixels | from_pixels | "
        "from_pixels before | correction |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r['megapixels']:.1f} | {r['seconds']:.2f} | "
            f"{r['seconds'] / (unet_s * r['megapixels']):.1%} | {r['to_pixels']:.2f} | "
            f"{r['from_pixels']:.2f} | {r['from_pixels_before']:.2f} | {r['correction']:.2f} |"
            for r in rows
        ],
    ]
    write_results(
        "check_speed",
        {"meta": meta, "rows": rows, "unet_fp32_seconds_per_mp": unet_s},
        "\n".join(lines) + "\n",
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
