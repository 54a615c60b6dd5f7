"""What the output corrections (sassid.corrections) do to a trained U-Net on real pairs.

    python benchmarks/output_corrections.py -m RUN --set polyu100|sidd_samples|demo [--images 12]
        [--sigmas 0 4 8 16 32] [--gates 0 1 1.5 2 3] [--gate-sigmas 0 8] [--level-gates 2 3]
        [--iso-like N (demo)] [--name STEM]

Two sweeps over one set of U-Net outputs (computed once, corrections off):
1. low-frequency restoration alone, ``out += G_sigma * (noisy - out)``, for each ``--sigmas``;
2. the noise gate for each factor in ``--gates`` (``out = noisy - g (noisy - out)`` where the
   removed part's local RMS exceeds factor x the photo's own noise std), alone (gate sigma 0)
   and after low-frequency restoration at each of the other ``--gate-sigmas``;
3. the noise gate against the photo's noise level function (sigma per channel as a function of
   intensity, ``sassid.noise.measure_noise_level``) for each factor in ``--level-gates``.
Each row: mean PSNR (uint8, per image) over the first ``--images`` pairs, the worst per-image
change against the uncorrected output, and how many images end below their noisy input.
Writes results/output_corrections_<set>.json and .md (``--name``: another stem).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import provenance, scored_photos, set_absent, write_results  # noqa: E402
from sassid.corrections import gate_to_noise, restore_low_frequencies  # noqa: E402
from sassid.inference import Denoiser  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.noise import NoiseLevelFunction, measure_noise, measure_noise_level  # noqa: E402
from sassid.pixels import from_pixels, to_pixels  # noqa: E402


def corrected(
    noisy: np.ndarray,
    out: np.ndarray,
    sigma: float,
    gate: float,
    noise: float | NoiseLevelFunction,
) -> np.ndarray:
    """``out`` (HWC, stored dtype) after both corrections, as ``Denoiser.correct`` applies them,
    the gate against ``noise`` (the photo's one sigma, or its noise level function)."""
    y, fixed = to_pixels(noisy), to_pixels(out)
    restore_low_frequencies(y, fixed, sigma)
    gate_to_noise(y, fixed, noise, gate)
    return from_pixels(fixed, out.dtype.type)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument("--set", required=True)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--sigmas", type=float, nargs="+", default=[0, 4, 8, 16, 32])
    parser.add_argument("--gates", type=float, nargs="+", default=[0, 1, 1.5, 2, 3])
    parser.add_argument("--gate-sigmas", type=float, nargs="+", default=[0.0, 8.0])
    parser.add_argument("--level-gates", type=float, nargs="*", default=[1.5, 2, 3])
    parser.add_argument("--iso-like", type=float, help="--set demo: its noise (default the demo's)")
    parser.add_argument("--name", help="results file stem (default output_corrections_<set>)")
    args = parser.parse_args()
    if set_absent(args.set):
        return 0
    denoiser = Denoiser.from_model(
        args.model, net="unet", device="cpu", lowpass_sigma=0.0, noise_gate=0.0
    )
    photos = []
    for _, noisy, clean in scored_photos(args.set, args.images, args.iso_like):
        # each photo's noise, measured once: one sigma (False) or the level function (True)
        noise: dict[bool, float | NoiseLevelFunction] = {
            False: measure_noise([noisy]).sigma,
            True: measure_noise_level(noisy),
        }
        photos.append((noisy, clean, denoiser.pixels(noisy), noise))
    noisy_db = np.array([psnr(n, c) for n, c, _, _ in photos])
    raw_db = np.array([psnr(o, c) for _, c, o, _ in photos])
    settings = [(s, 0.0, False) for s in args.sigmas]
    settings += [(s, g, False) for s in args.gate_sigmas for g in args.gates]
    settings += [(0.0, g, True) for g in args.level_gates]
    rows = []
    for sigma, gate, level in dict.fromkeys(settings):
        db = np.array(
            [psnr(corrected(n, o, sigma, gate, noise[level]), c) for n, c, o, noise in photos]
        )
        rows.append(
            {
                "lowpass_sigma": sigma,
                "noise_gate": gate,
                "gate_sigma": "level function" if level else "photo",
                "psnr": float(db.mean()),
                "worst_change_db": float(np.min(db - raw_db)),
                "images_below_noisy": int(np.sum(db < noisy_db)),
                "per_image": db.tolist(),
            }
        )
        print(rows[-1]["lowpass_sigma"], gate, f"{rows[-1]['psnr']:.2f}", flush=True)
    meta = provenance()
    lines = [
        f"# Output corrections: {args.set}"
        + (f" at iso_like {args.iso_like:g}" if args.iso_like else ""),
        "",
        f"{meta['date']}, {meta['machine']}, commit {meta['commit']}. Command: "
        f"`{meta['command']}`. Model `{args.model}`; first {len(photos)} pairs; noisy "
        f"{noisy_db.mean():.2f} dB; U-Net without corrections {raw_db.mean():.2f} dB.",
        "",
        "Gate noise std: one per photo (`measure_noise`), or per channel and intensity "
        "(`measure_noise_level`, read at the output's intensity).",
        "",
        "| lowpass_sigma (px) | noise_gate (x noise std) | gate noise std | U-Net PSNR (dB) "
        "| worst per-image change vs uncorrected (dB) | images below noisy |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['lowpass_sigma']:g} | {r['noise_gate']:g} | {r['gate_sigma']} | {r['psnr']:.2f} "
            f"| {r['worst_change_db']:+.2f} | {r['images_below_noisy']} |"
        )
    text = "\n".join(lines) + "\n"
    payload = {
        "meta": meta,
        "model": args.model,
        "iso_like": args.iso_like,
        "noisy_psnr": noisy_db.tolist(),
        "rows": rows,
    }
    write_results(args.name or f"output_corrections_{args.set}", payload, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
