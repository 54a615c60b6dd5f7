"""The BNN's training crop size at a fixed cost per step, measured on both real sets.

    python benchmarks/bnn_crop.py --steps 1200 --arms 64x8 96x4 128x2
    python benchmarks/bnn_crop.py --steps 4800 --arms 64x8 --val-every 400   # PSNR vs steps

A blind-neighbourhood network has a wide receptive field; on 64 px crops most of what it sees
is the zero padding around the crop, and at inference it is used on tiles of its training size
(larger ones degrade it, README "The demo"), so many of its outputs are near a tile border. Each
arm trains the ``laptop`` preset's BNN for the same number of steps with about the same pixels
per step (crop x crop x batch), so every arm costs about the same time; only the crop's shape
changes. Scored on the first ``--eval-images`` pairs, BNN output on tiles of its training crop
(overlap a quarter tile) and on tiles twice that size. Only stage 1 is measured: LAN and U-Net
run one step each so that the run folder is a complete model. ``--val-every N`` also records the
BNN's PSNR on the scored pairs every N steps during training (``sassid train --val``: the
clean images are only scored, never trained on; the rows score the final weights, the
curve's last point); it writes results/bnn_steps.* instead of bnn_crop.*.
``--seed S`` (not 0) trains every arm from another seed (initial weights, crops) and writes
results/bnn_crop_seedS.*: the spread between seeds is the noise floor of the comparison.
``--blind-size N`` trains every arm with that blind size instead of the one measured from the
noisy images, ``--lr`` with that peak learning rate instead of the preset's, ``--distance l2``
with squared error instead of L1 (``[bnn] distance``; use ``--name`` for its own results file).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
import typing
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import DATA, provenance, scored_sets, stamp, write_results  # noqa: E402
from sassid.config import TrainConfig, preset, with_blind_size  # noqa: E402
from sassid.constants import Distance  # noqa: E402
from sassid.errors import ConfigError  # noqa: E402
from sassid.inference import Denoiser, default_overlap  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.models import load_networks  # noqa: E402
from sassid.train import train  # noqa: E402

SETS = ("sidd_samples", "polyu100")
LAPTOP_CHANNELS = (24, 48)
"""The BNN's channels in results written before the arms could change them."""


def run_overrides(payload: dict[str, Any]) -> list[str]:
    """What a run changed from the preset for every arm (``--blind-size N``, ``--lr``), in
    words; empty for the preset's own BNN."""
    changes = []
    if payload.get("blind_size", "auto") != "auto":
        changes.append(f"blind size {payload['blind_size']}")
    if payload.get("lr") is not None:
        changes.append(f"learning rate {payload['lr']:g}")
    if payload.get("distance", "l1") != "l1":
        changes.append(f"loss distance {payload['distance']}")
    return changes


def parse_arm(arm: str) -> tuple[int, int, tuple[int, int] | None]:
    """``"64x8"`` -> (64, 8, None); ``"64x8:48/96"`` -> (64, 8, (48, 96)): crop px, batch and
    the BNN's encoder/decoder channels (None: the preset's)."""
    shape, _, width = arm.partition(":")
    crop, batch = (int(v) for v in shape.split("x"))
    if not width:
        return crop, batch, None
    enc, dec = (int(v) for v in width.split("/"))
    return crop, batch, (enc, dec)


def arm_config(
    crop: int,
    batch: int,
    steps: int,
    val_every: int = 0,
    seed: int = 0,
    ema_window: float = 0.0,
    channels: tuple[int, int] | None = None,
    blind_size: str = "auto",
    lr: float | None = None,
    distance: str = "l1",
) -> TrainConfig:
    """The laptop preset with the BNN trained ``steps`` steps on ``batch`` crops of ``crop`` px
    (no teacher cache; LAN and U-Net one step each), ``channels`` wide, at ``blind_size`` (N or
    auto), peak learning rate ``lr`` if given and the loss's ``distance``."""
    base = with_blind_size(preset("laptop"), blind_size)
    enc, dec = channels or (base.bnn.enc_channels, base.bnn.dec_channels)
    return dataclasses.replace(
        base,
        seed=seed,
        patch_size=crop,
        batch_size=batch,
        cache_teachers=False,
        checkpoint_every=10 * steps,
        val_every=val_every or 10 * steps,
        bnn=dataclasses.replace(
            base.bnn,
            steps=steps,
            ema_window=ema_window,
            enc_channels=enc,
            dec_channels=dec,
            paper_width_from_steps=0,  # each arm's own widths, at any length
            lr=base.bnn.lr if lr is None else lr,
            distance=distance,
        ),
        lan=dataclasses.replace(base.lan, steps=1),
        unet=dataclasses.replace(base.unet, steps=1),
    )


def _bnn_psnr(nets: dict, pairs: list, tile: int, device: str = "cpu") -> float:
    overlap = default_overlap(tile, "bnn")
    denoiser = Denoiser(dict(nets), net="bnn", tile=tile, overlap=overlap, device=device)
    return float(np.mean([psnr(denoiser.pixels(n), c) for _, n, c in pairs]))


def _curve(run: Path) -> list[tuple[int, float]]:
    """(step, BNN PSNR on the scored pairs) from the run's validation records."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [
        (r["step"], r["val_psnr"]) for r in records if r.get("stage") == "bnn" and "val_psnr" in r
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200, help="BNN steps of every arm")
    parser.add_argument(
        "--arms",
        nargs="+",
        default=["64x8", "96x4", "128x2"],
        help="CROPxBATCH[:ENC/DEC] of each arm (ENC/DEC: the BNN's channels; default the "
        "preset's 24/48)",
    )
    parser.add_argument("--eval-images", type=int, default=12, help="score the first N pairs")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--work", default="/tmp/sassid_bnn_crop")
    parser.add_argument(
        "--val-every", type=int, default=0, help="record the BNN's PSNR every N steps"
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed of every arm")
    parser.add_argument(
        "--ema-window",
        type=float,
        default=0.0,
        help="end on the BNN's weights averaged over this fraction of its steps ([bnn] "
        "ema_window; 0: off)",
    )
    parser.add_argument(
        "--blind-size",
        default="auto",
        help="the BNN's blind size: N (odd), or auto (measured from the noisy images, as the "
        "preset does)",
    )
    parser.add_argument(
        "--lr", type=float, help="the BNN's peak learning rate (default: the preset's)"
    )
    parser.add_argument(
        "--distance",
        default="l1",
        choices=typing.get_args(Distance),
        help="the BNN loss's distance ([bnn] distance; default l1, the paper's)",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (same steps, same recipe)")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding the sets")
    parser.add_argument("--name", help="results file stem (default: bnn_steps/bnn_crop[_seedS])")
    args = parser.parse_args()
    try:  # a bad --blind-size or --lr fails here, before any arm trains
        arm_config(64, 8, args.steps, blind_size=args.blind_size, lr=args.lr)
    except ConfigError as error:
        parser.error(str(error))
    started = time.perf_counter()
    results: dict[str, Any] = {}
    for name, noisy_paths, eval_dir, pairs in scored_sets(
        args.sets, args.data, Path(args.work), args.eval_images
    ):
        rows: dict[str, Any] = {}
        for arm in args.arms:
            crop, batch, channels = parse_arm(arm)
            folder = arm.replace(":", "_").replace("/", "-")
            folder += f"_seed{args.seed}" if args.seed else ""
            run = Path(args.work) / name / folder
            shutil.rmtree(run, ignore_errors=True)
            t = time.perf_counter()
            config = arm_config(
                crop,
                batch,
                args.steps,
                args.val_every,
                args.seed,
                args.ema_window,
                channels,
                args.blind_size,
                args.lr,
                args.distance,
            )
            val = eval_dir if args.val_every else None
            train(noisy_paths, run, config, device=args.device, progress=False, val=val)
            seconds = time.perf_counter() - t
            nets = load_networks(run)
            blind = json.loads((run / "config.json").read_text())["bnn"]["blind_size"]
            rows[arm] = {
                "crop": crop,
                "batch": batch,
                "channels": [config.bnn.enc_channels, config.bnn.dec_channels],
                "blind_size": blind,
                "train_seconds": seconds,
                "bnn_tile_crop": _bnn_psnr(nets, pairs, crop, args.device),
                "bnn_tile_2crop": _bnn_psnr(nets, pairs, 2 * crop, args.device),
                "curve": _curve(run) if args.val_every else [],
            }
            print(name, arm, rows[arm], flush=True)
        noisy = float(np.mean([psnr(n, c) for _, n, c in pairs]))
        results[name] = {"noisy": noisy, "images": len(pairs), "rows": rows}
    payload = {
        "meta": provenance(),
        "steps": args.steps,
        "seed": args.seed,
        "ema_window": args.ema_window,
        "blind_size": args.blind_size,
        "lr": args.lr,
        "distance": args.distance,
        "device": args.device,
        "sets": results,
        "total_seconds": time.perf_counter() - started,
    }
    stem = "bnn_steps" if args.val_every else "bnn_crop"
    stem += f"_seed{args.seed}" if args.seed else ""
    write_results(args.name or stem, payload, _markdown(payload))
    print(_markdown(payload))


def _blind_words(blind_size: str) -> str:
    return "measured" if blind_size == "auto" else f"{blind_size}, fixed"


def _title(payload: dict[str, Any]) -> str:
    """What the run measured: a curve, the preset changed for every arm, widths, or crops."""
    rows = [row for result in payload["sets"].values() for row in result["rows"].values()]
    if any(row.get("curve") for row in rows):
        return "# The BNN's PSNR along its training"
    if run_overrides(payload):
        return f"# The BNN at {' and '.join(run_overrides(payload))}, {payload['steps']} steps"
    if any(tuple(row.get("channels", LAPTOP_CHANNELS)) != LAPTOP_CHANNELS for row in rows):
        return "# The BNN's width and training crop at a fixed number of steps"
    return "# The BNN's training crop at a fixed cost per step"


def _markdown(payload: dict[str, Any]) -> str:
    meta = payload["meta"]
    lines = [
        _title(payload),
        "",
        stamp(meta),
        "",
        f"Every arm: the `laptop` preset's BNN (bf16, channels_last, blind size "
        f"{_blind_words(payload.get('blind_size', 'auto'))}) on "
        f"{meta.get('cuda') or payload.get('device', 'cpu')}, "
        f"{payload['steps']} steps (seed {payload.get('seed', 0)}"
        + (
            f", weights averaged over {payload['ema_window']:g} of them"
            if payload.get("ema_window")
            else ""
        )
        + (f", peak learning rate {payload['lr']:g}" if payload.get("lr") is not None else "")
        + (
            f", loss distance {payload['distance']}"
            if payload.get("distance", "l1") != "l1"
            else ""
        )
        + ") on batch x crop² pixels per "
        "step, noisy images only; PSNR "
        "(dB, uint8, mean per image) of the BNN output on tiles of the training crop and of "
        "twice it (overlap a quarter tile). Training time includes one LAN and one U-Net step.",
    ]
    for name, result in payload["sets"].items():
        lines += [
            "",
            f"## {name}",
            "",
            f"First {result['images']} pairs, noisy {result['noisy']:.2f} dB.",
            "",
            "| crop x batch | BNN channels | pixels/step | blind size | train (s) | "
            "BNN, tile = crop | BNN, tile = 2 x crop |",
            "|---|---|---|---|---|---|---|",
        ]
        for arm, row in result["rows"].items():
            enc, dec = row.get("channels", LAPTOP_CHANNELS)
            lines.append(
                f"| {arm.partition(':')[0]} | {enc}/{dec} | {row['crop'] ** 2 * row['batch']} | "
                f"{row['blind_size']} | "
                f"{row['train_seconds']:.0f} | {row['bnn_tile_crop']:.2f} | "
                f"{row['bnn_tile_2crop']:.2f} |"
            )
        for arm, row in result["rows"].items():
            if row.get("curve"):
                lines += [
                    "",
                    f"{arm}: BNN PSNR (tile = crop) during training, step: dB: "
                    + ", ".join(f"{step}: {db:.2f}" for step, db in row["curve"])
                    + " (the rows above score the last of these weights).",
                ]
    lines += ["", f"Total time {payload['total_seconds'] / 60:.1f} min.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
