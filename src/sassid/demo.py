"""``run_demo()``: the whole method, offline, on photos that scikit-image ships in its wheel.

1. Clean photos are made noisy by ``sassid.synth`` (camera pipeline noise, spatially
   correlated); the noise-free render of the same pipeline is kept as the reference.
2. The ``laptop`` preset trains BNN, LAN and U-Net on the noisy photos only, under a
   ``DEMO_MINUTES`` budget (or a given configuration, for its steps or a given budget).
3. Each network (and the image-level fusion) denoises the noisy photos; PSNR/SSIM against the
   reference and the time of each step are written to ``report.md`` with a picture of crops,
   and the interactive ``report.html`` (``sassid.report``) shows each photo, alpha, both
   teachers and the training curves.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from sassid.atomic import atomic_write_json, atomic_write_text
from sassid.budget import check_minutes
from sassid.config import STAGES, TrainConfig, preset
from sassid.constants import DEMO_ISO, DEMO_MINUTES
from sassid.errors import SassidError
from sassid.inference import Denoiser
from sassid.io import write_image
from sassid.metrics import psnr, ssim
from sassid.models import read_model
from sassid.outputs import ensure_folder
from sassid.synth import add_camera_noise, check_synth_options, render_reference

__all__ = ["DEMO_ISO", "DEMO_MINUTES", "DEMO_PHOTOS", "DemoResult", "demo_photos", "run_demo"]

DEMO_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
ROWS = (
    ("noisy", "noisy input"),
    ("bnn", "BNN (stage 1)"),
    ("lan", "LAN (stage 2)"),
    ("fusion", "fusion (1-a)BNN + a LAN"),
    ("unet", "U-Net (stage 3, the method)"),
)


def demo_photos() -> dict[str, np.ndarray]:
    """The clean colour photos shipped inside scikit-image's wheel (no download)."""
    try:
        import skimage.data
    except ImportError:
        raise SassidError("the demo needs scikit-image: pip install 'sassid[demo]'") from None
    return {name: getattr(skimage.data, name)() for name in DEMO_PHOTOS}


@dataclass
class DemoResult:
    rows: list[dict[str, object]] = field(default_factory=list)
    report: Path | None = None
    picture: Path | None = None
    html: Path | None = None


def _stage_records(run_dir: Path) -> dict[str, dict[str, float]]:
    """Each stage's closing record in metrics.jsonl (``stage_seconds``, final ``step``)."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["stage"]: r for r in records if "stage_seconds" in r}


def _crop(image: np.ndarray, size: int = 160) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = max((h - size) // 2, 0), max((w - size) // 2, 0)
    return image[top : top + size, left : left + size]


DEMO_SETTINGS = {"iso_like": "--iso-like", "seed": "--seed", "training": ""}
"""``demo.json``'s keys that make a demo, and the ``sassid demo`` options that set them."""


def _training(config: TrainConfig, minutes: float | None) -> str:
    """How the demo trains, as ``sassid demo`` spells it (``--minutes M`` or ``--steps N``),
    or, for a configuration given through the API with unequal stages, their steps."""
    if minutes is not None:
        return f"--minutes {minutes:g}"
    steps = [config.stage(name).steps for name in STAGES]
    if len(set(steps)) == 1:
        return f"--steps {steps[0]}"
    return "steps " + "/".join(map(str, steps)) + " (BNN/LAN/U-Net)"


def _check_same_demo(
    out: Path, settings: dict[str, object], config: TrainConfig, minutes: float | None
) -> None:
    """A folder holding a demo made with other settings is refused before anything is
    written: its run would be resumed, and scored against photos it never trained on (or
    refused by ``train --resume`` in terms of options the demo does not have). The settings
    are read from ``demo.json`` (keys an older one lacks are not compared) and, where the
    folder holds a run, its recorded configuration and budget. The same settings resume or
    redo it."""
    from sassid.errors import TrainingError
    from sassid.train import check_resumable

    run = out / "run"
    try:
        before = json.loads((out / "demo.json").read_text())
    except (OSError, ValueError):
        before = None
    if not isinstance(before, dict):
        if (run / "config.json").exists():
            raise SassidError(
                f"{out}: holds a demo's run but no readable demo.json; use another -o"
            )
        return
    made = {k: before[k] for k in DEMO_SETTINGS if k in before}
    this = {k: settings[k] for k in made}

    def spell(values: dict[str, object]) -> str:
        return ", ".join(
            f"{DEMO_SETTINGS[k]} {v:g}" if isinstance(v, (int, float)) else str(v)
            for k, v in values.items()
        )

    if made != this:
        raise SassidError(
            f"{out}: holds a demo made with {spell(made)} (this one: {spell(this)}); use another -o"
        )
    if (run / "config.json").exists():
        try:
            check_resumable(run, config, minutes)
        except TrainingError:
            raise SassidError(
                f"{out}: holds a demo trained with another configuration or budget (its "
                f"run/config.json or run/budget.json; this one: {settings['training']}); "
                "use another -o"
            ) from None


def run_demo(
    out_dir: str | os.PathLike[str] = "demo_out",
    *,
    iso_like: float = DEMO_ISO,
    config: TrainConfig | None = None,
    eval_tile: int | None = None,
    device: str = "auto",
    seed: int = 0,
    progress: bool = True,
    minutes: float | None = None,
) -> DemoResult:
    """Synthesize, train, denoise, score; write report.md and comparison.png to ``out_dir``.

    ``config``: the training configuration (default: the ``laptop`` preset with ``seed``, under
    ``minutes``, default ``DEMO_MINUTES``: what ``sassid demo`` runs); ``minutes``: train under
    this wall-clock budget (``sassid train --minutes``) instead of the configuration's steps."""
    from sassid.train import train

    check_synth_options(iso_like)
    if minutes is not None:
        check_minutes(minutes)  # before anything is written
    if not os.fspath(out_dir):
        raise SassidError("-o is empty (an unset shell variable?); name the demo's folder")
    out = Path(out_dir)
    if config is None:
        config = dataclasses.replace(preset("laptop"), seed=seed)
        minutes = DEMO_MINUTES if minutes is None else minutes
    settings = {"iso_like": iso_like, "seed": seed, "training": _training(config, minutes)}
    _check_same_demo(out, settings, config, minutes)
    started = time.perf_counter()
    clean = demo_photos()
    noisy, reference = {}, {}
    ensure_folder(out)
    atomic_write_json(out / "demo.json", settings)
    ensure_folder(out / "noisy")
    for i, (name, photo) in enumerate(clean.items()):
        noisy[name] = add_camera_noise(photo, iso_like, seed=seed + i)
        reference[name] = render_reference(photo)
        write_image(out / "noisy" / f"{name}.png", noisy[name])
    synth_seconds = time.perf_counter() - started

    run_dir = out / "run"
    train(
        [out / "noisy"],
        run_dir,
        config,
        device=device,
        progress=progress,
        resume=(run_dir / "config.json").exists(),
        minutes=minutes,
    )
    stages = _stage_records(run_dir)
    stage_seconds = {k: r["stage_seconds"] or 0.0 for k, r in stages.items()}
    steps = "/".join(str(stages.get(k, {}).get("step", "-")) for k in ("bnn", "lan", "unet"))
    model = read_model(run_dir)
    nets = model.networks()

    result = DemoResult()
    outputs: dict[str, dict[str, np.ndarray]] = {"noisy": noisy}
    for key, label in ROWS:
        if key != "noisy":
            # inference.default_tile: teachers on tiles of their training crop, U-Net at 512
            denoiser = Denoiser.from_model(model, net=key, tile=eval_tile, device=device, nets=nets)
            t = time.perf_counter()
            outputs[key] = {name: denoiser.pixels(image) for name, image in noisy.items()}
            infer = time.perf_counter() - t
        else:
            infer = 0.0
        result.rows.append(
            {
                "row": key,
                "label": label,
                "psnr": float(np.mean([psnr(outputs[key][n], reference[n]) for n in noisy])),
                "ssim": float(np.mean([ssim(outputs[key][n], reference[n]) for n in noisy])),
                "mean_shift": _mean_shift(outputs[key], reference),
                "train_seconds": stage_seconds.get(key, 0.0),
                "denoise_seconds": infer,
            }
        )
    strips = [
        np.concatenate([_crop(noisy[n]), _crop(outputs["unet"][n]), _crop(reference[n])], 1)
        for n in noisy
    ]
    result.picture = out / "comparison.png"
    write_image(result.picture, np.concatenate(strips, 0))
    result.html = _html_report(out, run_dir, noisy, outputs["unet"], reference, device)
    total = time.perf_counter() - started
    result.report = out / "report.md"
    budget = f", a {minutes:g}-minute budget (`--minutes`)" if minutes else ""
    atomic_write_text(
        result.report,
        _report(result.rows, config, iso_like, synth_seconds, total, f"{steps} steps{budget}"),
    )
    atomic_write_json(
        out / "demo.json",
        {"rows": result.rows, "total_seconds": total, **settings},
    )
    return result


def _mean_shift(outputs: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> list[float]:
    """Per-channel (R, G, B) mean of output - reference, in levels, averaged over photos: a
    colour cast or haze shows here, noise does not (it is zero-mean)."""
    shifts = [(outputs[n].astype(np.float64) - reference[n]).mean((0, 1)) for n in reference]
    return [float(v) for v in np.mean(shifts, 0)]


def _html_report(
    out: Path,
    run_dir: Path,
    noisy: dict[str, np.ndarray],
    denoised: dict[str, np.ndarray],
    reference: dict[str, np.ndarray],
    device: str,
) -> Path:
    """report.html: every photo against its noise-free render, alpha, teachers, training."""
    from sassid.report import ReportBuilder

    builder = ReportBuilder(run_dir, out / "report.html", device=device, title="sassid demo")
    for name in noisy:
        builder.add(
            name,
            noisy[name],
            denoised[name],
            clean=reference[name],
            noisy_file=out / "noisy" / f"{name}.png",
        )
    return builder.write().path


def _report(
    rows: list[dict[str, object]],
    config: TrainConfig,
    iso_like: float,
    synth_seconds: float,
    total: float,
    schedule: str,
) -> str:
    lines = [
        "| output | PSNR (dB) | SSIM (skimage) | mean - reference, R/G/B (levels) "
        "| training (s) | denoising 4 photos (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        train_s = f"{r['train_seconds']:.0f}" if r["train_seconds"] else "-"
        infer_s = f"{r['denoise_seconds']:.1f}" if r["denoise_seconds"] else "-"
        shift = " / ".join(f"{v:+.1f}" for v in r["mean_shift"])  # type: ignore[attr-defined]
        lines.append(
            f"| {r['label']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {shift} | {train_s} "
            f"| {infer_s} |"
        )
    gain = float(rows[-1]["psnr"]) - float(rows[0]["psnr"])  # type: ignore[arg-type]
    return "\n".join(
        [
            "# sassid demo",
            "",
            f"Photos: {', '.join(DEMO_PHOTOS)} (scikit-image), made noisy by `sassid.synth` at "
            f"iso_like={iso_like:g}; scored against the noise-free render of the same pipeline. "
            f"Training: preset `{config.preset}` ({schedule}, {config.patch_size}px crops), "
            "noisy photos only. The mean shift column shows a colour cast or haze: noise is "
            "zero-mean, but clipping at black already shifts the noisy input.",
            "",
            *lines,
            "",
            f"The U-Net gains **{gain:+.2f} dB** over the noisy input. Synthesis took "
            f"{synth_seconds:.0f} s; the whole demo {total / 60:.1f} min.",
            "",
            "![noisy | U-Net | reference](comparison.png)",
            "",
            f"Made by `sassid demo` on {datetime.date.today().isoformat()}, {platform.machine()}, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}, Python "
            f"{platform.python_version()}.",
            "",
        ]
    )
