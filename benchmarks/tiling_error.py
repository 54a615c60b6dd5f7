"""What tiling costs a trained U-Net, per tile overlap: quality against clean and against one
whole-image pass, and the pixels a large photo's tiles compute.

    python benchmarks/tiling_error.py -m RUN_DIR_OR_MODEL --set sidd_samples --images 13 \
        [--tile 256 --overlaps 128 96 64 48 32]

For each overlap o, every photo is cut (top left) along each axis to the largest
tile + k (tile - o) pixels that fits, k >= 1, so that all its seams have exactly that overlap
(``sassid.tiling`` puts the last tile flush with the edge, which elsewhere gives one seam a
wider overlap); photos shorter than 2 x tile - o on a side are left out. Each goes through
``Denoiser.pixels`` as ``sassid denoise`` runs it (fp32, the model's output corrections), whole
and in tiles of ``--tile``. At the default tile of 256 the seams lie tile - o apart, closer
than a large photo's in tiles of 512 (512 - o): a conservative proxy. ``--set
demo`` takes the demo's photos instead (scikit-image, made noisy by ``sassid.synth`` at the
demo's iso_like, scored against the noise-free render). The cost column counts the pixels the
U-Net computes per photo pixel for a 24 MP photo (6000 x 4000) in tiles of 512 at that overlap.
Writes results/tiling_error_<set>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import provenance, scored_photos, set_absent, stamp, write_results  # noqa: E402
from sassid.inference import DEFAULT_TILE, Denoiser, default_overlap  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.models import read_model  # noqa: E402

LARGE = (4000, 6000)
"""The large photo whose tile count the cost column gives (rows, columns)."""


def cut(length: int, tile: int, overlap: int) -> int:
    """The largest ``tile + k (tile - overlap)`` <= ``length`` with k >= 1 (0 if none)."""
    k = (length - tile) // (tile - overlap)
    return tile + k * (tile - overlap) if k >= 1 else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True)
    parser.add_argument("--set", default="demo", help="pairs folder under shared/data, or demo")
    parser.add_argument("--images", type=int, default=13)
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--overlaps", type=int, nargs="+", default=[128, 96, 64, 48, 32])
    parser.add_argument("--name", default=None, help="results file stem")
    args = parser.parse_args()
    if set_absent(args.set):
        return
    model = read_model(args.model)
    nets = model.networks(("unet",))
    pairs = scored_photos(args.set, args.images)

    def run(images: list[np.ndarray], tile: int, overlap: int) -> list[np.ndarray]:
        denoiser = Denoiser.from_model(model, tile=tile, overlap=overlap, nets=nets)
        return [denoiser.pixels(image) for image in images]

    def score(outputs: list[np.ndarray], against: list[np.ndarray]) -> float:
        return float(np.mean([psnr(o, c) for o, c in zip(outputs, against, strict=True)]))

    rows: list[dict[str, float | int]] = []
    for overlap in args.overlaps:
        boxes = [
            (cut(n.shape[0], args.tile, overlap), cut(n.shape[1], args.tile, overlap))
            for _, n, _ in pairs
        ]
        kept = [(n, c, box) for (_, n, c), box in zip(pairs, boxes, strict=True) if min(box)]
        if not kept:
            print(f"skipped overlap {overlap}: no photo is 2 x {args.tile} - {overlap} px")
            continue
        noisy = [np.ascontiguousarray(n[: b[0], : b[1]]) for n, _, b in kept]
        clean = [c[: b[0], : b[1]] for _, c, b in kept]
        whole, tiled = run(noisy, 0, 0), run(noisy, args.tile, overlap)
        diffs = [
            np.abs(t.astype(np.int32) - w.astype(np.int32))
            for t, w in zip(tiled, whole, strict=True)
        ]
        mse = float(np.mean([float(np.mean(d.astype(np.float64) ** 2)) for d in diffs]))
        large = Denoiser.from_model(model, tile=DEFAULT_TILE, overlap=overlap, nets=nets)
        rows.append(
            {
                "overlap": overlap,
                "photos": len(kept),
                "megapixels": sum(b[0] * b[1] for _, _, b in kept) / 1e6,
                "psnr_clean_whole": score(whole, clean),
                "psnr_clean_tiled": score(tiled, clean),
                "psnr_whole": 10 * np.log10(255.0**2 / mse) if mse else float("inf"),
                "max_abs": int(max(int(d.max()) for d in diffs)),
                "changed": float(np.mean([float(np.mean(d > 0)) for d in diffs])),
                "cost_24mp": large.tiles_for(*LARGE) * DEFAULT_TILE**2 / (LARGE[0] * LARGE[1]),
            }
        )
        print(rows[-1], flush=True)
    meta = provenance()
    lines = [
        f"# Tiled against whole-image U-Net output: {args.set}",
        "",
        stamp(meta),
        "",
        f"Model `{args.model}`; of the first {len(pairs)} photos of `{args.set}`, those at "
        f"least 2 x {args.tile} - overlap px on a side, each cut to the largest {args.tile} + "
        f"k ({args.tile} - overlap) px per axis so that every seam between its tiles of "
        f"{args.tile} has exactly that overlap, through `Denoiser.pixels` as `sassid denoise` "
        "runs them (fp32, the model's output corrections), whole and tiled. Δ: PSNR against clean, "
        "tiled minus whole, on the same cut. Differences in uint8 levels. Cost: pixels the "
        f"U-Net computes per photo pixel for a {LARGE[1]} x {LARGE[0]} photo in tiles of "
        f"{DEFAULT_TILE} (the default overlap there is {default_overlap(DEFAULT_TILE, 'unet')}).",
        "",
        "| overlap (px) | photos (MP) | PSNR vs clean, whole (dB) | Δ tiled (dB) | "
        "PSNR vs whole (dB) | max abs vs whole | pixels changed | cost at 24 MP |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['overlap']} | {r['photos']} ({r['megapixels']:.2f}) | "
            f"{r['psnr_clean_whole']:.3f} | "
            f"{r['psnr_clean_tiled'] - r['psnr_clean_whole']:+.3f} | {r['psnr_whole']:.1f} | "
            f"{r['max_abs']} | {100 * r['changed']:.2f}% | {r['cost_24mp']:.2f} |"
        )
    lines.append("")
    stem = args.name or f"tiling_error_{args.set}"
    write_results(stem, {"meta": meta, "tile": args.tile, "rows": rows}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
