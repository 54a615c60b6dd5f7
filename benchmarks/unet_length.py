"""The U-Net against its training length, and against the tile it is run on.

    python benchmarks/unet_length.py -m RUN --set sidd_samples --steps 8000 --every 2000 \
        --crops 64x8@32/64 128x2@32/64

Why: one-hour SIDD runs on a machine 3-4x faster than this project's usual one trained the
U-Net for 32442 and 55994 steps (instead of 7000-12000) and lost 2.1 and 0.4 dB to their own
teachers' fusion, not evenly but on a few photos, as colour shifts of up to 15 levels
(results/real_photos_sidd_samples_unet48.md, _unet32.md). A suspect: the U-Net trains on 64 px
crops, where its deepest level (after five 2x pools) is 2 x 2 pixels, all border, but runs on
512 px tiles, where that level has an interior it never saw in training.

Each arm (``SIZExBATCH[:SUPERVISION][@ENC/DEC]``, as in unet_crop.py) retrains stage 3 alone on
the run's frozen BNN and LAN for ``--steps`` (one cosine schedule), keeping a snapshot every
``--every`` steps (``keep_every``). Every snapshot is scored on the first ``--images`` pairs,
the U-Net's own output (no noise gate, no guard), fp32:

- ``psnr_512``: on 512 px tiles, as ``sassid denoise`` runs it;
- ``psnr_crop``: on tiles of its own training crop (overlap a quarter);
- ``shift``: the largest mean colour difference (levels, any channel, any photo) between the
  two, i.e. what the larger tile changes at low frequencies;
- ``psnr_denoise``: with what ``sassid denoise`` adds (512 px tiles, noise gate and guard), in
  fp32.

Writes results/unet_length_<set>.json and .md (``--name STEM``: results/STEM.*).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import (  # noqa: E402
    DATA,
    frozen_run_header,
    net_psnr,
    scored_photos,
    set_absent,
    stamp,
    write_results,
)
from benchmarks.unet_crop import parse_crop, train_arm  # noqa: E402
from sassid.config import load_config  # noqa: E402
from sassid.inference import Denoiser  # noqa: E402
from sassid.io import find_pairs  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.models import read_model  # noqa: E402

Photos = list[tuple[str, np.ndarray, np.ndarray]]


def snapshots(run: Path) -> list[tuple[int, Path]]:
    """The U-Net snapshots ``keep_every`` left in ``run``, by step."""
    found = []
    for path in (run / "checkpoints").glob("unet_step*.pt"):
        match = re.fullmatch(r"unet_step(\d+)\.pt", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def score_snapshot(checkpoint: Path, crop: int, photos: Photos) -> dict[str, float]:
    """The snapshot's PSNR on 512 px tiles and on tiles of its crop, the colour shift between
    the two, and its PSNR as ``sassid denoise`` runs it."""
    source = read_model(checkpoint)  # read and built once for the three ways it is run
    nets = source.networks(("unet",))
    raw = {"noise_gate": 0.0, "guard": False, "device": "cpu", "nets": nets}
    large = Denoiser.from_model(source, net="unet", **raw)
    small = Denoiser.from_model(source, net="unet", tile=crop, overlap=crop // 4, **raw)
    psnr_large, psnr_small, shifts = [], [], []
    for _, noisy, clean in photos:
        out_large, out_small = large.pixels(noisy), small.pixels(noisy)
        psnr_large.append(psnr(out_large, clean))
        psnr_small.append(psnr(out_small, clean))
        difference = out_large.astype(np.float64) - out_small.astype(np.float64)
        shifts.append(float(np.abs(difference.reshape(-1, difference.shape[-1]).mean(0)).max()))
    return {
        "psnr_512": float(np.mean(psnr_large)),
        "psnr_crop": float(np.mean(psnr_small)),
        "psnr_512_per_image": psnr_large,
        "shift": max(shifts),
        "psnr_denoise": net_psnr(source, "unet", photos, nets=nets),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run (BNN, LAN reused)")
    parser.add_argument("--set", required=True)
    parser.add_argument("--images", type=int, default=13, help="score the first N pairs")
    parser.add_argument("--steps", type=int, default=8000, help="U-Net steps per arm")
    parser.add_argument("--every", type=int, default=2000, help="snapshot every N steps")
    parser.add_argument(
        "--crops", nargs="+", default=["64x8", "128x2"], help="SIZExBATCH[:SUPERVISION][@ENC/DEC]"
    )
    parser.add_argument("--name", help="results file stem (default unet_length_<set>)")
    parser.add_argument("--work", default="/tmp/sassid_unet_length")
    args = parser.parse_args()
    if args.every <= 0 or args.steps % args.every:
        parser.error("--every must divide --steps (the schedule's end is a snapshot too)")
    if set_absent(args.set):
        return
    run_dir = Path(args.model)
    base = load_config(run_dir / "config.json")
    noisy = [n for _, n, _ in find_pairs(DATA / args.set)]
    photos = scored_photos(args.set, args.images)
    arms = {text: parse_crop(text) for text in args.crops}  # every arm checked before training
    rows: dict[str, Any] = {}
    for text, arm in arms.items():
        work = Path(args.work) / args.set / re.sub(r"[:/]", "_", text)
        config, seconds = train_arm(
            base, run_dir, arm, args.steps, work, noisy, keep_every=args.every
        )
        points = {step: score_snapshot(path, arm[0], photos) for step, path in snapshots(work)}
        rows[text] = {
            "patch": arm[0],
            "batch": arm[1],
            "supervision": config.unet.supervision,
            "widths": [config.unet.enc_channels, config.unet.dec_channels],
            "train_seconds": seconds,
            "snapshots": points,
        }
        brief = {s: {k: v for k, v in p.items() if "per_image" not in k} for s, p in points.items()}
        print(text, brief, flush=True)
    payload = {
        **frozen_run_header(run_dir, args.set, photos),
        "fusion": net_psnr(run_dir, "fusion", photos),
        "steps": args.steps,
        "every": args.every,
        "rows": rows,
    }
    text = _markdown(payload)
    write_results(args.name or f"unet_length_{args.set}", payload, text)
    print(text)


def _markdown(payload: dict[str, Any]) -> str:
    lines = [
        f"# The U-Net against its training length and its tile: {payload['set']}",
        "",
        stamp(payload["meta"]),
        "",
        f"Each arm retrains the U-Net alone on the frozen BNN and LAN of `{payload['model']}` "
        f"for {payload['steps']} steps (one cosine schedule, `laptop` preset otherwise), keeping "
        f"a snapshot every {payload['every']} steps; scored on the first {payload['images']} "
        f"pairs (noisy {payload['noisy']:.2f} dB, the teachers' fusion "
        f"{payload['fusion']:.2f} dB). PSNR in dB (uint8, mean per image) of the U-Net's own "
        "output (fp32, no noise gate, no guard) on 512 px tiles and on tiles of its training "
        "crop; shift: the largest mean colour difference between those two outputs (levels, "
        "any channel, any photo); `sassid denoise`: 512 px tiles with the gate and guard "
        "(fp32).",
        "",
        "| arm | step | 512 px tiles | crop tiles | 512 - crop | shift (levels) "
        "| worst photo (512) | `sassid denoise` |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for arm, row in payload["rows"].items():
        for step, p in row["snapshots"].items():
            lines.append(
                f"| {arm} | {step} | {p['psnr_512']:.2f} | {p['psnr_crop']:.2f} | "
                f"{p['psnr_512'] - p['psnr_crop']:+.2f} | {p['shift']:.2f} | "
                f"{min(p['psnr_512_per_image']):.2f} | {p['psnr_denoise']:.2f} |"
            )
    seconds = ", ".join(f"{a} {r['train_seconds']:.0f} s" for a, r in payload["rows"].items())
    lines += ["", f"Training time (teacher cache included): {seconds}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
