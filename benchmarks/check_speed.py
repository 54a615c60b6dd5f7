"""What the per-photo check of ``sassid denoise`` costs (``sassid.reliability.judge_photo``).

    python benchmarks/check_speed.py [--megapixels 6 24] [--repeats 3]

Times ``judge_photo`` on synthetic 8-bit photos (a gradient plus Gaussian noise of std 8, as
noisy input; a smoothed copy as output) of each size, and, for scale, the fp32 torch U-Net's
time per megapixel at 512² (random weights: the time does not depend on them). Writes
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
from sassid.nets import UNet  # noqa: E402
from sassid.reliability import PHOTO_LOCATIONS, judge_photo  # noqa: E402


def _photo(megapixels: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h = int(round((megapixels * 1e6 * 2 / 3) ** 0.5))
    w = int(round(megapixels * 1e6 / h))
    clean = np.linspace(30, 220, w, dtype=np.float32)[None, :, None] * np.ones(
        (h, 1, 3), np.float32
    )
    noisy = np.clip(clean + rng.normal(0, 8, clean.shape).astype(np.float32), 0, 255)
    return noisy.astype(np.uint8), np.clip(clean + 1, 0, 255).astype(np.uint8)


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
        seconds = _seconds(lambda n=noisy, o=out: judge_photo("x", n, o), args.repeats)
        rows.append({"megapixels": noisy.shape[0] * noisy.shape[1] / 1e6, "seconds": seconds})
        print(rows[-1], flush=True)
    unet = UNet().eval()
    x = torch.rand(1, 3, 512, 512) * 255
    with torch.no_grad():
        unet_s = _seconds(lambda: unet(x), args.repeats) / (512 * 512 / 1e6)
    meta = provenance()
    lines = [
        "# The per-photo check's cost",
        "",
        stamp(meta),
        "",
        f"`reliability.judge_photo` on synthetic 8-bit photos ({PHOTO_LOCATIONS} sampled patch "
        f"locations at most), best of {args.repeats} after a warm-up; for scale, the fp32 "
        f"torch U-Net (NCHW, eager) takes {unet_s:.2f} s per megapixel at 512² in the same run.",
        "",
        "| photo (MP) | check (s) | check / fp32 U-Net time |",
        "|---|---|---|",
        *[
            f"| {r['megapixels']:.1f} | {r['seconds']:.2f} | "
            f"{r['seconds'] / (unet_s * r['megapixels']):.1%} |"
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
