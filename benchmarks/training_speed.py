"""Training speed levers of a preset, one run: fp32 NCHW, channels_last, bf16 autocast +
channels_last, and that under torch.compile.

    python benchmarks/training_speed.py [--device cpu|cuda] [--compile] [--preset laptop|paper]

Steps/s of every stage (sassid.stages.train_step: teachers online, loss, backward, Adam) at the
preset's batch, crop and widths (laptop by default; paper, 8 x 256², is the GPU's case), with
the same random batch each step, after one warm-up step (whose time shows compilation).
Writes results/speed_training_<device>[_paper].json and .md after each variant (a run cut
short keeps what it measured), with the hours the preset's steps take at each variant's rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
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
BF16 = TRAINING_VARIANTS["bf16 channels_last"]


def training_variants(
    device: str,
    steps: int,
    compile_too: bool,
    preset_name: str = "laptop",
    save: Callable[[dict[str, dict[str, float]]], None] | None = None,
) -> dict[str, dict[str, float]]:
    """The preset's stages in fp32 NCHW (baseline), channels_last, bf16 + channels_last (the
    laptop preset's choice) and, optionally, that under torch.compile; all in this one run.
    ``save`` gets the rows measured so far after each variant."""
    base = preset(preset_name)
    rows = {}
    variants = {label: (dict(change), False) for label, change in TRAINING_VARIANTS.items()}
    if compile_too:
        variants["bf16 channels_last + torch.compile"] = (dict(BF16), True)
    for label, (change, compiled) in variants.items():
        config = dataclasses.replace(base, **change)
        rows[label] = training_steps_per_s(config, device, steps, compile_student=compiled)
        print(label, rows[label], flush=True)
        if save is not None:
            save(rows)
    return rows


def schedule_hours(config: TrainConfig, row: dict[str, float]) -> float:
    """Hours the preset's steps take at ``row``'s steps/s (the three stages in sequence)."""
    return sum(getattr(config, s).steps / row[s] for s in ("bnn", "lan", "unet")) / 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--preset", default="laptop", choices=["laptop", "paper"])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per stage")
    args = parser.parse_args()
    device = args.device
    before = matmul_gflops(device=device)
    meta = provenance()
    name = f"speed_training_{device}" + ("" if args.preset == "laptop" else f"_{args.preset}")

    def save(variants: dict[str, dict[str, float]], after: float | None = None) -> str:
        payload = {
            "meta": meta,
            "preset": args.preset,
            "matmul_gflops": [before, after],
            f"{args.preset}_training_variants_steps_per_s": variants,
        }
        markdown = render(payload, device)
        write_results(name, payload, markdown)
        return markdown

    variants = training_variants(device, args.steps, args.compile, args.preset, save)
    print(save(variants, matmul_gflops(device=device)))


def render(payload: dict, device: str) -> str:  # type: ignore[type-arg]
    """The .md report of one run."""
    preset_name = payload.get("preset", "laptop")
    config = preset(preset_name)
    variants = payload[f"{preset_name}_training_variants_steps_per_s"]
    before, after = payload["matmul_gflops"]
    lines = [
        f"# Training speed levers on {device}",
        "",
        stamp(payload["meta"]),
        "",
        f"Baseline fp32 matmul (1024³) in the same run: {before:.0f} GFLOP/s before"
        + (f", {after:.0f} after." if after else "."),
        "",
        f"## {preset_name.capitalize()} preset ({config.batch_size} x {config.patch_size}²), "
        "steps/s; speed-up vs fp32 NCHW",
        "",
        "| variant | BNN steps/s | LAN | U-Net | first step (compile), s |",
        "|---|---|---|---|---|",
    ]
    lines += variant_rows(variants)
    steps = "/".join(str(getattr(config, s).steps) for s in ("bnn", "lan", "unet"))
    lines += [
        "",
        f"The preset's {steps} steps (BNN/LAN/U-Net) at these rates: "
        + ", ".join(f"{label} {schedule_hours(config, r):.1f} h" for label, r in variants.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
