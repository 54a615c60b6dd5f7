"""Would x8-ensembled teacher outputs make better training targets? (issue 10, lever 4)

    python benchmarks/teacher_ensemble.py -m RUN --set sidd_samples [--images 13]

The U-Net of stage 3 learns from its teachers' outputs, so a better target is a better student
at best. The cheapest better target is the x8 self-ensemble: the mean over the 8 flips and
transposes of ``T^-1(teacher(T(noisy)))``. A cache of ensembled targets costs 8 teacher passes
per image instead of one. This script measures what it would buy: the PSNR (uint8, raw network
output, no output corrections, mean per image) of the run's BNN, LAN and their fusion
((1 - alpha) BNN + alpha LAN, the stage-3 target) with and without the ensemble, on the first
``--images`` pairs of a set, teachers on tiles of their training crop as in training. Writes
results/teacher_ensemble_<set>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import provenance, write_results  # noqa: E402
from sassid.inference import Denoiser, default_overlap, default_tile, fuse  # noqa: E402
from sassid.io import find_pairs, read_image  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.models import read_model  # noqa: E402
from sassid.pixels import from_pixels, to_pixels  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
ROWS = ("bnn", "lan", "fusion")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument("--set", required=True)
    parser.add_argument("--images", type=int, default=13)
    args = parser.parse_args()
    folder = DATA / args.set
    if not folder.exists():
        print(f"skipped: {folder} is absent")
        return 0
    source = read_model(args.model)
    nets = source.networks(("bnn", "lan"))
    tile = default_tile("bnn", source.patch_size)
    pairs = [
        (read_image(n).pixels, read_image(c).pixels)
        for _, n, c in find_pairs(folder)[: args.images]
    ]
    results: dict[str, dict[str, float]] = {}
    for ensemble in (False, True):
        start = time.perf_counter()
        teachers = {
            name: Denoiser(
                nets, net=name, tile=tile, overlap=default_overlap(tile, name), ensemble=ensemble
            )
            for name in ("bnn", "lan")
        }
        db: dict[str, list[float]] = {name: [] for name in ROWS}
        for noisy, clean in pairs:
            x = torch.from_numpy(to_pixels(noisy))[None]
            bnn, lan = teachers["bnn"].tensor(x), teachers["lan"].tensor(x)
            for name, out in (("bnn", bnn), ("lan", lan), ("fusion", fuse(bnn, lan, source.alpha))):
                db[name].append(psnr(from_pixels(out[0].numpy(), noisy.dtype.type), clean))
        label = "x8" if ensemble else "x1"
        results[label] = {name: float(np.mean(v)) for name, v in db.items()}
        results[label]["seconds"] = time.perf_counter() - start
        print(label, {k: round(v, 3) for k, v in results[label].items()}, flush=True)
    meta = provenance()
    noisy_db = float(np.mean([psnr(n, c) for n, c in pairs]))
    one, eight = results["x1"], results["x8"]
    lines = [
        f"# Teacher targets with the x8 self-ensemble: {args.set}",
        "",
        f"{meta['date']}, {meta['machine']}, commit {meta['commit']}. Command: "
        f"`{meta['command']}`. Model `{args.model}`; first {len(pairs)} pairs; noisy "
        f"{noisy_db:.2f} dB; teachers on {tile} px tiles; raw outputs (no output corrections).",
        "",
        "| teacher output | single pass (dB) | x8 ensemble (dB) | gain (dB) |",
        "|---|---|---|---|",
        *(
            f"| {name} | {one[name]:.2f} | {eight[name]:.2f} | {eight[name] - one[name]:+.2f} |"
            for name in ROWS
        ),
        "",
        f"Teacher time over these images: {one['seconds']:.0f} s single, "
        f"{eight['seconds']:.0f} s x8 (a cache of ensembled targets costs the same ratio).",
    ]
    text = "\n".join(lines) + "\n"
    write_results(f"teacher_ensemble_{args.set}", {"meta": meta, **results}, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
