"""The U-Net's training crop: the run's 64 px x 8 against larger crops at the same pixels per step.

    python benchmarks/unet_crop.py -m RUN --set sidd_samples [--steps 3000 --crops 64x8 128x2]
    python benchmarks/unet_crop.py -m RUN --set polyu100 --crops 64x8:blend 64x8:both \
        --name unet_supervision_polyu100

An arm ``SIZExBATCH:SUPERVISION`` also sets stage 3's supervision (``[unet] supervision``:
``adaptive``, ``blend``, ``both``, ``posterior``, ...; default: the run's), so the same frozen
teachers compare the U-Net's losses too; ``SIZExBATCH@ENC/DEC`` sets the U-Net's widths
(``[unet] enc_channels``/``dec_channels``; default: the run's), whose speed at inference each
row also measures (torch/bf16 at 512², the CPU default); a last ``+l2`` (or ``+l1``) sets its
loss's distance (``[unet] distance``; default: the run's).

The `laptop` preset trains every stage on 64 px crops because its BNN, used on tiles of its
own crop, degrades on larger inputs (results/bnn_crop.md). The U-Net is used on 512 px tiles
and has four 2x poolings: a 64 px crop leaves its deepest level 4 x 4 pixels, mostly border.
With the teachers cached over whole images (or run per crop on tiles of their own crop), the
U-Net's crop is free to differ (`[unet] patch_size` and `batch_size`). Each arm retrains stage
3 alone for the same steps on the run's own frozen BNN and LAN, `laptop` preset otherwise;
scored on the first ``--images`` pairs: PSNR (dB, uint8, mean per image) with the output
corrections `sassid denoise` applies; the fusion of the frozen teachers once, for reference.
Writes results/unet_crop_<set>.json and .md (``--name STEM``: results/STEM.*).
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
import typing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import (  # noqa: E402
    DATA,
    frozen_run_header,
    median_mps,
    net_psnr,
    scored_photos,
    set_absent,
    stamp,
    write_results,
)
from sassid.config import TrainConfig, UNetStageConfig, load_config  # noqa: E402
from sassid.constants import Distance  # noqa: E402
from sassid.io import find_pairs  # noqa: E402
from sassid.models import model_file  # noqa: E402
from sassid.train import train  # noqa: E402

Arm = tuple[int, int, str | None, tuple[int, int] | None, str | None]
"""An arm: crop side (px), batch, stage 3's supervision, the U-Net's (encoder, decoder) widths,
its loss's distance (None: the run's)."""


def parse_crop(text: str) -> Arm:
    """``"128x2"`` -> (128, 2, None, None, None): crop side in px, batch; ``"64x8:both"`` also
    names the U-Net's supervision, ``"64x8@32/64"`` its encoder/decoder widths, ``"64x8+l2"``
    its loss's distance."""
    arm = text
    text, _, distance = text.partition("+")
    distances = typing.get_args(Distance)
    if distance and distance not in distances:
        raise SystemExit(f"arm {arm}: distance must be one of {', '.join(distances)}")
    text, _, width = text.partition("@")
    crop, _, supervision = text.partition(":")
    size, _, batch = crop.partition("x")
    losses = typing.get_args(typing.get_type_hints(UNetStageConfig)["supervision"])
    if supervision and supervision not in losses:
        raise SystemExit(f"arm {text}: supervision must be one of {', '.join(losses)}")
    widths = None
    if width:
        enc, _, dec = width.partition("/")
        widths = (int(enc), int(dec))
    return int(size), int(batch), supervision or None, widths, distance or None


def arm_config(
    base: TrainConfig,
    model: Path,
    patch: int,
    batch: int,
    steps: int,
    supervision: str | None = None,
    widths: tuple[int, int] | None = None,
    distance: str | None = None,
) -> TrainConfig:
    """The run's config with BNN and LAN frozen and the U-Net retrained on its own crop (and
    with ``supervision``, encoder/decoder ``widths`` and loss ``distance``, where given)."""
    enc, dec = widths or (base.unet.enc_channels, base.unet.dec_channels)
    frozen = dict(init=str(model), skip=True)
    return dataclasses.replace(
        base,
        cache_teachers=True,
        checkpoint_every=10 * steps,
        bnn=dataclasses.replace(base.bnn, **frozen, auto_blind_size=False),
        lan=dataclasses.replace(base.lan, **frozen),
        unet=dataclasses.replace(
            base.unet,
            steps=steps,
            plateau_gain=0.0,
            patch_size=patch,
            batch_size=batch,
            supervision=supervision or base.unet.supervision,
            enc_channels=enc,
            dec_channels=dec,
            distance=distance or base.unet.distance,
        ),
    )


def train_arm(
    base: TrainConfig,
    run_dir: Path,
    arm: Arm,
    steps: int,
    work: Path,
    noisy: list[Path],
    **changes: Any,
) -> tuple[TrainConfig, float]:
    """Retrain stage 3 alone into a fresh ``work`` for one ``parse_crop`` arm on ``run_dir``'s
    frozen teachers (``changes``: further config keys); its config and training seconds."""
    patch, batch, supervision, widths, distance = arm
    shutil.rmtree(work, ignore_errors=True)
    config = arm_config(
        base, model_file(run_dir), patch, batch, steps, supervision, widths, distance
    )
    config = dataclasses.replace(config, **changes)
    start = time.perf_counter()
    train(noisy, work, config, progress=False)
    return config, time.perf_counter() - start


def _unet_speed(run: Path, size: int = 512, repeats: int = 3) -> float:
    """Megapixels/s of the run's U-Net on one ``size``² image, torch/bf16 (the CPU default),
    median of ``repeats`` calls after a warm-up."""
    import torch

    from sassid.backends import bf16_native, make_forward
    from sassid.models import load_networks

    forward = make_forward(load_networks(run)["unet"], "torch", "bf16" if bf16_native() else "fp32")
    return median_mps({"unet": forward}, torch.rand(1, 3, size, size) * 255, repeats)["unet"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run (BNN, LAN reused)")
    parser.add_argument("--set", required=True)
    parser.add_argument("--images", type=int, default=13, help="score the first N pairs")
    parser.add_argument("--steps", type=int, default=3000, help="U-Net steps per arm")
    parser.add_argument(
        "--train-images",
        type=int,
        help="train the U-Nets on the first N noisy photos (default: all; every arm rebuilds "
        "the teacher cache over them, 5 minutes on polyu100's 100)",
    )
    parser.add_argument(
        "--crops",
        nargs="+",
        default=["64x8", "96x4", "128x2"],
        help="SIZExBATCH[:SUPERVISION][@ENC/DEC][+l1|+l2] per arm",
    )
    parser.add_argument(
        "--iso-like",
        type=float,
        help="with --set demo: the demo's photos at this noise level (default the demo's)",
    )
    parser.add_argument(
        "--train-folder",
        help="train on the noisy photos in this folder (default: the set's; needed for demo, "
        "e.g. the noisy/ folder `sassid demo` wrote beside RUN)",
    )
    parser.add_argument("--name", help="results file stem (default unet_crop_<set>)")
    parser.add_argument("--work", default="/tmp/sassid_unet_crop")
    args = parser.parse_args()
    if set_absent(args.set):
        return
    run_dir = Path(args.model)
    base = load_config(run_dir / "config.json")
    if args.train_folder:
        noisy = sorted(p for p in Path(args.train_folder).iterdir() if p.is_file())
    elif args.set == "demo":
        raise SystemExit("--set demo needs --train-folder (the demo's noisy photos)")
    else:
        noisy = [n for _, n, _ in find_pairs(DATA / args.set)]
    noisy = noisy[: args.train_images]
    photos = scored_photos(args.set, args.images, args.iso_like)
    rows: dict[str, Any] = {}
    arms = {text: parse_crop(text) for text in args.crops}  # every arm checked before training
    for text, arm in arms.items():
        work = (
            Path(args.work) / args.set / text.replace(":", "_").replace("/", "_").replace("+", "_")
        )
        config, seconds = train_arm(base, run_dir, arm, args.steps, work, noisy)
        rows[text] = {"patch": arm[0], "batch": arm[1], "train_seconds": seconds}
        rows[text]["supervision"] = config.unet.supervision
        rows[text]["widths"] = [config.unet.enc_channels, config.unet.dec_channels]
        rows[text]["distance"] = config.unet.distance
        rows[text]["unet"] = net_psnr(work, "unet", photos)
        rows[text]["unet_raw"] = net_psnr(work, "unet", photos, noise_gate=0.0, guard=False)
        rows[text]["mps_512_bf16"] = _unet_speed(work)
        print(text, rows[text], flush=True)
    payload = {
        **frozen_run_header(run_dir, args.set, photos),
        "fusion": net_psnr(run_dir, "fusion", photos),
        "run_crop": [base.patch_size, base.batch_size],
        "train_images": len(noisy),
        "iso_like": args.iso_like,
        "train_folder": args.train_folder,
        "steps": args.steps,
        "rows": rows,
    }
    text = _markdown(payload)
    write_results(args.name or f"unet_crop_{args.set}", payload, text)
    print(text)


def _markdown(payload: dict[str, Any]) -> str:
    rows = payload["rows"]
    first = next(iter(rows.values()))
    patch, batch = payload["run_crop"]
    iso = payload.get("iso_like")
    where = f"{payload['set']} at iso_like {iso:g}" if iso else payload["set"]
    trained_on = (
        f"the {payload['train_images']} noisy photos in `{payload['train_folder']}`"
        if payload.get("train_folder")
        else f"the set's first {payload['train_images']} noisy photos"
    )
    lines = [
        f"# The U-Net's training crop, loss and width: {where}",
        "",
        stamp(payload["meta"]),
        "",
        f"Each arm retrains the U-Net alone ({payload['steps']} steps) on the frozen BNN and LAN "
        f"of `{payload['model']}` (trained on {patch} px x {batch} crops; their targets cached "
        f"over whole images on tiles of that crop), on {trained_on}, `laptop` preset "
        "otherwise; scored on the "
        f"first {payload['images']} pairs (noisy {payload['noisy']:.2f} dB, the frozen "
        f"teachers' fusion {payload['fusion']:.2f} dB), PSNR in dB with the output corrections "
        "of `sassid denoise`. Δ: against the first row.",
        "",
        "| U-Net crop x batch | supervision | distance | widths enc/dec | pixels per step | U-Net "
        "| Δ U-Net | U-Net alone (no gate) | train (s) | U-Net 512² MP/s (bf16) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows.values():
        supervision = r.get("supervision", "run's")  # files before 2026-11-30 kept the run's
        widths = "/".join(map(str, r["widths"])) if "widths" in r else "run's"
        raw = f"{r['unet_raw']:.2f}" if "unet_raw" in r else "-"  # since 2026-12-01
        speed = f"{r['mps_512_bf16']:.3f}" if "mps_512_bf16" in r else "-"
        distance = r.get("distance", "l1")  # every run before 2026-12-07 trained on L1
        lines.append(
            f"| {r['patch']} px x {r['batch']} | {supervision} | {distance} | {widths} | "
            f"{r['patch'] ** 2 * r['batch']} | {r['unet']:.2f} | {r['unet'] - first['unet']:+.2f} "
            f"| {raw} | {r['train_seconds']:.0f} | {speed} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
