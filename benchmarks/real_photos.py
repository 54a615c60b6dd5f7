"""Quality and speed of every component on real camera noise, against the baselines.

    python benchmarks/real_photos.py --set sidd_samples [--steps BNN LAN UNET] [--eval-images N]
    python benchmarks/real_photos.py --set polyu100 --preset laptop --minutes 15

Protocol: fully self-supervised on the set's own noisy images (the paper's "trained on the
benchmark images themselves" setting); the clean images are read only to score (and for the
validation curves, which never feed back into training). All rows come from one run of this
script on one machine, evaluated on the same images. PSNR as the reference reports it (uint8,
per image, mean), SSIM in scikit-image's Gaussian convention (sassid.metrics), inference
seconds per megapixel.

Rows: noisy; bm3d_oracle (noise std from the clean image: an oracle); bm3d_blind (std estimated
from the noisy image by scikit-image's wavelet estimator); bsn1 (a blind-spot network, blind
size 1, same budget as the BNN); bnn; lan; fusion ((1 - alpha) BNN + alpha LAN); the U-Net trained
on the BNN only, the LAN only, both without alpha, and the full method (``unet``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import DATA, RESULTS, eval_pairs_folder, provenance, stamp, write_results  # noqa: E402
from sassid.config import (  # noqa: E402
    MAX_EVERY,
    BNNStageConfig,
    UNetStageConfig,
    preset,
    with_blind_size,
)
from sassid.evaluate import iter_pairs  # noqa: E402
from sassid.inference import Denoiser, default_overlap, default_tile  # noqa: E402
from sassid.io import read_image  # noqa: E402
from sassid.metrics import psnr, ssim  # noqa: E402
from sassid.models import load_networks  # noqa: E402
from sassid.reliability import check_picks  # noqa: E402
from sassid.train import judge_reliability, train  # noqa: E402

ROW_ORDER = [
    "noisy",
    "bm3d_oracle",
    "bm3d_blind",
    "bsn1",
    "bnn",
    "lan",
    "fusion",
    "unet_bnn_only",
    "unet_lan_only",
    "unet_no_alpha",
    "unet",
]


ABLATIONS = {"unet_bnn_only": "bnn", "unet_lan_only": "lan", "unet_no_alpha": "both"}
"""The paper's Table 2 rows: the U-Net stage's ``supervision`` (BNN targets only, LAN targets
only, both without alpha), each on the full run's BNN and LAN."""
VARIANTS = {**ABLATIONS, "unet_blend": "blend", "unet_eq5": "adaptive"}
"""Stage-3 variants ``--ablations`` can run: Table 2, L1 to the alpha-blended target (a lever
of this project, not the paper's; ``sassid.losses.blended_target_loss``; what ``laptop``
trains since it was measured here), and the paper's Eq. 5 (``adaptive``, what ``paper``
trains). The ``unet`` row is stage 3 as the run's own config trained it (the table says which)."""


def bm3d_denoise(noisy: np.ndarray, sigma255: float) -> np.ndarray:
    import bm3d

    out = bm3d.bm3d_rgb(noisy.astype(np.float64) / 255.0, sigma255 / 255.0)
    return np.clip(np.floor(out * 255.0 + 0.5), 0, 255).astype(np.uint8)


def oracle_sigma(noisy: np.ndarray, clean: np.ndarray) -> float:
    """The noise std measured against the clean image (levels): what no user has."""
    return float(np.std(noisy.astype(float) - clean))


def blind_sigma(noisy: np.ndarray) -> float:
    from skimage.restoration import estimate_sigma

    return float(estimate_sigma(noisy.astype(np.float64), channel_axis=-1, average_sigmas=True))


def _score(name: str, fn, pairs, rows: list[dict]) -> None:  # noqa: ANN001
    psnrs: list[float] = []
    ssims, seconds, mp = [], 0.0, 0.0
    for _ident, noisy, clean in pairs:
        t = time.perf_counter()
        out = fn(noisy, clean)
        seconds += time.perf_counter() - t
        mp += noisy.shape[0] * noisy.shape[1] / 1e6
        psnrs.append(psnr(out, clean))
        ssims.append(ssim(out, clean, "skimage"))
    rows.append(
        {
            "name": name,
            "psnr": float(np.mean(psnrs)),
            "per_image": [float(p) for p in psnrs],
            "ssim": float(np.mean(ssims)),
            "seconds_per_megapixel": seconds / mp if name != "noisy" else 0.0,
        }
    )
    print(
        f"{name:>14}: {rows[-1]['psnr']:.2f} dB  {rows[-1]['ssim']:.4f}  "
        f"{rows[-1]['seconds_per_megapixel']:.3f} s/MP",
        flush=True,
    )


def _val_curves(run_dirs: dict[str, Path]) -> dict[str, list[tuple[int, float]]]:
    curves: dict[str, list[tuple[int, float]]] = {}
    for label, run in run_dirs.items():
        for line in (run / "metrics.jsonl").read_text().splitlines():
            r = json.loads(line)
            if "val_psnr" in r:
                curves.setdefault(f"{label}:{r['stage']}", []).append((r["step"], r["val_psnr"]))
    return curves


def _plot(curves: dict[str, list[tuple[int, float]]], noisy_psnr: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, points in curves.items():
        steps, values = zip(*points, strict=True)
        ax.plot(steps, values, marker="o", label=label)
    ax.axhline(noisy_psnr, color="grey", linestyle="--", label="noisy input")
    ax.set_xlabel("training step (within the stage)")
    ax.set_ylabel("validation PSNR (dB)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _budget_steps(run_dir: Path) -> dict[str, int]:
    plan = json.loads((run_dir / "budget.json").read_text())
    return {name: int(v["steps"]) for name, v in plan["stages"].items()}


def _supervision(run_dir: Path) -> str:
    """How the run's stage 3 was supervised (its config.json; ``adaptive``: the paper's Eq. 5)."""
    config = json.loads((run_dir / "config.json").read_text())
    return str(config.get("unet", {}).get("supervision", "adaptive"))


def _recheck(full: dict, noisy_paths: list[Path], config) -> dict:  # noqa: ANN001
    """The end-of-training check (``train`` writes it to reliability.json) redone with this
    commit's rules on the run's U-Net, so that a reused run is judged as a new one would be."""
    picks = check_picks(len(noisy_paths))
    images = [read_image(noisy_paths[i]).pixels for i in picks]
    names = [noisy_paths[i].name for i in picks]
    return judge_reliability(full["unet"], images, names, config) or {}


def _widths(given: list[int] | None, stage: BNNStageConfig | UNetStageConfig) -> dict[str, int]:
    """``--bnn-channels``/``--unet-channels`` as config fields, else the preset's."""
    enc, dec = given or (stage.enc_channels, stage.dec_channels)
    return {"enc_channels": enc, "dec_channels": dec}


def main() -> None:
    parser = argparse.ArgumentParser(description="Real-photo benchmark (see module docstring).")
    parser.add_argument("--set", required=True, choices=["polyu100", "sidd_samples"])
    parser.add_argument("--preset", default="quick", choices=["quick", "laptop"])
    parser.add_argument(
        "--minutes",
        type=float,
        help="train the full method under this wall-clock budget (sassid train --minutes); "
        "the ablations then rerun only stage 3 for the same number of U-Net steps",
    )
    parser.add_argument(
        "--steps",
        type=int,
        nargs=3,
        default=[600, 300, 400],
        metavar=("BNN", "LAN", "UNET"),
        help="steps per stage without --minutes (default 600 300 400)",
    )
    parser.add_argument(
        "--blind-size",
        help="BNN blind size: N, or auto (measured from the noisy images; default: the preset's)",
    )
    parser.add_argument("--eval-images", type=int, default=12, help="score the first N pairs")
    parser.add_argument(
        "--eval-tile",
        type=int,
        default=None,
        help="inference tile for every network (default: sassid.inference.default_tile, "
        "the training crop for the teachers and 512 for the U-Net)",
    )
    parser.add_argument("--skip-bm3d", action="store_true", help="no BM3D rows (35 s per image)")
    parser.add_argument("--skip-bsn1", action="store_true", help="no blind-size-1 BNN row")
    parser.add_argument(
        "--skip-ablations",
        action="store_true",
        help="no Table 2 rows (each reruns stage 3: about a third of the budget)",
    )
    parser.add_argument(
        "--ablations",
        nargs="+",
        choices=VARIANTS,
        default=list(ABLATIONS),
        help="which stage-3 rows to run (default: the three of Table 2; unet_blend: L1 to the "
        "alpha-blended target)",
    )
    parser.add_argument(
        "--bnn-max-steps",
        type=int,
        help="with --minutes: cap the BNN's planned steps ([bnn] max_steps; its unused time goes "
        "to the LAN and U-Net)",
    )
    for net, which in (("bnn", "the BNN's"), ("unet", "the U-Net's (the ablation rows' too)")):
        parser.add_argument(
            f"--{net}-channels",
            type=int,
            nargs=2,
            metavar=("ENC", "DEC"),
            help=f"{which} encoder/decoder widths (default: the preset's; the paper's 48 96)",
        )
    parser.add_argument(
        "--name",
        help="results file stem (default real_photos_<set>): a variant's table beside the main one",
    )
    parser.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    parser.add_argument("--work", default="/tmp/sassid_real_photos", help="scratch run folder")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    started = time.perf_counter()
    folder = DATA / args.set
    if not folder.exists():
        print(f"skipped: {folder} is absent")
        return
    noisy_paths, eval_dir = eval_pairs_folder(folder, Path(args.work) / args.set, args.eval_images)
    pairs = list(iter_pairs(eval_dir))

    base = preset(args.preset)
    if args.blind_size:  # auto: measured by train() from the noisy images
        base = with_blind_size(base, args.blind_size)
    b, la, u = args.steps
    base = dataclasses.replace(
        base,
        seed=args.seed,
        val_every=max(min(b, la, u) // 4, 1) if args.minutes is None else base.val_every,
        checkpoint_every=MAX_EVERY if args.minutes is None else base.checkpoint_every,
        bnn=dataclasses.replace(
            base.bnn,
            steps=b,
            max_steps=args.bnn_max_steps if args.bnn_max_steps else base.bnn.max_steps,
            **_widths(args.bnn_channels, base.bnn),
            # given widths are kept whatever the plan
            paper_width_from_steps=0 if args.bnn_channels else base.bnn.paper_width_from_steps,
        ),
        lan=dataclasses.replace(base.lan, steps=la),
        unet=dataclasses.replace(base.unet, steps=u, **_widths(args.unet_channels, base.unet)),
    )
    work = Path(args.work) / args.set
    runs: dict[str, Path] = {}
    stage_seconds: dict[str, float] = {}

    def run(label: str, config, minutes: float | None = None) -> dict[str, torch.nn.Module]:  # noqa: ANN001
        run_dir = work / label
        if not (run_dir / "model.pt").exists():
            import shutil

            shutil.rmtree(run_dir, ignore_errors=True)
            t = time.perf_counter()
            train(
                noisy_paths,
                run_dir,
                config,
                device=args.device,
                val=None if args.minutes else eval_dir,  # validation would eat the budget
                progress=False,
                minutes=minutes,
            )
            stage_seconds[label] = time.perf_counter() - t
        runs[label] = run_dir
        return load_networks(run_dir)

    full = run("full", base, args.minutes)
    used = json.loads((work / "full" / "config.json").read_text())["bnn"]
    base = dataclasses.replace(  # the ablations reuse this BNN: its measured size and planned
        base,  # widths, not remeasured or replanned
        bnn=dataclasses.replace(
            base.bnn,
            blind_size=used["blind_size"],
            auto_blind_size=False,
            enc_channels=used["enc_channels"],
            dec_channels=used["dec_channels"],
            paper_width_from_steps=0,
        ),
    )
    if args.minutes is not None:
        planned = _budget_steps(work / "full")
        decision = json.loads((work / "full" / "budget.json").read_text()).get("cache") or {}
        base = dataclasses.replace(
            base,
            cache_teachers=bool(decision.get("cache", base.cache_teachers)),
            bnn=dataclasses.replace(base.bnn, steps=planned["bnn"]),
            lan=dataclasses.replace(base.lan, steps=planned["lan"]),
            unet=dataclasses.replace(base.unet, steps=planned["unet"]),
        )
        b, la, u = planned["bnn"], planned["lan"], planned["unet"]
    model = str(work / "full" / "model.pt")
    frozen = dict(init=model, skip=True)
    variants = {}
    for label in [] if args.skip_ablations else dict.fromkeys(args.ablations):
        config = dataclasses.replace(
            base,
            bnn=dataclasses.replace(base.bnn, **frozen),
            lan=dataclasses.replace(base.lan, **frozen),
            unet=dataclasses.replace(base.unet, supervision=VARIANTS[label]),
        )
        variants[label] = run(label, config)["unet"]
    bsn1 = None
    if not args.skip_bsn1:
        bsn1_config = dataclasses.replace(
            base,
            bnn=dataclasses.replace(base.bnn, blind_size=1, auto_blind_size=False),
            lan=dataclasses.replace(base.lan, **frozen),
            unet=dataclasses.replace(base.unet, **frozen),
        )
        bsn1 = run("bsn1", bsn1_config)["bnn"]

    def denoiser(nets: dict, net: str):  # noqa: ANN202
        tile = args.eval_tile or default_tile(net, base.patch_size)
        d = Denoiser(
            dict(nets),
            net=net,
            tile=tile,
            overlap=default_overlap(tile, net),
            alpha=base.alpha,
            lowpass_sigma=base.lowpass_sigma,  # the output corrections, as sassid denoise
            noise_gate=base.noise_gate,
        )
        return lambda noisy, _clean: d.pixels(noisy)

    rows: list[dict] = []
    _score("noisy", lambda noisy, _clean: noisy, pairs, rows)
    if not args.skip_bm3d:
        _score(
            "bm3d_oracle",
            lambda n, c: bm3d_denoise(n, oracle_sigma(n, c)),
            pairs,
            rows,
        )
        _score("bm3d_blind", lambda n, _c: bm3d_denoise(n, blind_sigma(n)), pairs, rows)
    if bsn1 is not None:
        _score("bsn1", denoiser({"bnn": bsn1}, "bnn"), pairs, rows)
    for name in ("bnn", "lan", "fusion"):
        _score(name, denoiser(full, name), pairs, rows)
    for label, unet in variants.items():
        _score(label, denoiser({"unet": unet}, "unet"), pairs, rows)
    _score("unet", denoiser(full, "unet"), pairs, rows)

    meta = provenance()
    curves = _val_curves(runs)
    stem = args.name or f"real_photos_{args.set}"
    plot = RESULTS / f"{stem}_val.png"
    RESULTS.mkdir(exist_ok=True)
    if curves:
        _plot(curves, rows[0]["psnr"], plot)
    by = {r["name"]: r for r in rows}
    gains = [a - n for a, n in zip(by["unet"]["per_image"], by["noisy"]["per_image"], strict=True)]
    checks = {
        "unet_at_least_fusion": by["unet"]["psnr"] >= by["fusion"]["psnr"],
        "no_image_below_noisy": min(gains) >= 0,
    }
    for label in variants:
        if label in ABLATIONS:
            checks[f"unet_at_least_{label}"] = by["unet"]["psnr"] >= by[label]["psnr"]
    if all(label in variants for label in ABLATIONS):
        checks["unet_best_of_table2"] = by["unet"]["psnr"] >= max(by[k]["psnr"] for k in ABLATIONS)
    if args.set == "sidd_samples":
        checks["unet_at_least_35_db"] = by["unet"]["psnr"] >= 35.0
    else:
        checks["unet_at_least_noisy_plus_1_db"] = by["unet"]["psnr"] >= by["noisy"]["psnr"] + 1
    if "bm3d_oracle" in by:
        checks["unet_beats_bm3d_oracle"] = by["unet"]["psnr"] > by["bm3d_oracle"]["psnr"]
    if "bsn1" in by:
        checks["bsn1_far_below_bnn"] = by["bsn1"]["psnr"] < by["bnn"]["psnr"] - 1.0
    reliability = _recheck(full, noisy_paths, base)
    noise_file = work / "full" / "noise.json"
    budget_file = work / "full" / "budget.json"
    noise = json.loads(noise_file.read_text()) if noise_file.exists() else {}
    payload = {
        "meta": meta,
        "set": args.set,
        "preset": args.preset,
        "minutes": args.minutes,
        "eval_images": len(pairs),
        "train_images": len(noisy_paths),
        "steps": {"bnn": b, "lan": la, "unet": u},
        "bnn_max_steps": base.bnn.max_steps,
        "bnn_channels": [base.bnn.enc_channels, base.bnn.dec_channels],
        "unet_channels": [base.unet.enc_channels, base.unet.dec_channels],
        "seed": args.seed,
        "unet_supervision": _supervision(work / "full"),
        "eval_tile": args.eval_tile,
        "ssim_convention": "skimage",
        "rows": rows,
        "unet_gain_per_image": gains,
        "targets": checks,
        "train_seconds": stage_seconds,
        "budget": json.loads(budget_file.read_text()) if budget_file.exists() else None,
        "corrections": {"lowpass_sigma": base.lowpass_sigma, "noise_gate": base.noise_gate},
        "noise": noise,
        "reliability": reliability,
        "validation_curves": curves,
        "total_seconds": time.perf_counter() - started,
    }
    budget = f"a {args.minutes:g}-minute budget (`--minutes`), " if args.minutes else ""
    if args.minutes and base.bnn.max_steps:
        budget += f"the BNN capped at {base.bnn.max_steps} steps (`[bnn] max_steps`), "
    widths = f"BNN widths {base.bnn.enc_channels}/{base.bnn.dec_channels}"
    if args.bnn_channels:
        budget += f"{widths} (`--bnn-channels`), "
    elif preset(args.preset).bnn.paper_width_from_steps:
        rule = preset(args.preset).bnn.paper_width_from_steps
        budget += f"{widths} (the preset's choice: paper width from {rule} planned steps), "
    unet_widths = f"{base.unet.enc_channels}/{base.unet.dec_channels}"
    how = "`--unet-channels`" if args.unet_channels else "the preset's"
    budget += f"U-Net widths {unet_widths} ({how}), "
    lines = [
        f"# Real photos: {args.set}",
        "",
        stamp(meta),
        "",
        f"Self-supervised on the set's {len(noisy_paths)} noisy images, preset `{args.preset}`, "
        + (f"seed {args.seed} (`--seed`), " if args.seed else "")
        + f"{budget}{b}/{la}/{u} steps (BNN/LAN/U-Net"
        + (
            f"; the ablation rows rerun stage 3 alone for {u} steps on the same BNN and LAN"
            if variants
            else "; no ablation rows (`--skip-ablations`)"
        )
        + f"); the `unet` row's stage 3 trained with supervision `{payload['unet_supervision']}`"
        + f"; scored on the first {len(pairs)} pairs; output corrections as `sassid denoise` "
        f"applies them (lowpass_sigma {base.lowpass_sigma:g}, noise_gate {base.noise_gate:g}) "
        "on every network row; inference "
        + (
            f"tiles {args.eval_tile}px"
            if args.eval_tile
            else f"tiles {base.patch_size}px for the teachers, "
            f"{default_tile('unet', None)}px for the U-Nets"
        )
        + ". PSNR: uint8, per image, mean. SSIM: scikit-image Gaussian convention.",
        "",
        "| row | PSNR (dB) | SSIM | s/MP |",
        "|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['psnr']:.2f} | {r['ssim']:.4f} "
            f"| {r['seconds_per_megapixel']:.3f} |"
        )
    lines += [
        "",
        f"U-Net gain over the noisy input per image: min {min(gains):+.2f}, "
        f"max {max(gains):+.2f} dB; {sum(g < 0 for g in gains)} of {len(gains)} images below "
        "their noisy input.",
    ]
    if noise:
        lines.append(
            f"Noise measured from the noisy images (sassid.noise): std {noise['sigma']:.2f}, "
            "correlation at lags 1-6 "
            + ", ".join(f"{r:.2f}" for r in noise["rho"])
            + f"; auto blind size {noise['auto_blind_size']}, used {noise['blind_size']}."
        )
    if reliability:
        verdict = "reliable" if reliability["reliable"] else "flagged unreliable"
        lines.append(
            "End-of-training check from noisy data alone (sassid.reliability at this commit, "
            f"on {len(reliability['images'])} photos): {verdict}"
            + ("" if reliability["reliable"] else f" ({'; '.join(reliability['warnings'])})")
            + "."
        )
        if lowered := reliability.get("guard_lowered"):
            lines.append(
                f"Its note: on {len(lowered)} of {len(reliability['images'])} checked photos "
                f"({', '.join(lowered)}) the per-photo guard lowers the noise gate (the gated "
                "output is estimated worse than the noisy input there)."
            )
    lines += ["", "## Targets", ""] + [
        f"- {k}: **{'met' if v else 'MISSED'}**" for k, v in checks.items()
    ]
    lines += [
        "",
        f"![validation PSNR per stage]({plot.name})" if curves else "",
        "",
        (
            f"Training used {payload['budget']['spent_seconds'] / 60:.1f} min of its "
            f"{payload['budget']['minutes']:g}-minute budget (`budget.json`); "
            if payload["budget"]
            else ""
        )
        + f"this invocation took {payload['total_seconds'] / 60:.1f} min (a model already in "
        "`--work` is reused, not retrained).",
        "",
    ]
    write_results(stem, payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
