"""Cached teacher targets: train stages 2-3 on the cached orientation only, or turn the targets.

    python benchmarks/cache_augment.py -m RUN --set sidd_samples [--lan-steps 900 --unet-steps 3000]

The `laptop` preset caches its teachers in one orientation (`cache_transforms = 1`): the
cache costs a teacher pass per transform, and on 100 photos eight cost more than they save.
The sampler then drew only that orientation, so the LAN and the U-Net never saw a flipped or
transposed crop, while the BNN (no teachers) trained on all 8. `cache_augment = true` draws
all 8 and turns each cached target with its crop (`sassid.data.PatchSampler`). Each arm
retrains the LAN and the U-Net for the same steps on the run's own frozen BNN, on the set's
noisy photos, with the `laptop` preset otherwise; `--per-crop` adds the reference's way (the
teachers run on every augmented crop, no cache), slower per step. Scored on the first
``--images`` pairs: PSNR (dB, uint8, mean per image) of the LAN (64 px tiles), the fusion and
the U-Net, with the output corrections `sassid denoise` applies. Writes
results/cache_augment_<set>.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path
from typing import Any

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
from sassid.config import TrainConfig, load_config  # noqa: E402
from sassid.io import find_pairs  # noqa: E402
from sassid.models import model_file  # noqa: E402
from sassid.train import train  # noqa: E402

ARMS: dict[str, dict[str, Any]] = {
    "cached orientation only": {"cache_teachers": True, "cache_augment": False},
    "cached targets turned with their crops": {"cache_teachers": True, "cache_augment": True},
}
PER_CROP = {"per-crop teachers (no cache)": {"cache_teachers": False}}


def arm_config(
    base: TrainConfig, model: Path, change: dict[str, Any], lan: int, unet: int
) -> TrainConfig:
    """The run's config with its BNN frozen, LAN and U-Net retrained for fixed steps."""
    return dataclasses.replace(
        base,
        **change,
        checkpoint_every=10 * max(lan, unet),
        bnn=dataclasses.replace(base.bnn, init=str(model), skip=True, auto_blind_size=False),
        lan=dataclasses.replace(base.lan, steps=lan, plateau_gain=0.0),
        unet=dataclasses.replace(base.unet, steps=unet, plateau_gain=0.0),
    )


def scores(run: Path, photos: list) -> dict[str, float]:
    """PSNR of the run's LAN, fusion and U-Net as ``sassid denoise`` runs them."""
    return {name: net_psnr(run, name, photos) for name in ("lan", "fusion", "unet")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run (its BNN is reused)")
    parser.add_argument("--set", required=True)
    parser.add_argument("--images", type=int, default=13, help="score the first N pairs")
    parser.add_argument("--lan-steps", type=int, default=900)
    parser.add_argument("--unet-steps", type=int, default=3000)
    parser.add_argument("--per-crop", action="store_true", help="add the per-crop teachers arm")
    parser.add_argument("--work", default="/tmp/sassid_cache_augment")
    args = parser.parse_args()
    if set_absent(args.set):
        return
    run_dir = Path(args.model)
    base = load_config(run_dir / "config.json")
    noisy = [n for _, n, _ in find_pairs(DATA / args.set)]
    photos = scored_photos(args.set, args.images)
    arms = {**ARMS, **(PER_CROP if args.per_crop else {})}
    rows: dict[str, Any] = {}
    for number, (label, change) in enumerate(arms.items()):
        work = Path(args.work) / args.set / f"arm{number}"
        shutil.rmtree(work, ignore_errors=True)
        config = arm_config(base, model_file(run_dir), change, args.lan_steps, args.unet_steps)
        start = time.perf_counter()
        train(noisy, work, config, progress=False)
        rows[label] = {"train_seconds": time.perf_counter() - start, **scores(work, photos)}
        print(label, rows[label], flush=True)
    payload = {
        **frozen_run_header(run_dir, args.set, photos),
        "lan_steps": args.lan_steps,
        "unet_steps": args.unet_steps,
        "rows": rows,
    }
    text = _markdown(payload)
    write_results(f"cache_augment_{args.set}", payload, text)
    print(text)


def _markdown(payload: dict[str, Any]) -> str:
    rows = payload["rows"]
    first = next(iter(rows.values()))
    lines = [
        f"# Cached teacher targets and augmentation: {payload['set']}",
        "",
        stamp(payload["meta"]),
        "",
        f"Each arm retrains the LAN ({payload['lan_steps']} steps) and the U-Net "
        f"({payload['unet_steps']} steps) on the frozen BNN of `{payload['model']}`, on the "
        f"set's noisy photos, `laptop` preset otherwise; scored on the first "
        f"{payload['images']} pairs (noisy {payload['noisy']:.2f} dB), PSNR in dB with the "
        "output corrections of `sassid denoise`. Δ: against the first row.",
        "",
        "| arm | LAN | fusion | U-Net | Δ U-Net | train (s) |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in rows.items():
        lines.append(
            f"| {label} | {r['lan']:.2f} | {r['fusion']:.2f} | {r['unet']:.2f} | "
            f"{r['unet'] - first['unet']:+.2f} | {r['train_seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
