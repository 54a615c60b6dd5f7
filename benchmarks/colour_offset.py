"""How much of a model's score on a real set is lost to a colour offset against the references.

    python benchmarks/colour_offset.py -m RUN --set sidd_samples [--images 13]

A real set's "clean" image is the mean of many shots, rendered by the camera's pipeline; its
per-channel mean can differ from the noisy shot's by several levels (the pipeline's tone curve
turns zero-mean sensor noise into a darker mean, and exposures differ). A denoiser trained on the
noisy photos alone cannot know that offset. For each of the first ``--images`` pairs this script
measures, per channel, mean(noisy - clean) and mean(U-Net - clean) in levels, and the PSNR
(uint8) of the U-Net (as ``sassid denoise`` runs it: fp32 torch, default tiles, the model's
output corrections) as is and with its own per-channel mean offset subtracted: an oracle (it
needs the clean image) that says how far the score is held down by global colour alone.
Writes results/colour_offset_<set>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import provenance, scored_photos, set_absent, stamp, write_results  # noqa: E402
from sassid.inference import Denoiser  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.pixels import from_pixels  # noqa: E402


def channel_offset(image: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Per-channel mean of ``image - clean`` in levels (float64, shape (3,))."""
    return (image.astype(np.float64) - clean.astype(np.float64)).mean(axis=(0, 1))


def without_offset(image: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``image`` minus a per-channel offset, rounded half up and clamped to its dtype."""
    return from_pixels(
        (image.astype(np.float32) - offset.astype(np.float32)).transpose(2, 0, 1),
        image.dtype.type,
    )


def _rgb(offset: list[float]) -> str:
    return "/".join(f"{v:+.1f}" for v in offset)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument("--set", required=True, help="pairs folder under shared/data")
    parser.add_argument("--images", type=int, default=13)
    args = parser.parse_args()
    if set_absent(args.set):
        return 0
    denoiser = Denoiser.from_model(args.model, net="unet", device="cpu")
    rows = []
    for ident, noisy, clean in scored_photos(args.set, args.images):
        out = denoiser.pixels(noisy)
        noisy_offset, out_offset = channel_offset(noisy, clean), channel_offset(out, clean)
        rows.append(
            {
                "id": ident,
                "noisy_offset": noisy_offset.round(2).tolist(),
                "unet_offset": out_offset.round(2).tolist(),
                "noisy_psnr": psnr(noisy, clean),
                "unet_psnr": psnr(out, clean),
                "unet_psnr_offset_removed": psnr(without_offset(out, out_offset), clean),
            }
        )
        print(f"{ident}: {rows[-1]}", flush=True)
    means = {
        key: float(np.mean([r[key] for r in rows]))
        for key in ("noisy_psnr", "unet_psnr", "unet_psnr_offset_removed")
    }
    payload = {**provenance(), "model": str(args.model), "set": args.set, "rows": rows, **means}
    lines = [
        f"# Colour offset against the references: {args.set}",
        "",
        f"{stamp(payload)} Model `{args.model}`.",
        "",
        "Offsets: per-channel mean of the image minus its clean reference, in levels (R/G/B). "
        "PSNR: uint8, dB. *Offset removed*: the U-Net output minus its own per-channel offset, an "
        "oracle that needs the clean image; no noisy-only method can know the offset.",
        "",
        "| photo | noisy offset | U-Net offset | noisy | U-Net | U-Net, offset removed | Δ |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gain = r["unet_psnr_offset_removed"] - r["unet_psnr"]
        lines.append(
            f"| {r['id']} | {_rgb(r['noisy_offset'])} | {_rgb(r['unet_offset'])} | "
            f"{r['noisy_psnr']:.2f} | {r['unet_psnr']:.2f} | "
            f"{r['unet_psnr_offset_removed']:.2f} | {gain:+.2f} |"
        )
    lines.append(
        f"| **mean** | | | {means['noisy_psnr']:.2f} | {means['unet_psnr']:.2f} | "
        f"{means['unet_psnr_offset_removed']:.2f} | "
        f"{means['unet_psnr_offset_removed'] - means['unet_psnr']:+.2f} |"
    )
    write_results(f"colour_offset_{args.set}", payload, "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
