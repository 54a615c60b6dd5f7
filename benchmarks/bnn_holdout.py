"""Why a long-trained BNN loses PSNR on a small set: memorisation or copied noise?

    python benchmarks/bnn_holdout.py --set sidd_samples --steps 2400 --every 200

On sidd_samples (13 photos) the `laptop` BNN ends 0.90 dB lower after 4800 steps than after
1200 (results/bnn_length.md). Two causes fit that: the network memorises the noisy pixels of
the few photos it trains on (it would then copy their noise on exactly those photos), or it
learns to use noise correlation just outside its blind window (it would copy noise on any
photo). A held-out part of every photo tells them apart. The bottom strip of each photo
(``--holdout`` of its height, at least one crop) is never cropped for training; during
training, on fixed 64 px crops:

- the self-supervised loss on the held-out strips (L1 against the noisy pixels, the BNN's own
  loss: what a user without clean photos can watch);
- PSNR against clean on the held-out strips, and on as many crops of the trained part.

Memorisation lowers the trained part's PSNR but not the held-out part's; copied noise lowers
both, while the held-out loss keeps falling (copying noise lowers an L1 to noisy targets).
The BNN is the `laptop` preset's (bf16, channels_last, blind size measured from the noisy
training parts), Adam at its learning rate with a cosine decay over ``--steps``; the crops
are scored as 64 px tiles without overlap, the size the BNN trains on.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import provenance, scored_photos, set_absent, stamp, write_results  # noqa: E402
from sassid.config import preset  # noqa: E402
from sassid.data import PatchSampler  # noqa: E402
from sassid.losses import bnn_loss  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.nets.registry import build_net  # noqa: E402
from sassid.noise import auto_blind_size, measure_noise  # noqa: E402
from sassid.stages import autocast, prepare_batch, prepare_net, stage_specs, train_step  # noqa: E402

CROP = 64


def split_rows(height: int, fraction: float, crop: int = CROP) -> int:
    """First held-out row: the bottom ``fraction`` of the photo, at least one crop tall, and at
    least one crop left to train on (0 rows held out when the photo is too small)."""
    held = max(crop, round(fraction * height))
    return height - held if height - held >= crop else height


def grid_crops(image: np.ndarray, crop: int = CROP) -> list[tuple[int, int]]:
    """(top, left) of the non-overlapping crops that fit in ``image``."""
    h, w = image.shape[:2]
    return [(t, s) for t in range(0, h - crop + 1, crop) for s in range(0, w - crop + 1, crop)]


def to_chw(patches: list[np.ndarray]) -> torch.Tensor:
    """HWC uint8 crops -> (B, 3, h, w) float32 in [0, 255]."""
    return torch.from_numpy(np.stack(patches)).permute(0, 3, 1, 2).float().contiguous()


@dataclasses.dataclass
class Probe:
    """Fixed crops of one part (held-out or trained) of the scored photos."""

    noisy: torch.Tensor
    clean: torch.Tensor
    photo: np.ndarray  # photo index of each crop


def make_probes(
    photos: list[tuple[str, np.ndarray, np.ndarray]], fraction: float, seed: int = 0
) -> tuple[Probe, Probe]:
    """Held-out crops (the strip's grid) and as many random crops of each photo's trained part."""
    rng = np.random.default_rng(seed)
    crops: dict[str, list[tuple[np.ndarray, np.ndarray, int]]] = {"held": [], "trained": []}
    for index, (_, noisy, clean) in enumerate(photos):
        first = split_rows(noisy.shape[0], fraction)
        spots = grid_crops(noisy[first:])
        for top, left in spots:
            window = (slice(first + top, first + top + CROP), slice(left, left + CROP))
            crops["held"].append((noisy[window], clean[window], index))
        for _ in spots:
            top = int(rng.integers(0, first - CROP + 1))
            left = int(rng.integers(0, noisy.shape[1] - CROP + 1))
            window = (slice(top, top + CROP), slice(left, left + CROP))
            crops["trained"].append((noisy[window], clean[window], index))
    held, trained = (
        Probe(
            to_chw([n for n, _, _ in part]),
            to_chw([c for _, c, _ in part]),
            np.asarray([i for _, _, i in part]),
        )
        for part in crops.values()
    )
    return held, trained


def _psnr_per_photo(out: torch.Tensor, clean: torch.Tensor, photo: np.ndarray) -> float:
    """Mean over photos of each photo's PSNR pooled over its crops (output rounded to uint8)."""
    rounded, reference = out.round().clamp(0, 255).numpy(), clean.numpy()
    return float(
        np.mean([psnr(rounded[photo == p], reference[photo == p], 255) for p in set(photo)])
    )


def score(net: torch.nn.Module, config: Any, held: Probe, trained: Probe) -> dict[str, float]:
    """Held-out self-supervised loss and PSNR on both parts, the net in eval mode."""
    net.eval()
    result = {}
    with torch.no_grad():
        for name, probe in (("held", held), ("trained", trained)):
            outs = []
            for start in range(0, len(probe.noisy), 64):
                batch = prepare_batch(probe.noisy[start : start + 64], config)
                with autocast(config, "cpu"):
                    outs.append(net(batch).float())
            out = torch.cat(outs)
            result[f"{name}_loss"] = float(bnn_loss(out, probe.noisy))
            result[f"{name}_psnr"] = _psnr_per_photo(out, probe.clean, probe.photo)
    net.train()
    return result


def run_set(name: str, args: argparse.Namespace) -> dict[str, Any]:
    photos = scored_photos(name, args.images)
    config = preset("laptop")
    trained_parts = [n[: split_rows(n.shape[0], args.holdout)] for _, n, _ in photos]
    stats = measure_noise(trained_parts)
    blind = args.blind_size or auto_blind_size(stats.rho)
    config = dataclasses.replace(config, seed=args.seed)
    bnn_config = dataclasses.replace(config.bnn, blind_size=blind)
    torch.manual_seed(args.seed)
    net = prepare_net(build_net("bnn", bnn_config.net_kwargs()), config)
    held, trained = make_probes(photos, args.holdout)
    generator = torch.Generator().manual_seed(args.seed)
    sampler = PatchSampler(trained_parts, config.patch_size, generator)
    optimizer = torch.optim.Adam(net.parameters(), lr=bnn_config.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.steps)
    spec = stage_specs(config)[0]
    curve, losses, start = [], [], time.perf_counter()
    for step in range(1, args.steps + 1):
        noisy = prepare_batch(sampler.batch(config.batch_size), config)
        losses.append(float(train_step(spec, net, noisy, {}, config, optimizer, scheduler)))
        if step % args.every == 0 or step == args.steps:
            row = {"step": step, "train_loss": float(np.mean(losses[-args.every :]))}
            row.update(score(net, config, held, trained))
            curve.append(row)
            print(name, row, flush=True)
    return {
        "photos": len(photos),
        "blind_size": blind,
        "rho": list(stats.rho),
        "held_crops": len(held.noisy),
        "noisy_held_psnr": _psnr_per_photo(held.noisy, held.clean, held.photo),
        "noisy_trained_psnr": _psnr_per_photo(trained.noisy, trained.clean, trained.photo),
        "curve": curve,
        "seconds": time.perf_counter() - start,
    }


def _markdown(payload: dict[str, Any]) -> str:
    args = payload["args"]
    lines = [
        "# The BNN on held-out strips: memorisation or copied noise?",
        "",
        stamp(payload["meta"]),
        "",
        f"The `laptop` BNN, {args['steps']} steps (cosine decay over all of them), seed "
        f"{args['seed']}, trained on every photo but its bottom {args['holdout']:.0%} (at least "
        f"{CROP} rows), which is held out. Scored every {args['every']} steps on fixed {CROP} px "
        "crops (no overlap): L1 against the noisy pixels (the BNN's loss) and PSNR against "
        "clean (dB, uint8, pooled per photo, mean over photos), on the held-out strips and on "
        "as many crops of the trained part of the same photos.",
    ]
    for name, r in payload["sets"].items():
        best = max(r["curve"], key=lambda row: row["held_psnr"])
        lowest = min(r["curve"], key=lambda row: row["held_loss"])
        last = r["curve"][-1]
        lines += [
            "",
            f"## {name}",
            "",
            f"{r['photos']} photos, blind size {r['blind_size']} (measured on the trained "
            f"parts), {r['held_crops']} held-out crops; noisy PSNR {r['noisy_held_psnr']:.2f} "
            f"(held out) / {r['noisy_trained_psnr']:.2f} (trained part); "
            f"{r['seconds'] / 60:.1f} min.",
            "",
            "| step | train loss | held-out loss | held-out PSNR | trained-part PSNR | "
            "trained - held-out (dB) |",
            "|---|---|---|---|---|---|",
        ]
        for row in r["curve"]:
            lines.append(
                f"| {row['step']} | {row['train_loss']:.3f} | {row['held_loss']:.3f} | "
                f"{row['held_psnr']:.2f} | {row['trained_psnr']:.2f} | "
                f"{row['trained_psnr'] - row['held_psnr']:+.2f} |"
            )
        lines += [
            "",
            f"Best held-out PSNR {best['held_psnr']:.2f} at step {best['step']}; lowest "
            f"held-out loss at step {lowest['step']} ({lowest['held_psnr']:.2f} dB there); last "
            f"step {last['held_psnr']:.2f} dB.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="sets", nargs="+", default=["sidd_samples"])
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--every", type=int, default=200, help="score every N steps")
    parser.add_argument("--holdout", type=float, default=0.125, help="held-out height fraction")
    parser.add_argument("--images", type=int, default=13, help="photos (all trained, scored)")
    parser.add_argument("--blind-size", type=int, default=0, help="0: measured (auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default="bnn_holdout")
    args = parser.parse_args()
    sets = {name: run_set(name, args) for name in args.sets if not set_absent(name)}
    if not sets:
        return
    payload = {"meta": provenance(), "args": vars(args), "sets": sets}
    markdown = _markdown(payload)
    write_results(args.name, payload, markdown)
    print(markdown)


if __name__ == "__main__":
    main()
