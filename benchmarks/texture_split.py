"""Where a trained run loses or gains PSNR: flat against textured pixels, raw against gated.

    python benchmarks/texture_split.py -m RUN --set demo --iso-like 1000 --images 4
    python benchmarks/texture_split.py -m RUN --set sidd_samples [--images 13]

For each scored pair the clean image's local variance (a 7 x 7 box, mean over the channels)
splits the pixels: the ``--textured`` share with the highest variance is "textured", the rest
"flat". Every network of the run (``--nets``) is scored twice: raw (``noise_gate 0``, no guard:
the network's own output) and as ``sassid denoise`` runs it (the model's output corrections);
PSNR (uint8, dB) over all pixels and over each part, per image, then the mean over images.
Two reference rows: the noisy input, and the clean image blurred by a Gaussian of
``--blur`` px, which says how much pixel-level detail the photos hold (how much a mild blur,
the way a denoiser fails, costs on them). Writes results/texture_split_<set>[_iso<N>].json
and .md (``--name STEM``: results/STEM.*).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter, uniform_filter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import provenance, scored_photos, set_absent, stamp, write_results  # noqa: E402

NETS = ("bnn", "lan", "fusion", "unet")
PARTS = ("all", "flat", "textured")


def textured_mask(clean: np.ndarray, share: float, window: int = 7) -> np.ndarray:
    """HxW bool: the ``share`` of pixels whose local variance (``window``² box, mean over the
    channels) of ``clean`` is highest; var = E[x²] - E[x]² per channel."""
    x = clean.astype(np.float64)
    variance = np.mean(
        [
            uniform_filter(x[..., c] ** 2, window) - uniform_filter(x[..., c], window) ** 2
            for c in range(x.shape[-1])
        ],
        axis=0,
    )
    return variance > np.quantile(variance, 1.0 - share)


def part_psnr(output: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """PSNR (dB, range 255) of ``output`` over all pixels, the unmasked ("flat") and the
    masked ("textured") ones: 10 log10(255² / MSE) over each part's pixels and channels."""
    squared = (output.astype(np.float64) - clean.astype(np.float64)) ** 2
    parts = {"all": squared, "flat": squared[~mask], "textured": squared[mask]}
    return {k: float(10 * np.log10(255.0**2 / max(v.mean(), 1e-12))) for k, v in parts.items()}


def blurred(clean: np.ndarray, sigma_px: float) -> np.ndarray:
    """``clean`` (HWC) blurred by a Gaussian of ``sigma_px`` per channel (float64), back in its
    dtype as ``sassid denoise`` writes outputs (``sassid.pixels``)."""
    from sassid.pixels import from_pixels, to_pixels

    chw = to_pixels(clean).astype(np.float64)
    for c in range(chw.shape[0]):
        chw[c] = gaussian_filter(chw[c], sigma_px)
    return from_pixels(chw, clean.dtype.type)


def mean_parts(
    outputs: list[np.ndarray], cleans: list[np.ndarray], masks: list[np.ndarray]
) -> dict[str, float]:
    """``part_psnr`` of each output against its clean image, then the mean over images."""
    rows = [part_psnr(o, c, m) for o, c, m in zip(outputs, cleans, masks, strict=True)]
    return {k: float(np.mean([r[k] for r in rows])) for k in PARTS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument("--set", required=True, help="pairs folder under shared/data, or demo")
    parser.add_argument("--images", type=int, default=13)
    parser.add_argument(
        "--iso-like", type=float, default=None, help="demo noise (default the demo's)"
    )
    parser.add_argument("--nets", nargs="+", choices=NETS, default=list(NETS))
    parser.add_argument(
        "--textured", type=float, default=0.3, help="share of pixels called textured"
    )
    parser.add_argument(
        "--blur", type=float, default=1.0, help="reference blur (px, Gaussian sigma)"
    )
    parser.add_argument("--name", help="results file stem")
    args = parser.parse_args()
    if not 0.0 < args.textured < 1.0:
        parser.error(f"--textured must be between 0 and 1, got {args.textured}")
    if args.set != "demo" and set_absent(args.set):
        return 0
    from sassid.inference import Denoiser

    photos = scored_photos(args.set, args.images, args.iso_like)
    noisies, cleans = [n for _, n, _ in photos], [c for _, _, c in photos]
    masks = [textured_mask(c, args.textured) for c in cleans]
    table: dict[str, dict[str, float]] = {
        "noisy": mean_parts(noisies, cleans, masks),
        f"clean blurred {args.blur:g} px": mean_parts(
            [blurred(c, args.blur) for c in cleans], cleans, masks
        ),
    }
    for net in args.nets:
        raw: dict[str, Any] = {"noise_gate": 0.0, "guard": False}
        for label, options in (("raw", raw), ("denoise", {})):
            denoiser = Denoiser.from_model(args.model, net=net, device="cpu", **options)
            outputs = [denoiser.pixels(n) for n in noisies]
            table[f"{net} {label}"] = mean_parts(outputs, cleans, masks)
            print(net, label, table[f"{net} {label}"], flush=True)
    payload: dict[str, Any] = {
        **provenance(),
        "model": str(args.model),
        "set": args.set,
        "iso_like": args.iso_like,
        "images": len(photos),
        "textured_share": args.textured,
        "blur_px": args.blur,
        "rows": table,
    }
    where = args.set + (f" at iso_like {args.iso_like:g}" if args.iso_like else "")
    lines = [
        f"# Flat against textured pixels: {where}",
        "",
        f"{stamp(payload)} Model `{args.model}`; the first {len(photos)} pairs.",
        "",
        f"Textured: the {args.textured:.0%} of each photo's pixels with the highest local variance "
        "of the clean image (7 x 7 box); flat: the rest. PSNR: uint8, dB, per image, then the "
        "mean. *raw*: the network's own output (noise gate 0, no guard); *denoise*: as "
        "`sassid denoise` runs it (the model's output corrections).",
        "",
        "| output | all | flat | textured |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row} | " + " | ".join(f"{v[k]:.2f}" for k in PARTS) + " |" for row, v in table.items()
    ]
    stem = args.name or f"texture_split_{args.set}" + (
        f"_iso{args.iso_like:g}" if args.iso_like else ""
    )
    write_results(stem, payload, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
