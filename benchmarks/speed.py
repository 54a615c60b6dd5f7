"""Inference and training speed of every network, with a same-run matmul baseline.

    python benchmarks/speed.py [--device cpu|cuda] [--no-paper-training]

Inference: megapixels/s at 256², 512² (whole image) and 2048² (tiled 512/64, as `sassid
denoise` runs large photos), batch 1, fp32, paper widths. Training: steps/s of each stage at the
``quick`` and ``paper`` presets' patch, batch and widths, teachers computed online as in
training (same code path: sassid.stages). Writes results/speed_<device>.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import matmul_gflops, provenance, write_results  # noqa: E402
from sassid.config import preset  # noqa: E402
from sassid.models import build_stage_net  # noqa: E402
from sassid.stages import stage_specs, teacher_targets  # noqa: E402
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


def _time_steps(
    spec, student, teachers, optimizer, noisy, config, steps: int, device: str
) -> float:  # noqa: ANN001
    """Steps/s of one full training step (teachers, loss, backward, Adam), after a warm-up."""
    t = 0.0
    for i in range(steps + 1):
        if i == 1:
            _sync(device)
            t = time.perf_counter()
        loss = spec.loss(student(noisy), noisy, teacher_targets(spec, noisy, teachers, config))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    _sync(device)
    return steps / (time.perf_counter() - t)


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

        result[spec.name] = _time_steps(
            spec, student, teachers, optimizer, noisy, config, steps, device
        )
        student.eval().requires_grad_(False)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--no-paper-training", action="store_true", help="skip the slow paper-size steps"
    )
    args = parser.parse_args()
    device = args.device
    baseline_before = matmul_gflops(device=device)
    paper = preset("paper")
    sizes = {256: 3, 512: 2, 2048: 1}
    inference = {}
    for name in ("bnn", "lan", "unet"):
        net = build_stage_net(paper, name).to(device).eval()
        inference[name] = {str(s): inference_mps(net, s, device, r) for s, r in sizes.items()}
        print(name, inference[name], flush=True)
    training = {"quick": training_steps_per_s("quick", device, 5)}
    print("quick", training["quick"], flush=True)
    if not args.no_paper_training:
        training["paper"] = training_steps_per_s("paper", device, 2)
        print("paper", training["paper"], flush=True)
    baseline_after = matmul_gflops(device=device)
    meta = provenance()
    payload = {
        "meta": meta,
        "matmul_gflops": [baseline_before, baseline_after],
        "inference_megapixels_per_s": inference,
        "training_steps_per_s": training,
    }
    lines = [
        f"# Speed on {device}",
        "",
        f"{meta['date']}, {meta['machine']}, torch {meta['torch']}, {meta['threads']} threads"
        + (f", {meta['cuda']}" if meta["cuda"] else "")
        + f", commit {meta['commit']}.",
        f"Command: `{meta['command']}`.",
        "",
        f"Baseline fp32 matmul (1024³) in the same run: {baseline_before:.0f} GFLOP/s before, "
        f"{baseline_after:.0f} after; compare ratios across runs, not raw numbers.",
        "",
        "## Inference, megapixels/s (batch 1, fp32, paper widths; 2048² tiled 512/64)",
        "",
        "| network | 256² | 512² | 2048² |",
        "|---|---|---|---|",
    ]
    for name, row in inference.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[str(s)]:.3f}" for s in sizes) + " |")
    lines += [
        "",
        "## Training, steps/s (teachers online, as in training)",
        "",
        "| preset (batch x patch) | BNN | LAN | U-Net |",
        "|---|---|---|---|",
    ]
    for name, row in training.items():
        c = preset(name)
        lines.append(
            f"| {name} ({c.batch_size} x {c.patch_size}²) | "
            + " | ".join(f"{row[s]:.3f}" for s in ("bnn", "lan", "unet"))
            + " |"
        )
    lines.append("")
    write_results(f"speed_{device}", payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
