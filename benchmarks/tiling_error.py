"""How far tiled denoising is from one whole-image pass, for a trained model.

    python benchmarks/tiling_error.py -m RUN_DIR_OR_MODEL [--tile 256 --overlap 64]

Runs each network of the model on the demo photos (scikit-image, made noisy by sassid.synth)
whole and tiled, and reports the max and mean absolute difference in the [0, 255] scale and
the PSNR of the tiled output against the whole one. Writes results/tiling_error.json and .md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import provenance, write_results  # noqa: E402
from sassid.demo import demo_photos  # noqa: E402
from sassid.inference import Denoiser  # noqa: E402
from sassid.models import load_networks  # noqa: E402
from sassid.pixels import to_pixels  # noqa: E402
from sassid.synth import add_camera_noise  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=64)
    args = parser.parse_args()
    nets = load_networks(args.model)
    rows = []
    photos = [
        torch.from_numpy(to_pixels(add_camera_noise(p, 3200, seed=i)))[None]
        for i, p in enumerate(demo_photos().values())
    ]
    for net in ("unet", "lan", "bnn"):
        whole = Denoiser(nets, net=net, tile=0)
        tiled = Denoiser(nets, net=net, tile=args.tile, overlap=args.overlap)
        diffs = [(tiled.tensor(x) - whole.tensor(x)).abs() for x in photos]
        mse = float(np.mean([float(d.square().mean()) for d in diffs]))
        rows.append(
            {
                "net": net,
                "max_abs": max(float(d.max()) for d in diffs),
                "mean_abs": float(np.mean([float(d.mean()) for d in diffs])),
                "psnr_tiled_vs_whole": 10 * np.log10(255.0**2 / mse),
            }
        )
    meta = provenance()
    lines = [
        "# Tiled vs whole-image output",
        "",
        f"Model `{args.model}`, tile {args.tile}, overlap {args.overlap}, the four demo photos "
        "(iso_like 3200). Differences in the [0, 255] scale.",
        "",
        "| network | max abs | mean abs | PSNR tiled vs whole (dB) |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['net']} | {r['max_abs']:.3f} | {r['mean_abs']:.4f} | "
            f"{r['psnr_tiled_vs_whole']:.1f} |"
        )
    lines += [
        "",
        f"{meta['date']}, {meta['machine']}, commit {meta['commit']}: `{meta['command']}`.",
        "",
    ]
    write_results(
        "tiling_error",
        {"meta": meta, "tile": args.tile, "overlap": args.overlap, "rows": rows},
        "\n".join(lines),
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
