"""Training speed levers of the laptop preset, one run: fp32 NCHW, channels_last, bf16 autocast
+ channels_last, and that under torch.compile.

    python benchmarks/training_speed.py [--device cpu|cuda] [--compile]

Steps/s of every stage (sassid.stages.train_step: teachers online, loss, backward, Adam) at the
laptop preset's batch, crop and widths, with the same random batch each step, after one warm-up
step (whose time shows compilation). Writes results/speed_training_<device>.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import matmul_gflops, provenance, stamp, write_results  # noqa: E402
from sassid.config import TrainConfig, preset  # noqa: E402
from sassid.models import build_stage_net  # noqa: E402
from sassid.stages import prepare_batch, prepare_net, stage_specs, time_train_steps  # noqa: E402


def variant_rows(variants: dict[str, dict[str, float]]) -> list[str]:
    """Markdown rows: steps/s of each stage, its speed-up vs ``fp32 NCHW``, first-step seconds."""
    base = variants["fp32 NCHW"]
    rows = []
    for label, row in variants.items():
        cells = " | ".join(
            f"{row[s]:.2f} ({row[s] / base[s]:.2f}x)" for s in ("bnn", "lan", "unet")
        )
        warm = "/".join(f"{row[f'{s}_warmup_s']:.1f}" for s in ("bnn", "lan", "unet"))
        rows.append(f"| {label} | {cells} | {warm} |")
    return rows


def training_steps_per_s(
    config: TrainConfig, device: str, steps: int, compile_student: bool = False
) -> dict[str, float]:
    """Steps/s of every stage at ``config``'s batch, patch, widths, precision and memory
    format (same random batch each step); ``<stage>_warmup_s`` is the first step's time."""
    torch.manual_seed(0)
    nets = {
        n: prepare_net(build_stage_net(config, n), config).to(device)
        for n in ("bnn", "lan", "unet")
    }
    result = {}
    for spec in stage_specs(config):
        student = nets[spec.name].train()
        teachers = {t: nets[t].eval().requires_grad_(False) for t in spec.teachers}
        optimizer = torch.optim.Adam(student.parameters(), lr=3e-4)
        shape = (config.batch_size, 3, config.patch_size, config.patch_size)
        noisy = prepare_batch(torch.rand(*shape, device=device) * 255, config)
        model = torch.compile(student) if compile_student else student
        seconds, warmup = time_train_steps(spec, model, noisy, teachers, config, optimizer, steps)
        rate = 1.0 / seconds
        result[spec.name] = rate
        result[f"{spec.name}_warmup_s"] = warmup
        student.eval().requires_grad_(False)
    return result


TRAINING_VARIANTS = {
    "fp32 NCHW": dict(precision="fp32", channels_last=False),
    "fp32 channels_last": dict(precision="fp32", channels_last=True),
    "bf16 channels_last": dict(precision="bf16", channels_last=True),
}


def training_variants(device: str, steps: int, compile_too: bool) -> dict[str, dict[str, float]]:
    """The laptop preset's stages in fp32 NCHW (baseline), channels_last, bf16 + channels_last
    (the preset) and, optionally, that under torch.compile; all in this one run."""
    base = preset("laptop")
    rows = {}
    for label, change in TRAINING_VARIANTS.items():
        rows[label] = training_steps_per_s(dataclasses.replace(base, **change), device, steps)
        print(label, rows[label], flush=True)
    if compile_too:
        rows["bf16 channels_last + torch.compile"] = training_steps_per_s(
            base, device, steps, compile_student=True
        )
        print("compile", rows["bf16 channels_last + torch.compile"], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    args = parser.parse_args()
    device = args.device
    before = matmul_gflops(device=device)
    variants = training_variants(device, 5, args.compile)
    after = matmul_gflops(device=device)
    meta = provenance()
    payload = {
        "meta": meta,
        "matmul_gflops": [before, after],
        "laptop_training_variants_steps_per_s": variants,
    }
    lines = [
        f"# Training speed levers on {device}",
        "",
        stamp(meta),
        "",
        f"Baseline fp32 matmul (1024³) in the same run: {before:.0f} GFLOP/s before, "
        f"{after:.0f} after.",
        "",
        "## Laptop preset (8 x 64²), steps/s; speed-up vs fp32 NCHW",
        "",
        "| variant | BNN steps/s | LAN | U-Net | first step (compile), s |",
        "|---|---|---|---|---|",
    ]
    lines += variant_rows(variants)
    lines.append("")
    write_results(f"speed_training_{device}", payload, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
