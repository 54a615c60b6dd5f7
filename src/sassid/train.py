"""``train()``: the three-stage self-supervised schedule, resumable, on CPU, GPU or N GPUs.

Run directory layout:
    config.json               the resolved configuration
    metrics.jsonl             one JSON object per log line (loss, lr, steps/s, val PSNR)
    checkpoints/<stage>.pt    latest state of each stage (atomic writes)
    checkpoints/<stage>_best.pt  best validation weights of the stage (with --val)
    model.pt                  the trained networks, all ``sassid denoise`` needs
    .lock                     held (flock) while a process trains into the directory

A second process training into a directory in use fails at once. On ``--resume``, lines of
metrics.jsonl past the step of their stage's checkpoint (logged by the interrupted run after
its last checkpoint) are dropped before new ones are appended. A loss that is not finite stops
training with one line, and no model.pt is written.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sassid import distributed
from sassid.atomic import atomic_write_text, clean_stale_temps, to_json
from sassid.checkpoint import CHECKPOINT_FORMAT, load_stage_checkpoint, save_atomic
from sassid.config import STAGES, TrainConfig, config_from_dict
from sassid.data import PatchSampler, load_noisy_images
from sassid.device import resolve_device
from sassid.errors import ConfigError, TrainingError
from sassid.inference import Denoiser, default_overlap, default_tile
from sassid.metrics import psnr
from sassid.models import load_weights_into, net_entries, save_model
from sassid.nets.registry import build_net
from sassid.outputs import run_lock
from sassid.pairs import iter_pairs
from sassid.stages import StageSpec, stage_specs, teacher_targets

__all__ = ["train"]


class MetricsLog:
    """Appends JSON lines to metrics.jsonl and, when tensorboard is installed, its events."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.jsonl"
        self.writer: Any = None
        if enabled:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(run_dir / "tensorboard"))
            except ImportError:
                self.writer = None

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        try:
            with open(self.path, "a") as f:
                f.write(to_json(record) + "\n")
        except OSError as exc:
            raise TrainingError(f"{self.path}: cannot write ({exc.strerror})") from None
        if self.writer is not None:
            for key, value in record.items():
                if key not in ("stage", "step") and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{record['stage']}/{key}", value, record["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()

    def trim(self, saved_steps: dict[str, int]) -> None:
        """Keep only the lines a resumed run will not log again: those at or before their
        stage's checkpoint step (``saved_steps``; a stage without one keeps none), and
        complete JSON (a kill can cut the last line)."""
        if not self.enabled or not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
                if record["step"] <= saved_steps.get(record["stage"], 0):
                    kept.append(line + "\n")
            except (ValueError, KeyError, TypeError):
                continue
        atomic_write_text(self.path, "".join(kept))


def _prepare_run_dir(
    run_dir: Path, config: TrainConfig, resume: bool, lock: contextlib.ExitStack
) -> None:
    try:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise TrainingError(f"{run_dir}: cannot write there ({exc.strerror})") from None
    lock.enter_context(run_lock(run_dir))
    clean_stale_temps(run_dir)
    clean_stale_temps(run_dir / "checkpoints")
    saved = run_dir / "config.json"
    has_checkpoints = any((run_dir / "checkpoints").glob("*.pt"))
    if resume:
        if not saved.exists():
            raise TrainingError(f"{run_dir}: nothing to resume (no config.json)")
        try:
            previous_dict = json.loads(saved.read_text())
        except (OSError, ValueError) as exc:
            raise TrainingError(
                f"{saved}: unreadable ({exc}); it records the run's configuration"
            ) from None
        if not isinstance(previous_dict, dict):
            raise TrainingError(f"{saved}: not a JSON object; it records the run's configuration")
        try:  # keys added since the run started take their defaults
            previous = config_from_dict(previous_dict).to_dict()
        except ConfigError:
            previous = previous_dict
        current = json.loads(to_json(config.to_dict()))
        if json.loads(to_json(previous)) != current:
            changed = sorted(k for k in current if previous.get(k) != current[k])
            raise TrainingError(
                f"{run_dir}: --resume with another configuration (differs in: "
                f"{', '.join(changed) or 'keys'}); pass --config {saved}"
            )
    elif has_checkpoints:
        raise TrainingError(f"{run_dir}: already holds a run; pass --resume or use another -o")
    else:  # (a resumed run's config.json already says exactly this)
        atomic_write_text(saved, to_json(config.to_dict(), indent=2) + "\n")


def _validate(
    net: nn.Module,
    role: str,
    pairs: list[tuple[str, np.ndarray, np.ndarray]],
    device: torch.device,
    patch_size: int,
) -> float:
    """Mean PSNR of the net's uint8-rounded output over the validation pairs, tiled as
    ``sassid denoise`` would run it (``inference.default_tile``)."""
    net.eval()
    tile = default_tile(role, patch_size)
    denoiser = Denoiser(
        {role: net}, net=role, tile=tile, overlap=default_overlap(tile), device=device
    )
    scores = [psnr(denoiser.pixels(noisy), clean) for _, noisy, clean in pairs]
    net.train()
    return float(np.mean(scores))


def _check_loss(loss: float, stage: str, step: int) -> None:
    if not math.isfinite(loss):
        raise TrainingError(
            f"{stage} stage, step {step}: the loss is {loss} (diverged); training stopped, "
            "no model written (try a lower lr)"
        )


def _run_stage(
    spec: StageSpec,
    index: int,
    student: nn.Module,
    teachers: dict[str, nn.Module],
    images: list[np.ndarray],
    config: TrainConfig,
    run_dir: Path,
    device: torch.device,
    dist: distributed.DistInfo,
    log: MetricsLog,
    val_pairs: list[tuple[str, np.ndarray, np.ndarray]],
    resume_payload: dict[str, Any] | None,
    progress: bool,
) -> nn.Module:
    stage = config.stage(spec.name)
    if config.batch_size % dist.world_size:
        raise TrainingError(
            f"batch_size {config.batch_size} does not split over {dist.world_size} processes"
        )
    student.to(device).train()
    for teacher in teachers.values():
        teacher.to(device).eval().requires_grad_(False)
    optimizer = torch.optim.Adam(student.parameters(), lr=stage.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=stage.steps, eta_min=0)
    generator = torch.Generator().manual_seed(config.seed * 1000 + index * 10 + dist.rank)
    start, best = 0, -float("inf")
    if resume_payload is not None:
        student.load_state_dict(resume_payload["nets"][spec.name])
        optimizer.load_state_dict(resume_payload["optimizer"])
        scheduler.load_state_dict(resume_payload["scheduler"])
        generator.set_state(resume_payload["rng"]["data"][dist.rank])
        start, best = resume_payload["step"], resume_payload.get("best_psnr", best)
    model = distributed.wrap_student(student, dist, device)
    sampler = PatchSampler(images, config.patch_size, generator)
    per_process = config.batch_size // dist.world_size
    checkpoint_path = run_dir / "checkpoints" / f"{spec.name}.pt"

    def save_checkpoint(step: int) -> None:
        states: list[Any] = [None] * dist.world_size
        if dist.enabled:
            torch.distributed.all_gather_object(states, generator.get_state())
        else:
            states = [generator.get_state()]
        if not dist.is_main:
            return
        nets = {name: t.state_dict() for name, t in teachers.items()}
        nets[spec.name] = student.state_dict()
        payload = {
            "format": CHECKPOINT_FORMAT,
            "stage": spec.name,
            "step": step,
            "stage_steps": stage.steps,
            "config": config.to_dict(),
            "specs": net_entries(config, nets),
            "nets": nets,
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": {"data": states},
            "best_psnr": best,
        }
        save_atomic(payload, checkpoint_path)

    bar = tqdm(
        total=stage.steps,
        initial=start,
        desc=f"stage {index + 1}/3 {spec.name.upper()}",
        unit="step",
        disable=not (progress and dist.is_main),
        dynamic_ncols=True,
    )
    stage_start = time.perf_counter()
    postfix: dict[str, str] = {}
    loss_sum, loss_count, window_start = torch.zeros((), device=device), 0, time.perf_counter()
    for step in range(start + 1, stage.steps + 1):
        noisy = sampler.batch(per_process).to(device, non_blocking=True)
        targets = teacher_targets(spec, noisy, teachers, config)
        loss = spec.loss(model(noisy), noisy, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach()
        loss_count += 1
        bar.update(1)
        if step % config.log_every == 0 or step == stage.steps:
            if dist.enabled:
                torch.distributed.all_reduce(loss_sum)
                loss_sum /= dist.world_size
            elapsed = time.perf_counter() - window_start
            mean_loss = float(loss_sum) / loss_count
            record = {
                "stage": spec.name,
                "step": step,
                "loss": mean_loss,
                "lr": scheduler.get_last_lr()[0],
                "steps_per_s": loss_count / elapsed,
            }
            _check_loss(mean_loss, spec.name, step)
            log.write(record)
            postfix["loss"] = f"{mean_loss:.3f}"
            bar.set_postfix(postfix)
            loss_sum.zero_()
            loss_count, window_start = 0, time.perf_counter()
        if val_pairs and dist.is_main and (step % config.val_every == 0 or step == stage.steps):
            score = _validate(student, spec.name, val_pairs, device, config.patch_size)
            log.write({"stage": spec.name, "step": step, "val_psnr": score})
            postfix["val_psnr"] = f"{score:.2f}"
            bar.set_postfix(postfix)
            if score > best:
                best = score
                save_atomic(
                    {
                        "format": CHECKPOINT_FORMAT,
                        "stage": spec.name,
                        "step": step,
                        "config": config.to_dict(),
                        "specs": net_entries(config, [spec.name]),
                        "nets": {spec.name: student.state_dict()},
                        "val_psnr": score,
                    },
                    run_dir / "checkpoints" / f"{spec.name}_best.pt",
                )
        if step % config.checkpoint_every == 0 or step == stage.steps:
            _check_loss(float(loss_sum), spec.name, step)  # never save diverged weights
            save_checkpoint(step)
    bar.close()
    if start < stage.steps:
        elapsed = time.perf_counter() - stage_start
        log.write(
            {
                "stage": spec.name,
                "step": stage.steps,
                "stage_seconds": elapsed,
                "steps_run": stage.steps - start,
            }
        )
    distributed.barrier(dist)
    return student.eval()


def train(
    sources: Sequence[str | os.PathLike[str]],
    run_dir: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    device: str = "auto",
    val: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Path:
    """Train BNN, LAN and U-Net on the noisy images in ``sources``; return the model file path.

    Clean images are never used for training; ``val`` (a folder of ``<id>_noisy.*`` /
    ``<id>_clean.*`` pairs) only reports validation PSNR and keeps each stage's best weights.
    """
    config = config or TrainConfig()
    run_dir = Path(run_dir)
    device_kind = "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    dist = distributed.setup(device_kind)
    lock = contextlib.ExitStack()
    try:
        torch_device = resolve_device(device, dist.local_rank)
        if dist.is_main:
            _prepare_run_dir(run_dir, config, resume, lock)
        distributed.barrier(dist)
        images, _ = load_noisy_images(sources, config.patch_size)
        val_pairs = list(iter_pairs(val)) if val is not None else []
        log = MetricsLog(run_dir, dist.is_main)
        nets: dict[str, nn.Module] = {}
        kwargs = {name: config.stage(name).net_kwargs() for name in STAGES}
        saved = {}
        for name in STAGES:
            checkpoint = run_dir / "checkpoints" / f"{name}.pt"
            if resume and checkpoint.exists():
                saved[name] = load_stage_checkpoint(checkpoint, name)
        log.trim({name: payload["step"] for name, payload in saved.items()})
        for index, spec in enumerate(stage_specs(config)):
            stage = config.stage(spec.name)
            payload = saved.pop(spec.name, None)
            torch.manual_seed(config.seed * 1000 + index)
            net = build_net(stage.arch, kwargs[spec.name])
            if payload is not None and payload["step"] >= payload["stage_steps"]:
                net.load_state_dict(payload["nets"][spec.name])
                nets[spec.name] = net.eval()
                continue
            if stage.init is not None and payload is None:
                load_weights_into(net, spec.name, stage.init)
            if stage.skip:
                nets[spec.name] = net.eval()
                continue
            teachers = {name: nets[name] for name in spec.teachers}
            nets[spec.name] = _run_stage(
                spec,
                index,
                net,
                teachers,
                images,
                config,
                run_dir,
                torch_device,
                dist,
                log,
                val_pairs,
                payload,
                progress,
            )
        log.close()
        model_path = run_dir / "model.pt"
        if dist.is_main:
            cpu_nets = {name: net.cpu() for name, net in nets.items()}
            save_model(model_path, cpu_nets, kwargs, config.to_dict())
        return model_path
    finally:
        lock.close()
        distributed.teardown(dist)
