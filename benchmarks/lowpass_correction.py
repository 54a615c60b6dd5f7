"""Does the U-Net remove low frequencies that noise does not have? Measured on real pairs.

    python benchmarks/lowpass_correction.py -m RUN --set sidd_samples [--sigmas 0 4 8 16]

Camera noise is zero-mean and, even spatially correlated, reaches only a few pixels, so what a
denoiser removes (noisy - out) should carry no low-frequency content. Any that it carries is a
bias of the model (haze, colour shift). The correction puts it back:
out' = out + G_sigma * (noisy - out), a Gaussian low-pass of width ``sigma`` px. For each sigma
this prints the mean PSNR over the set's first ``--images`` pairs (uint8, per image, mean) and
the worst per-image change. Writes results/lowpass_correction_<set>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import provenance, write_results  # noqa: E402
from sassid.inference import Denoiser, lowpass_correction  # noqa: E402
from sassid.io import find_pairs, read_image  # noqa: E402
from sassid.metrics import psnr  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--set", required=True)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0, 4, 8, 16])
    args = parser.parse_args()
    folder = DATA / args.set
    if not folder.exists():
        print(f"skipped: {folder} is absent")
        return 0
    denoiser = Denoiser.from_model(args.model, net="unet", device="cpu", lowpass_sigma=0.0)
    scores: dict[float, list[float]] = {s: [] for s in args.sigmas}
    noisy_scores = []
    for _, noisy_path, clean_path in find_pairs(folder)[: args.images]:
        noisy, clean = read_image(noisy_path).pixels, read_image(clean_path).pixels
        out = denoiser.pixels(noisy)
        noisy_scores.append(psnr(noisy, clean))
        for sigma in args.sigmas:
            scores[sigma].append(psnr(lowpass_correction(noisy, out, sigma), clean))
    base = np.array(scores[args.sigmas[0]])
    rows = [
        {
            "sigma": s,
            "psnr": float(np.mean(v)),
            "worst_change_db": float(np.min(np.array(v) - base)),
            "images_below_noisy": int(np.sum(np.array(v) < np.array(noisy_scores))),
        }
        for s, v in scores.items()
    ]
    meta = provenance()
    lines = [
        f"# Low-frequency correction: {args.set}",
        "",
        f"{meta['date']}, {meta['machine']}, commit {meta['commit']}. Command: "
        f"`{meta['command']}`. Model `{args.model}`; first {len(base)} pairs; noisy "
        f"{np.mean(noisy_scores):.2f} dB.",
        "",
        "| sigma (px) | U-Net PSNR (dB) | worst per-image change vs sigma "
        f"{args.sigmas[0]:g} (dB) | images below noisy |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sigma']:g} | {r['psnr']:.2f} | {r['worst_change_db']:+.2f} | "
            f"{r['images_below_noisy']} |"
        )
    text = "\n".join(lines) + "\n"
    write_results(f"lowpass_correction_{args.set}", {"meta": meta, "rows": rows}, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
