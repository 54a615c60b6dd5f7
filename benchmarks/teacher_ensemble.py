"""Would x8-ensembled or more overlapped teacher outputs make better targets? (issue 10, lever 4)

    python benchmarks/teacher_ensemble.py -m RUN --set sidd_samples [--images 13]
    python benchmarks/teacher_ensemble.py -m RUN --set sidd_samples --overlaps 16 32 --no-x8

The U-Net of stage 3 learns from its teachers' outputs, so a better target is a better student
at best. The cheapest better target is the x8 self-ensemble: the mean over the 8 flips and
transposes of ``T^-1(teacher(T(noisy)))``. A cache of ensembled targets costs 8 teacher passes
per image instead of one. This script measures what it would buy: the PSNR (uint8, raw network
output, no output corrections, mean per image) of the run's BNN, LAN and their fusion
((1 - alpha) BNN + alpha LAN, the stage-3 target) with and without the ensemble, on the first
``--images`` pairs of a set, teachers on tiles of their training crop as in training.
``--overlaps`` adds single-pass rows at other tile overlaps: a pixel covered by more tiles is
averaged over more positions in the tile, the blending window favouring tile interiors (a
BNN's output is worse near a tile's border, where it saw zero padding). Writes
results/teacher_ensemble_<set>.json and .md (``--name`` for another stem).
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
from benchmarks.common import provenance, scored_photos, set_absent, write_results  # noqa: E402
from sassid.inference import Denoiser, default_overlap, default_tile, fuse  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.models import read_model  # noqa: E402
from sassid.pixels import from_pixels, to_pixels  # noqa: E402

ROWS = ("bnn", "lan", "fusion")


def _variants(overlaps: list[int], default: int, x8: bool) -> list[tuple[str, int, bool]]:
    """(label, overlap, ensemble) of each row: a single pass at every overlap, then the x8
    ensemble at the default overlap."""
    rows = [(f"x1, overlap {o}", o, False) for o in overlaps or [default]]
    return rows + ([(f"x8, overlap {default}", default, True)] if x8 else [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument("--set", required=True)
    parser.add_argument("--images", type=int, default=13)
    parser.add_argument(
        "--overlaps",
        type=int,
        nargs="*",
        default=[],
        help="single-pass rows at these tile overlaps, px (default: the teachers' default)",
    )
    parser.add_argument("--no-x8", action="store_true", help="skip the x8 ensemble row")
    parser.add_argument("--name", help="results file stem (default teacher_ensemble_<set>)")
    args = parser.parse_args()
    if set_absent(args.set):
        return 0
    source = read_model(args.model)
    nets = source.networks(("bnn", "lan"))
    tile = default_tile("bnn", source.patch_size)
    default = default_overlap(tile, "bnn")
    pairs = [(noisy, clean) for _, noisy, clean in scored_photos(args.set, args.images)]
    results: dict[str, dict[str, float]] = {}
    for label, overlap, ensemble in _variants(args.overlaps, default, not args.no_x8):
        start = time.perf_counter()
        teachers = {
            name: Denoiser(nets, net=name, tile=tile, overlap=overlap, ensemble=ensemble)
            for name in ("bnn", "lan")
        }
        db: dict[str, list[float]] = {name: [] for name in ROWS}
        for noisy, clean in pairs:
            x = torch.from_numpy(to_pixels(noisy))[None]
            bnn, lan = teachers["bnn"].tensor(x), teachers["lan"].tensor(x)
            for name, out in (("bnn", bnn), ("lan", lan), ("fusion", fuse(bnn, lan, source.alpha))):
                db[name].append(psnr(from_pixels(out[0].numpy(), noisy.dtype.type), clean))
        results[label] = {name: float(np.mean(v)) for name, v in db.items()}
        results[label]["seconds"] = time.perf_counter() - start
        print(label, {k: round(v, 3) for k, v in results[label].items()}, flush=True)
    meta = provenance()
    noisy_db = float(np.mean([psnr(n, c) for n, c in pairs]))
    first = next(iter(results.values()))
    lines = [
        f"# Teacher targets: tile overlap and the x8 self-ensemble, {args.set}",
        "",
        f"{meta['date']}, {meta['machine']}, commit {meta['commit']}. Command: "
        f"`{meta['command']}`. Model `{args.model}`; first {len(pairs)} pairs; noisy "
        f"{noisy_db:.2f} dB; teachers on {tile} px tiles (default overlap {default} px); raw "
        "outputs (no output corrections). Δ and time ratio: against the first row.",
        "",
        "| teacher outputs | BNN (dB) | LAN | fusion | Δ BNN | Δ fusion | time (s) | time ratio |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {label} | {r['bnn']:.2f} | {r['lan']:.2f} | {r['fusion']:.2f} | "
            f"{r['bnn'] - first['bnn']:+.2f} | {r['fusion'] - first['fusion']:+.2f} | "
            f"{r['seconds']:.0f} | {r['seconds'] / first['seconds']:.2f} |"
            for label, r in results.items()
        ),
        "",
        "A cache of such targets costs its row's time over the time of a cache at the default "
        "overlap, one pass.",
    ]
    text = "\n".join(lines) + "\n"
    write_results(args.name or f"teacher_ensemble_{args.set}", {"meta": meta, **results}, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
