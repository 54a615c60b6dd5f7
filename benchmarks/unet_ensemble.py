"""What ``sassid denoise --ensemble`` buys: the U-Net with and without the x8 self-ensemble.

    python benchmarks/unet_ensemble.py -m RUN --set sidd_samples [--images 13]

The x8 self-ensemble (the reference's benchmark setting, ``sassid.tiling.ensemble_x8``) runs
the U-Net on the 8 flips and transposes of each photo and averages the outputs mapped back:
8 times the time. This script scores both on the first ``--images`` pairs of a real set (or
``--set demo``) as ``sassid denoise`` runs them (fp32 torch, default tiles, the model's output
corrections): PSNR (uint8, mean per image), the worst and best per-image change, and the
seconds each took. Writes results/unet_ensemble_<set>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import provenance, scored_photos, set_absent, stamp, write_results  # noqa: E402
from sassid.inference import Denoiser  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.models import read_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument("--set", required=True, help="pairs folder under shared/data, or demo")
    parser.add_argument("--images", type=int, default=13)
    args = parser.parse_args()
    if set_absent(args.set):
        return 0
    model = read_model(args.model)
    nets = model.networks(("unet",))
    pairs = scored_photos(args.set, args.images)
    scores: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    for label, ensemble in (("x1", False), ("x8", True)):
        denoiser = Denoiser.from_model(model, ensemble=ensemble, nets=nets, device="cpu")
        start = time.perf_counter()
        scores[label] = [psnr(denoiser.pixels(noisy), clean) for _, noisy, clean in pairs]
        seconds[label] = time.perf_counter() - start
        print(label, f"{np.mean(scores[label]):.3f} dB, {seconds[label]:.0f} s", flush=True)
    noisy_db = float(np.mean([psnr(noisy, clean) for _, noisy, clean in pairs]))
    change = np.array(scores["x8"]) - np.array(scores["x1"])
    meta = provenance()
    lines = [
        f"# The U-Net's x8 self-ensemble: {args.set}",
        "",
        stamp(meta),
        "",
        f"Model `{args.model}`; the first {len(pairs)} photos of `{args.set}` (noisy "
        f"{noisy_db:.2f} dB), through `Denoiser.pixels` as `sassid denoise` runs them (fp32 "
        "torch, default tiles, the model's output corrections), without and with `--ensemble`. "
        "PSNR: uint8, mean per image.",
        "",
        "| U-Net | PSNR (dB) | seconds |",
        "|---|---|---|",
        f"| single pass | {np.mean(scores['x1']):.3f} | {seconds['x1']:.0f} |",
        f"| x8 self-ensemble (`--ensemble`) | {np.mean(scores['x8']):.3f} | {seconds['x8']:.0f} |",
        "",
        f"Gain {change.mean():+.3f} dB (per image {change.min():+.3f} to {change.max():+.3f}) "
        f"for {seconds['x8'] / seconds['x1']:.1f}x the time.",
    ]
    text = "\n".join(lines) + "\n"
    write_results(
        f"unet_ensemble_{args.set}",
        {"meta": meta, "model": args.model, "psnr": scores, "seconds": seconds},
        text,
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
