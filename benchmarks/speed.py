"""Inference and training speed of every network, with a same-run matmul baseline.

    python benchmarks/speed.py [--device cpu|cuda] [--no-paper-training] [--only inference]
                               [--model RUN] [--data DIR]

Inference: megapixels/s at 256², 512² (whole image) and 2048² (tiled 512/64, as `sassid
denoise` runs large photos), batch 1, fp32, paper widths. Training: steps/s of each stage at the
``quick`` and ``paper`` presets' patch, batch and widths, teachers computed online as in
training (same code path: sassid.stages). ``--model RUN`` adds the U-Net of a trained run per
backend and precision against the fp32 NCHW eager baseline (``benchmarks/backends_speed.py``;
on CUDA: each precision eager and under torch.compile, ``benchmarks/backends_gpu.py``).
Writes results/speed_<device>.json and .md; with ``--only`` the part not measured is kept
from the previous file, each part stamped with its own run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import DATA, RESULTS, matmul_gflops, provenance, write_results  # noqa: E402
from sassid.config import preset  # noqa: E402
from sassid.models import build_stage_net  # noqa: E402
from sassid.stages import stage_specs, time_train_steps  # noqa: E402
from sassid.tiling import run_tiled  # noqa: E402


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def inference_mps(net: torch.nn.Module, size: int, device: str, repeats: int) -> float:
    x = torch.rand(1, 3, size, size, device=device) * 255
    tiled = size > 512

    def run() -> None:
        with torch.inference_mode():
            run_tiled(net, x, 512, 64) if tiled else net(x)

    run() if size <= 512 else None  # warm-up (skipped at 2048², where one run is long)
    _sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        run()
    _sync(device)
    return size * size / 1e6 * repeats / (time.perf_counter() - t)


def training_steps_per_s(preset_name: str, device: str, steps: int) -> dict[str, float]:
    config = preset(preset_name)
    nets = {n: build_stage_net(config, n).to(device) for n in ("bnn", "lan", "unet")}
    result = {}
    for spec in stage_specs(config):
        student = nets[spec.name].train()
        teachers = {t: nets[t].eval().requires_grad_(False) for t in spec.teachers}
        optimizer = torch.optim.Adam(student.parameters(), lr=3e-4)
        noisy = (
            torch.rand(config.batch_size, 3, config.patch_size, config.patch_size, device=device)
            * 255
        )

        seconds, _ = time_train_steps(spec, student, noisy, teachers, config, optimizer, steps)
        result[spec.name] = 1.0 / seconds
        student.eval().requires_grad_(False)
    return result


def _section_meta(meta: dict[str, Any]) -> str:
    return (
        f"{meta['date']}, {meta['machine']}, torch {meta['torch']}, {meta['threads']} threads"
        + (f", {meta['cuda']}" if meta.get("cuda") else "")
        + f", commit {meta['commit']}. Command: `{meta['command']}`."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--no-paper-training", action="store_true", help="skip the slow paper-size steps"
    )
    parser.add_argument(
        "--only",
        choices=["inference", "backends", "training"],
        help="measure one part (inference: the networks and, with --model, the backends; "
        "backends: only the --model table); the rest is kept from the previous results file",
    )
    parser.add_argument(
        "--model",
        help="trained run/model file: adds the U-Net backends/precisions table",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="folder holding sidd_samples/ (default: ../shared/data beside the checkout, or "
        "$SASSID_DATA)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=300.0,
        help="CUDA table: start no case after this many seconds (the rest listed as skipped)",
    )
    parser.add_argument(
        "--mp24",
        nargs="*",
        default=["torch/fp32", "default"],
        metavar="BACKEND/PRECISION",
        help="cases that also denoise a 24 MP photo (default: the baseline and the default)",
    )
    parser.add_argument("--polyu-images", type=int, default=12, help="PolyU pairs scored")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="measure nothing: rewrite the .md from the .json (after changing the default)",
    )
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        from benchmarks.backends_speed import worker

        print(json.dumps(worker(*args.worker)))
        return
    device = args.device
    name = f"speed_{device}"
    previous = RESULTS / f"{name}.json"
    payload: dict[str, Any] = json.loads(previous.read_text()) if previous.exists() else {}
    old_meta = payload.get("meta")
    if args.render_only:
        write_results(name, payload, _render(payload, device, None))
        return
    meta = provenance()
    payload["meta"] = meta
    baseline_before = matmul_gflops(device=device)
    if args.only == "backends" and not args.model:
        parser.error("--only backends needs --model RUN")
    if args.only in (None, "inference"):
        paper = preset("paper")
        sizes = {256: 3, 512: 2, 2048: 1}
        inference = {}
        for net_name in ("bnn", "lan", "unet"):
            net = build_stage_net(paper, net_name).to(device).eval()
            inference[net_name] = {
                str(s): inference_mps(net, s, device, r) for s, r in sizes.items()
            }
            print(net_name, inference[net_name], flush=True)
        payload["inference_megapixels_per_s"] = inference
        payload["inference_meta"] = meta
    if args.only != "training" and args.model and device != "cpu":
        from benchmarks import backends_gpu

        def save(partial: dict[str, Any]) -> None:  # a run cut short keeps what it measured
            payload["gpu_backends"] = partial
            payload.setdefault("matmul_gflops", [baseline_before, baseline_before])
            write_results(name, payload, _render(payload, device, old_meta))

        data = args.data or DATA
        payload["gpu_backends"] = backends_gpu.run(
            args.model, data, device, deadline_s=args.deadline, save=save
        )
        payload["backends_meta"] = meta
    elif args.only != "training":
        if args.model:
            from benchmarks.backends_speed import run
            from sassid.backends import DEFAULT_BACKEND, DEFAULT_PRECISION

            default = f"{DEFAULT_BACKEND}/{DEFAULT_PRECISION}"
            cases = [c.replace("default", default) for c in args.mp24]
            mp24 = [tuple(c.split("/", 1)) for c in dict.fromkeys(cases)]
            payload["backends"] = run(args.model, mp24, args.polyu_images)  # type: ignore[arg-type]
            payload["backends_meta"] = meta
    if args.only is None or args.only == "training":
        training = {"quick": training_steps_per_s("quick", device, 5)}
        print("quick", training["quick"], flush=True)
        if not args.no_paper_training:
            training["paper"] = training_steps_per_s("paper", device, 2)
            print("paper", training["paper"], flush=True)
        payload["training_steps_per_s"] = training
        payload["training_meta"] = meta
    baseline_after = matmul_gflops(device=device)
    payload["matmul_gflops"] = [baseline_before, baseline_after]
    markdown = _render(payload, device, old_meta)
    write_results(name, payload, markdown)
    print(markdown)


def _stamp(meta: dict[str, Any] | None) -> str:
    """A section's provenance line, or what is known where its run was not recorded."""
    if meta is None:
        return "Measured by an earlier run of this script; its date and commit were not recorded."
    return _section_meta(meta)


def _render(payload: dict[str, Any], device: str, old_meta: dict[str, Any] | None) -> str:
    """The .md report of a results payload (each part stamped with the run that measured it)."""
    meta = payload["meta"]
    baseline_before, baseline_after = payload["matmul_gflops"]
    lines = [
        f"# Speed on {device}",
        "",
        f"Baseline fp32 matmul (1024³) in the latest run: {baseline_before:.0f} GFLOP/s before, "
        f"{baseline_after:.0f} after; compare ratios within one run, not raw numbers.",
        "",
    ]
    inference = payload.get("inference_megapixels_per_s")
    if inference:
        lines += [
            "### Inference, megapixels/s (batch 1, fp32 eager, random init, paper widths; "
            "2048² tiled 512/64)",
            "",
            _stamp(payload.get("inference_meta") or old_meta),
            "",
            "| network | 256² | 512² | 2048² |",
            "|---|---|---|---|",
        ]
        for net_name, row in inference.items():
            lines.append(
                f"| {net_name} | "
                + " | ".join(f"{row[str(s)]:.3f}" for s in (256, 512, 2048))
                + " |"
            )
        lines.append("")
    if payload.get("gpu_backends"):
        from benchmarks.backends_gpu import markdown as gpu_markdown

        lines += [*gpu_markdown(payload["gpu_backends"])[:2]]
        lines += [_section_meta(payload.get("backends_meta") or meta), ""]
        lines += gpu_markdown(payload["gpu_backends"])[2:] + [""]
    if payload.get("backends"):
        from benchmarks.backends_speed import markdown

        lines += [*markdown(payload["backends"])[:1], ""]
        lines += [_section_meta(payload.get("backends_meta") or meta)]
        lines += markdown(payload["backends"])[1:] + [""]
    training = payload.get("training_steps_per_s")
    if training:
        from benchmarks.training_speed import schedule_hours

        lines += [
            "### Training, steps/s (teachers online, as in training)",
            "",
            _stamp(payload.get("training_meta") or old_meta),
            "",
            "| preset (batch x patch) | BNN | LAN | U-Net | the preset's steps at these rates |",
            "|---|---|---|---|---|",
        ]
        for preset_name, row in training.items():
            c = preset(preset_name)
            hours = schedule_hours(c, row)
            lines.append(
                f"| {preset_name} ({c.batch_size} x {c.patch_size}²) | "
                + " | ".join(f"{row[s]:.3f}" for s in ("bnn", "lan", "unet"))
                + (f" | {hours * 60:.1f} min |" if hours < 1 else f" | {hours:,.1f} h |")
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
