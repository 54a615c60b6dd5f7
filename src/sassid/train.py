"""``train()``: the three-stage self-supervised schedule, resumable, on CPU, GPU or N GPUs.

Run directory layout:
    config.json               the resolved configuration
    metrics.jsonl             one JSON object per log line (loss, lr, steps/s, val PSNR)
    checkpoints/<stage>.pt    latest state of each stage (atomic writes)
    checkpoints/<stage>_best.pt  best validation weights of the stage (with --val)
    checkpoints/<stage>_step<N>.pt  the stage's checkpoint at step N (with ``keep_every``)
    model.pt                  the trained networks, all ``sassid denoise`` needs
    .lock                     held (flock) while a process trains into the directory

A second process training into a directory in use fails at once. On ``--resume``, lines of
metrics.jsonl past the step of their stage's checkpoint (logged by the interrupted run after
its last checkpoint) are dropped before new ones are appended. A loss that is not finite stops
training with one line, and no model.pt is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from sassid import distributed
from sassid.atomic import atomic_write_text, clean_stale_temps, to_json
from sassid.averaging import WeightAverage, ema_decay
from sassid.bf16_check import bf16_problem
from sassid.budget import (
    Budget,
    LossPlateau,
    ProgressCosine,
    cache_decision,
    check_minutes,
    format_seconds,
    probe,
    read_budget,
    revised_total,
    split_seconds,
    stage_steps,
)
from sassid.checkpoint import CHECKPOINT_FORMAT, load_stage_checkpoint, save_atomic
from sassid.config import STAGES, TrainConfig, config_from_dict
from sassid.constants import PIXEL_MAX
from sassid.data import PatchSampler, load_noisy_images
from sassid.device import resolve_device
from sassid.errors import ConfigError, TrainingError
from sassid.inference import Denoiser, default_overlap, default_tile
from sassid.metrics import psnr
from sassid.models import init_entry, load_weights_into, net_entries, save_model
from sassid.nets.registry import build_net
from sassid.noise import BLIND_THRESHOLD, auto_blind_size, measure_noise
from sassid.outputs import run_lock
from sassid.pairs import iter_pairs
from sassid.reliability import assess, check_crops
from sassid.stages import (
    StageSpec,
    autocast,
    memory_format,
    prepare_batch,
    prepare_net,
    stage_specs,
    train_step,
    with_alpha,
)
from sassid.teachers import POSTERIOR, TeacherCache

__all__ = ["train", "stage_seed", "check_reliability", "judge_reliability"]


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


def _prepare_run_dir(run_dir: Path, resume: bool, lock: contextlib.ExitStack) -> bool:
    """Make ``run_dir`` (writable, locked, stale temps gone); refuse to start over a run's
    checkpoints without ``resume``, and to resume without its config.json or, where it holds a
    model.pt, without its checkpoints (before anything is made there). Returns whether this
    call made ``run_dir`` (and so holds its only lock)."""
    if resume and not (run_dir / "config.json").exists():
        raise TrainingError(f"{run_dir}: nothing to resume (no config.json)")
    checkpoints = run_dir / "checkpoints"
    if resume and (run_dir / "model.pt").exists() and not any(checkpoints.glob("*.pt")):
        # a budgeted run would train every stage again in the time it has left (a minute's
        # run: 1 step each) and replace a good model.pt with that
        raise TrainingError(
            f"{run_dir}: holds a model.pt but no checkpoints to resume from; train into "
            "another folder (or remove model.pt to train this run again from the start)"
        )
    try:
        try:
            run_dir.mkdir(parents=True)
            made = True
        except FileExistsError:
            made = False
        (run_dir / "checkpoints").mkdir(exist_ok=True)
        probe = run_dir / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise TrainingError(f"{run_dir}: cannot write there ({exc.strerror})") from None
    lock.enter_context(run_lock(run_dir))
    clean_stale_temps(run_dir)
    clean_stale_temps(run_dir / "checkpoints")
    if not resume and any((run_dir / "checkpoints").glob("*.pt")):
        raise TrainingError(f"{run_dir}: already holds a run; pass --resume or use another -o")
    return made


def _saved_config(run_dir: Path) -> dict[str, Any]:
    """The run's config.json, with keys added since it was written at their defaults."""
    saved = run_dir / "config.json"
    try:
        previous_dict = json.loads(saved.read_text())
    except (OSError, ValueError) as exc:
        raise TrainingError(
            f"{saved}: unreadable ({exc}); it records the run's configuration"
        ) from None
    if not isinstance(previous_dict, dict):
        raise TrainingError(f"{saved}: not a JSON object; it records the run's configuration")
    try:
        return config_from_dict(previous_dict).to_dict()
    except ConfigError as exc:
        raise TrainingError(f"{saved}: {exc}; it records the run's configuration") from None


def _checked_resume(run_dir: Path, config: TrainConfig, minutes: float | None) -> TrainConfig:
    """``config`` as the run in ``run_dir`` recorded it (``_resumed_config``), refused unless
    it is the configuration the run was started with, and a run planned for ``--minutes``
    unless it is resumed with them (another number of minutes: ``Budget.open``)."""
    saved = _saved_config(run_dir)
    config = _resumed_config(config, saved)
    _check_resume_config(run_dir, config, saved)
    planned = read_budget(run_dir) if minutes is None else None
    if planned is not None:
        raise TrainingError(
            f"{run_dir}: the run was planned for --minutes {planned['minutes']:g} "
            "(budget.json); resume it with the same --minutes"
        )
    return config


def check_resumable(run_dir: Path, config: TrainConfig, minutes: float | None) -> None:
    """What ``train(..., resume=True, minutes=minutes)`` checks of ``run_dir`` before it
    touches anything: the configuration it recorded, and the budget it was planned for. For
    a caller that must refuse in its own terms before it writes (``sassid demo``).

    Raises:
        TrainingError: the line ``train`` would give.
    """
    _checked_resume(run_dir, config, minutes)
    if minutes is not None:
        Budget.open(run_dir, minutes, resume=True, started=time.perf_counter())


def _resumed_config(config: TrainConfig, saved: dict[str, Any]) -> TrainConfig:
    """On resume, what the run measured and planned is what it recorded (``saved``: its
    config.json): the blind size (``[bnn] auto_blind_size``) and the BNN's widths (``[bnn]
    paper_width_from_steps``)."""
    bnn, recorded = config.bnn, saved.get("bnn", {})
    if bnn.auto_blind_size:
        bnn = dataclasses.replace(bnn, blind_size=recorded.get("blind_size", bnn.blind_size))
    if bnn.paper_width_from_steps:
        bnn = dataclasses.replace(
            bnn,
            enc_channels=recorded.get("enc_channels", bnn.enc_channels),
            dec_channels=recorded.get("dec_channels", bnn.dec_channels),
        )
    return dataclasses.replace(config, bnn=bnn)


def _planned_bnn_width(
    config: TrainConfig,
    images: list[np.ndarray],
    device: torch.device,
    dist: distributed.DistInfo,
    budget: Budget | None,
    progress: bool,
) -> TrainConfig:
    """A new run's BNN widths under ``[bnn] paper_width_from_steps``: the paper's if the BNN
    will train that many steps at them (under a budget: its share of the time left over the
    probed pace of a paper-width BNN step; rank 0's plan on every rank). A BNN taken from
    ``[bnn] init`` keeps that model's (``_bnn_from_init``). The later stages are not probed yet,
    so the share is the plain one: a capped U-Net's surplus (``split_seconds``) is not counted
    here, and the BNN may then train more steps than this plan."""
    bnn = config.bnn
    if not bnn.paper_width_from_steps or bnn.init is not None:
        return config
    wide = dataclasses.replace(config, bnn=bnn.at_paper_width())
    if budget is None:
        steps = min(bnn.steps, bnn.max_steps or bnn.steps)
    else:
        shares = {n: config.stage(n).time_share for n in STAGES if not config.stage(n).skip}
        pace = probe(wide, images, device, ["bnn"])["bnn"]
        steps = _rank0(dist, stage_steps(budget.allot("bnn", shares), pace))
        steps = min(steps, bnn.max_steps or steps)
    chosen = dataclasses.replace(config, bnn=bnn.widened(steps))
    if progress and dist.is_main:
        width = f"{chosen.bnn.enc_channels}/{chosen.bnn.dec_channels}"
        reach = "reaches" if chosen.bnn != bnn else "is below"
        print(
            f"BNN width {width}: at the paper's width it would train {steps} steps, which "
            f"{reach} [bnn] paper_width_from_steps = {bnn.paper_width_from_steps}",
            flush=True,
        )
    return chosen


def _bnn_from_init(config: TrainConfig, announce: bool) -> TrainConfig:
    """A BNN taken from ``[bnn] init`` as that model has it where this run would choose: its
    widths under ``paper_width_from_steps`` (its weights fit no others) and its blind size
    under ``auto_blind_size`` (at another size the same weights are another network)."""
    bnn = config.bnn
    if bnn.init is None:
        return config
    where, entry = init_entry(bnn.init, "bnn", bnn.arch)
    changes: dict[str, Any] = {}
    if bnn.paper_width_from_steps:
        changes["enc_channels"] = entry.kwargs.get("enc_channels", bnn.enc_channels)
        changes["dec_channels"] = entry.kwargs.get("dec_channels", bnn.dec_channels)
    if bnn.auto_blind_size:
        changes["blind_size"] = entry.kwargs.get("blind_size", bnn.blind_size)
    if not changes:
        return config
    chosen = dataclasses.replace(bnn, **changes)
    if announce:
        print(
            f"BNN {chosen.enc_channels}/{chosen.dec_channels} channels, blind size "
            f"{chosen.blind_size}: those of {where}",
            flush=True,
        )
    return dataclasses.replace(config, bnn=chosen)


def _check_inits(config: TrainConfig) -> None:
    """Every stage's ``init`` loads into its network before any stage trains: a model that
    does not fit fails now, not after the stages before it have trained (their checkpoints
    would then block a corrected run in the same folder)."""
    for name in STAGES:
        stage = config.stage(name)
        if stage.init is not None:
            load_weights_into(build_net(stage.arch, stage.net_kwargs()), name, stage.init)


def _check_resume_config(run_dir: Path, config: TrainConfig, previous: dict[str, Any]) -> None:
    """A resumed run must have the configuration it recorded (``previous``: its config.json)."""
    current = json.loads(to_json(config.to_dict()))
    if json.loads(to_json(previous)) != current:
        changed = sorted(k for k in current if previous.get(k) != current[k])
        raise TrainingError(
            f"{run_dir}: --resume with another configuration (differs in: "
            f"{', '.join(changed) or 'keys'}); pass --config {run_dir / 'config.json'}"
        )


def _trusted_precision(config: TrainConfig, device: torch.device, switch: bool) -> TrainConfig:
    """``config`` in fp32 instead of bf16 (``switch``; a resumed run keeps its recorded
    precision) where this machine's bf16 convolutions disagree with fp32
    (``sassid.bf16_check``): a wrong kernel would train a silently wrong model. Warns."""
    if config.precision != "bf16":
        return config
    problem = bf16_problem(str(device))
    if problem is None:
        return config
    if not switch:
        warnings.warn(f"{problem}: this run was started in bf16 and resumes so", stacklevel=3)
        return config
    warnings.warn(f"{problem}: training in fp32 instead", stacklevel=3)
    return dataclasses.replace(config, precision="fp32")


def _measured_config(
    config: TrainConfig, images: list[np.ndarray]
) -> tuple[TrainConfig, dict[str, Any]]:
    """A new run's noise report (noise.json) and, with ``[bnn] auto_blind_size``, the config
    with the blind size it measured (the configured one stays when no image can be measured,
    and an ``init`` model's, ``_bnn_from_init``, when the BNN is taken from one)."""
    report = _noise_report(images)
    if config.bnn.auto_blind_size and config.bnn.init is None and "auto_blind_size" in report:
        bnn = dataclasses.replace(config.bnn, blind_size=report["auto_blind_size"])
        config = dataclasses.replace(config, bnn=bnn)
    return config, {**report, "blind_size": config.bnn.blind_size}


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
        {role: net}, net=role, tile=tile, overlap=default_overlap(tile, role), device=device
    )
    scores = [psnr(denoiser.pixels(noisy), clean) for _, noisy, clean in pairs]
    net.train()
    return float(np.mean(scores))


def _check_loss(loss: float, stage: str, step: int, scale: float | None = None) -> None:
    """Stop a diverged stage: a loss that is not finite, or whose error ``scale`` (the L1
    loss, or the square root of the L2 one) passes the whole pixel range: the outputs are
    then farther from targets in [0, PIXEL_MAX] than any pixel can be (a run at lr 1 logged
    1e19 and, without this, wrote a model whose output is one flat colour)."""
    if not math.isfinite(loss) or (scale is not None and scale > PIXEL_MAX):
        raise TrainingError(
            f"{stage} stage, step {step}: the loss is {loss:.4g} (diverged); training stopped, "
            "no model written (try a lower lr)"
        )


def stage_seed(seed: int, index: int, stream: int) -> int:
    """Seed of one random stream of stage ``index``: stream 0 initialises the network, stream
    ``1 + rank`` draws that process's crops. ``SeedSequence`` hashes the whole tuple, so no two
    (seed, stage, stream) share a seed (``seed * 1000 + index * 10 + rank`` collided from rank
    10 on)."""
    state = np.random.SeedSequence((seed, index, stream)).generate_state(1, dtype=np.uint64)
    return int(state[0])


@dataclass
class _Run:
    """What every stage of one run shares."""

    config: TrainConfig
    run_dir: Path
    device: torch.device
    dist: distributed.DistInfo
    log: MetricsLog
    images: list[np.ndarray]
    val_pairs: list[tuple[str, np.ndarray, np.ndarray]]
    progress: bool
    budget: Budget | None
    cache: TeacherCache | None = None

    def use_cache(self, remaining: dict[str, float]) -> bool:
        """``cache_teachers``, and under a budget only if it pays (decided once, kept)."""
        if not self.config.cache_teachers:
            return False
        if self.budget is None or self.config.unet.reads_posterior:
            return True
        if self.budget.cache is None:
            pixels = sum(im.shape[0] * im.shape[1] for im in self.images)
            # the stages' seconds without a cache: cache_decision saves a fraction of them
            limits = self.budget.limits(self.config, remaining, cached=False)
            self.budget.cache = cache_decision(
                self.budget.seconds_per_step,
                split_seconds(self.budget.usable(), remaining, limits),
                self.config,
                pixels,
            )
            self.budget.cache["cache"] = bool(_rank0(self.dist, int(self.budget.cache["cache"])))
            self.log.write({"stage": "plan", "step": 0, **self.budget.cache})
        return bool(self.budget.cache["cache"])

    def time_limits(self, remaining: Mapping[str, float]) -> dict[str, float]:
        """Under a budget: the most seconds each stage in ``remaining`` with ``max_steps`` can
        use (``Budget.limits``: its cap at its probed pace, teachers cached if the cache is or
        may be built), so that a capped stage's surplus goes to the others
        (``budget.split_seconds``). A stage whose teachers are still to be cached also gets
        half the cache's estimated build time (the LAN's part: the BNN costs more per pixel).
        Before the cache is decided (the BNN's start) that part is unknown, and the LAN's plan,
        made after the decision, leaves it to the U-Net."""
        if self.budget is None:
            return {}
        decided = self.budget.cache
        cached = self.cache is not None or (
            bool(decided["cache"]) if decided is not None else self.config.cache_teachers
        )
        setup = {}
        if decided is not None and decided["cache"]:
            have = set(self.cache.arrays) if self.cache is not None else set()
            for spec in stage_specs(self.config):
                if spec.name in remaining and set(spec.teachers) - have:
                    setup[spec.name] = 0.5 * float(decided["build_seconds"])
        return self.budget.limits(self.config, remaining, cached, setup)

    def ensure_cache(
        self, teachers: dict[str, nn.Module], remaining: dict[str, float]
    ) -> TeacherCache | None:
        """With ``cache_teachers``: the cache, extended to every teacher in ``teachers``."""
        if not teachers or not self.use_cache(remaining):
            return None
        have = set(self.cache.arrays) if self.cache is not None else set()
        missing = {n: t for n, t in teachers.items() if n not in have}
        if missing:
            built = TeacherCache.build(
                missing,
                self.images,
                transforms=self.config.cache_transforms,
                tile=self.config.patch_size,
                device=self.device,
                autocast=lambda: autocast(self.config, self.device),
                directory=self.run_dir / "teacher_cache",
                held_bytes=self.cache.memory_bytes() if self.cache is not None else 0,
            )
            if self.cache is None:
                self.cache = built
            else:
                self.cache.arrays.update(built.arrays)
            record = {"stage": ",".join(missing), "step": 0}
            self.log.write({**record, "teacher_cache_bytes": self.cache.nbytes()})
        return self.cache


@dataclass
class _StageState:
    """The mutable state of one stage: what a checkpoint stores and a resume restores."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    total: int
    step: int = 0
    best: float = -float("inf")
    allotted: float = 0.0
    used_before: float = 0.0
    cosine: ProgressCosine | None = None
    cap: int = 0  # under a budget: the most steps (max_steps, or a loss plateau's end; 0: none)


def _new_state(
    run: _Run, spec: StageSpec, index: int, student: nn.Module, steps_left: dict[str, float]
) -> _StageState:
    """Optimizer, schedule and data stream of a fresh stage. Under a budget, the stage's steps
    come from its share of the time left and the probe's pace, and the schedule is a
    ``ProgressCosine`` that can be revised; otherwise CosineAnnealingLR over the configured
    steps, as the reference."""
    stage = run.config.stage(spec.name)
    optimizer = torch.optim.Adam(student.parameters(), lr=stage.lr)
    generator = torch.Generator().manual_seed(stage_seed(run.config.seed, index, 1 + run.dist.rank))
    if run.budget is None:
        scheduler: torch.optim.lr_scheduler.LRScheduler = (
            torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=stage.steps, eta_min=0)
        )
        return _StageState(optimizer, scheduler, generator, stage.steps)
    # Later stages' caps free time for this one; its own cap is not applied to its time (it
    # stops at max_steps anyway, and a pace slower than the probe's would otherwise leave it
    # short of its cap): what it leaves unused goes on to the stages after it.
    limits = run.time_limits(steps_left)
    limits.pop(spec.name, None)
    allotted = run.budget.allot(spec.name, steps_left, limits)
    cached = run.cache is not None and all(t in run.cache.arrays for t in spec.teachers)
    total = _rank0(run.dist, stage_steps(allotted, run.budget.pace(spec.name, cached)))
    if stage.max_steps:
        total = min(total, stage.max_steps)
    cosine = ProgressCosine(total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)
    run.budget.stages[spec.name] = {"allotted_seconds": allotted, "planned_steps": total}
    return _StageState(
        optimizer,
        scheduler,
        generator,
        total,
        allotted=allotted,
        cosine=cosine,
        cap=stage.max_steps,
    )


def _restore(state: _StageState, payload: dict[str, Any], student: nn.Module, rank: int) -> None:
    student.load_state_dict(payload["nets"][payload["stage"]])
    state.optimizer.load_state_dict(payload["optimizer"])
    state.scheduler.load_state_dict(payload["scheduler"])
    state.generator.set_state(payload["rng"]["data"][rank])
    state.step, state.best = payload["step"], payload.get("best_psnr", state.best)
    state.total = payload["stage_steps"]
    state.cap = payload.get("stage_cap", state.cap)  # a plateau's end outlives a resume
    if state.cosine is not None:
        state.cosine.total = payload["stage_steps"]
        budget = payload.get("budget", {})
        state.allotted = budget.get("allotted_seconds", state.allotted)
        state.used_before = budget.get("used_seconds", 0.0)
        # LambdaLR restored the ProgressCosine's anchors into the same object


def _save_checkpoint(
    run: _Run,
    spec: StageSpec,
    state: _StageState,
    student: nn.Module,
    teachers: dict[str, nn.Module],
    used: float,
    average: WeightAverage | None = None,
    keep: bool = False,
) -> None:
    """The stage's resumable state (every rank's data stream, the weight average; rank 0
    writes); with ``keep`` also as the snapshot ``<stage>_step<N>.pt`` (``keep_every``)."""
    states: list[Any] = [None] * run.dist.world_size
    if run.dist.enabled:
        torch.distributed.all_gather_object(states, state.generator.get_state())
    else:
        states = [state.generator.get_state()]
    if not run.dist.is_main:
        return
    nets = {name: t.state_dict() for name, t in teachers.items()}
    nets[spec.name] = student.state_dict()
    payload = {
        "format": CHECKPOINT_FORMAT,
        "stage": spec.name,
        "step": state.step,
        "stage_steps": state.total,
        "config": run.config.to_dict(),
        "specs": net_entries(run.config, nets),
        "nets": nets,
        "optimizer": state.optimizer.state_dict(),
        "scheduler": state.scheduler.state_dict(),
        "rng": {"data": states},
        "best_psnr": state.best,
        "stage_cap": state.cap,
    }
    if average is not None:
        payload["weight_average"] = average.state_dict()
    if run.budget is not None:
        payload["budget"] = {"allotted_seconds": state.allotted, "used_seconds": used}
        run.budget.save()
    if keep:  # first: a crash between the two leaves no resumable step without its snapshot
        save_atomic(payload, run.run_dir / "checkpoints" / f"{spec.name}_step{state.step}.pt")
    save_atomic(payload, run.run_dir / "checkpoints" / f"{spec.name}.pt")


def _maybe_validate(run: _Run, spec: StageSpec, state: _StageState, student: nn.Module) -> None:
    """Validation PSNR (with --val) and the stage's best weights."""
    score = _validate(student, spec.name, run.val_pairs, run.device, run.config.patch_size)
    run.log.write({"stage": spec.name, "step": state.step, "val_psnr": score})
    if score > state.best:
        state.best = score
        save_atomic(
            {
                "format": CHECKPOINT_FORMAT,
                "stage": spec.name,
                "step": state.step,
                "config": run.config.to_dict(),
                "specs": net_entries(run.config, [spec.name]),
                "nets": {spec.name: student.state_dict()},
                "val_psnr": score,
            },
            run.run_dir / "checkpoints" / f"{spec.name}_best.pt",
        )


def _rank0(dist: distributed.DistInfo, value: int) -> int:
    """Rank 0's ``value`` on every process: timing-based plans must agree across ranks."""
    if not dist.enabled:
        return value
    box = [value]
    torch.distributed.broadcast_object_list(box, src=0)
    return int(box[0])


def _revise(state: _StageState, used: float, dist: distributed.DistInfo) -> bool:
    """Under a budget: move the stage's end so that it finishes at its deadline (see budget);
    every rank follows rank 0's clock."""
    if state.cosine is None:
        return False
    total = _rank0(dist, revised_total(state.step, used, state.allotted))
    if state.cap:
        total = min(total, max(state.cap, state.step + 1))
    if abs(total - state.total) <= max(1, 0.01 * state.total):
        return False
    state.cosine.revise(state.step, total)
    state.total = state.cosine.total
    return True


def _end_on_plateau(run: _Run, spec: StageSpec, state: _StageState, plateau: LossPlateau) -> None:
    """The loss has flattened: the learning rate decays to 0 over one more window, and the
    stage's unused time goes to the stages after it."""
    assert state.cosine is not None
    end = min(state.total, state.step + plateau.window)
    state.cap = end
    state.cosine.revise(state.step, end)
    state.total = state.cosine.total
    run.log.write({"stage": spec.name, "step": state.step, "loss_plateau": True, "ends_at": end})


def _run_stage(
    run: _Run,
    spec: StageSpec,
    index: int,
    student: nn.Module,
    teachers: dict[str, nn.Module],
    payload: dict[str, Any] | None,
    steps_left: dict[str, float],
) -> nn.Module:
    """Train ``student`` for one stage (from ``payload`` when resuming); returns it frozen."""
    config, dist = run.config, run.dist
    patch_size, batch_size = config.crop(spec.name)
    if batch_size % dist.world_size:
        raise TrainingError(
            f"{spec.name} stage: batch_size {batch_size} does not split over "
            f"{dist.world_size} processes"
        )
    prepare_net(student, config).to(run.device).train()
    for teacher in teachers.values():
        prepare_net(teacher, config).to(run.device).eval().requires_grad_(False)
    cache = run.ensure_cache(teachers, steps_left)
    if spec.needs_posterior:
        assert cache is not None  # TrainConfig requires cache_teachers, use_cache forces it
        if POSTERIOR not in cache.arrays:
            cache.add_posterior(run.images, directory=run.run_dir / "teacher_cache")
    names = spec.teachers + ((POSTERIOR,) if spec.needs_posterior else ())
    state = _new_state(run, spec, index, student, steps_left)
    if payload is not None:
        _restore(state, payload, student, dist.rank)
    stage_config = config.stage(spec.name)
    ema_window = stage_config.ema_window
    average = WeightAverage(student) if ema_window > 0 else None
    plateau = (
        LossPlateau(stage_config.plateau_gain, stage_config.plateau_window)
        if stage_config.plateau_gain > 0 and state.cosine is not None
        else None
    )
    if average is not None and payload is not None and "weight_average" in payload:
        average.load_state_dict(payload["weight_average"])
    start = state.step
    model = distributed.wrap_student(student, dist, run.device)
    sampler = PatchSampler(run.images, patch_size, state.generator, cache, config.cache_augment)
    per_process = batch_size // dist.world_size
    bar = tqdm(
        total=state.total,
        initial=start,
        desc=f"stage {index + 1}/3 {spec.name.upper()}",
        unit="step",
        disable=not (run.progress and dist.is_main),
        dynamic_ncols=True,
    )
    session_start = time.perf_counter()

    def used() -> float:
        return state.used_before + time.perf_counter() - session_start

    postfix: dict[str, str] = {}
    loss_sum, loss_count, window_start = torch.zeros((), device=run.device), 0, time.perf_counter()
    while state.step < state.total:
        state.step += 1
        noisy = prepare_batch(sampler.batch(per_process).to(run.device, non_blocking=True), config)
        targets = None
        if cache is not None:
            cached = {k: v.to(run.device) for k, v in sampler.targets(names).items()}
            targets = with_alpha(spec, cached, config)
        loss_sum += train_step(
            spec, model, noisy, teachers, config, state.optimizer, state.scheduler, targets
        )
        loss_count += 1
        if average is not None:
            average.update(student, ema_decay(state.step, state.total, ema_window))
        bar.update(1)
        last = state.step == state.total
        if state.step % config.log_every == 0 or last:
            if dist.enabled:
                torch.distributed.all_reduce(loss_sum)
                loss_sum /= dist.world_size
            mean_loss = float(loss_sum) / loss_count
            # the error's scale under either distance (l2's loss is its square)
            scale = math.sqrt(mean_loss) if stage_config.distance == "l2" else mean_loss
            _check_loss(mean_loss, spec.name, state.step, scale)
            run.log.write(
                {
                    "stage": spec.name,
                    "step": state.step,
                    "loss": mean_loss,
                    "lr": state.scheduler.get_last_lr()[0],
                    "steps_per_s": loss_count / (time.perf_counter() - window_start),
                }
            )
            postfix["loss"] = f"{mean_loss:.3f}"
            if plateau is not None and not last and plateau.add(state.step, scale):
                _end_on_plateau(run, spec, state, plateau)
                plateau = None
                bar.total = state.total
            if run.budget is not None:
                if not last and _revise(state, used(), dist):
                    bar.total = state.total
                postfix["left"] = format_seconds(run.budget.left())
            bar.set_postfix(postfix)
            loss_sum.zero_()
            loss_count, window_start = 0, time.perf_counter()
        last = state.step == state.total
        if last and average is not None:  # the stage's result (validated and saved below)
            average.copy_to(student)
        if run.val_pairs and dist.is_main and (state.step % config.val_every == 0 or last):
            _maybe_validate(run, spec, state, student)
            postfix["val_psnr"] = f"{state.best:.2f}"
            bar.set_postfix(postfix)
        keep = config.keep_every > 0 and state.step % config.keep_every == 0
        if state.step % config.checkpoint_every == 0 or last or keep:
            _check_loss(float(loss_sum), spec.name, state.step)  # never save diverged weights
            _save_checkpoint(run, spec, state, student, teachers, used(), average, keep)
    bar.close()
    if state.step > start:
        record = {
            "stage": spec.name,
            "step": state.step,
            "stage_seconds": time.perf_counter() - session_start,
            "steps_run": state.step - start,
        }
        run.log.write(record)
    if run.budget is not None:
        run.budget.stages.setdefault(spec.name, {}).update(
            {"steps": state.step, "used_seconds": used()}
        )
        if dist.is_main:
            run.budget.save()
    distributed.barrier(dist)
    return student.eval()


def _image_names(paths: Sequence[Path]) -> list[str]:
    """The training photos' file names, sorted: what a resumed run is compared with (names,
    not paths, so the same photos moved to another folder or machine still match)."""
    return sorted(Path(p).name for p in paths)


def _check_resumed_images(run_dir: Path, paths: Sequence[Path]) -> None:
    """Warn when a run resumes on other photos than it began with (``images.json``; runs
    from before it was written are not checked): its stages would mix two data sets."""
    try:
        began = set(json.loads((run_dir / "images.json").read_text())["images"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    now = set(_image_names(paths))
    if now != began:
        warnings.warn(
            f"{run_dir}: resumed on other photos than it began with ({len(now & began)} of "
            f"{len(now)} the same, {len(began - now)} of its {len(began)} missing)",
            stacklevel=3,
        )


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_text(path, to_json(payload, indent=2) + "\n")


def _noise_report(images: list[np.ndarray]) -> dict[str, Any]:
    """What sassid.noise measures on the training images, and the blind size it suggests."""
    try:
        stats = measure_noise(images)
    except ValueError as exc:
        return {"error": str(exc)}
    return {**stats.to_dict(), "auto_blind_size": auto_blind_size(stats.rho)}


def _describe_noise(noise: dict[str, Any], blind_size: int) -> str:
    lags = ", ".join(f"{r:.2f}" for r in noise["rho"])
    return (
        f"noise measured on {noise['patches']} flat patches: std {noise['sigma']:.2f} levels, "
        f"correlation at lags 1-{len(noise['rho'])}: {lags}; blind size {blind_size} "
        f"(covers every lag above {BLIND_THRESHOLD})"
    )


def judge_reliability(
    unet: nn.Module, images: list[np.ndarray], names: list[str], config: TrainConfig
) -> dict[str, Any] | None:
    """The end-of-training check's verdict on ``unet``, from the noisy data alone: central
    crops of up to 16 of ``images`` (named by ``names``) judged pooled and one by one
    (sassid.reliability), as the user gets the model (its output corrections and the
    per-photo guard). ``guard_lowered`` lists the photos on which the guard (sassid.guard)
    lowers the noise gate: there the model is estimated to smooth away more than noise.
    None: no image could be judged."""
    crops = check_crops(images, names=names)
    if not crops:
        return None
    denoiser = Denoiser(
        {"unet": unet},
        net="unet",
        tile=0,
        lowpass_sigma=config.lowpass_sigma,
        noise_gate=config.noise_gate,
    )
    crop_names = {id(crop): name for name, crop in crops.items()}
    lowered: list[str] = []

    def denoise(crop: np.ndarray) -> np.ndarray:
        out = denoiser.pixels(crop)
        if denoiser.last_gate is not None and denoiser.last_gate.changed:
            lowered.append(crop_names[id(crop)])
        return out

    try:
        verdict = assess(denoise, crops)
    except ValueError:
        return None
    return {**verdict.to_dict(), "guard_lowered": lowered}


def check_reliability(
    unet: nn.Module,
    images: list[np.ndarray],
    paths: list[Path],
    run_dir: Path,
    config: TrainConfig,
) -> dict[str, Any] | None:
    """``judge_reliability`` on the training images: write reliability.json, return what it
    holds and warn if the model fails the check; the photos where the guard lowers the gate
    are named in a separate note (the guard's estimate on one crop can be borderline)."""
    payload = judge_reliability(unet, images, [p.name for p in paths], config)
    if payload is None:
        return None
    _write_json(run_dir / "reliability.json", payload)
    for message in payload["warnings"]:
        warnings.warn(f"model may be unreliable on these photos: {message}", stacklevel=2)
    if lowered := payload["guard_lowered"]:
        warnings.warn(
            f"on {len(lowered)} of {len(payload['images'])} checked photos "
            f"({', '.join(lowered[:3])}{', ...' if len(lowered) > 3 else ''}) the model's "
            f"output at noise gate {config.noise_gate:g}x is estimated worse than the noisy "
            "input (it smooths detail away there): `sassid denoise` lowers the gate on such "
            "photos",
            stacklevel=2,
        )
    return payload


def _finished(payload: dict[str, Any] | None) -> bool:
    return payload is not None and payload["step"] >= payload["stage_steps"]


def train(
    sources: Sequence[str | os.PathLike[str]],
    run_dir: str | os.PathLike[str],
    config: TrainConfig | None = None,
    *,
    resume: bool = False,
    device: str = "auto",
    val: str | os.PathLike[str] | None = None,
    progress: bool = True,
    minutes: float | None = None,
) -> Path:
    """Train BNN, LAN and U-Net on the noisy images in ``sources``; return the model file path.

    Clean images are never used for training; ``val`` (a folder of ``<id>_noisy.*`` /
    ``<id>_clean.*`` pairs) only reports validation PSNR and keeps each stage's best weights.
    ``minutes``: a wall-clock budget; the stages' steps are planned from measured speed and the
    configured ``time_share`` (sassid.budget) instead of the configured ``steps``.
    """
    started = time.perf_counter()
    if minutes is not None:
        check_minutes(minutes)  # before the run folder is made
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):  # e.g. a dict: config_from_dict makes one
        raise TypeError(f"config must be a TrainConfig (config_from_dict), got {type(config)}")
    if isinstance(sources, (str, os.PathLike)):  # one folder or file, not its characters
        sources = [sources]
    run_dir = Path(run_dir)
    device_kind = "cuda" if device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    dist = distributed.setup(device_kind)
    lock = contextlib.ExitStack()
    made_here = False
    try:
        torch_device = resolve_device(device, dist.local_rank)
        if dist.is_main:
            made_here = _prepare_run_dir(run_dir, resume, lock)
            if resume:  # before the images are read: a wrong --resume fails at once
                config = _checked_resume(run_dir, config, minutes)
        distributed.barrier(dist)
        if resume and not dist.is_main:
            config = _resumed_config(config, _saved_config(run_dir))
        budget = Budget.open(run_dir, minutes, resume, started) if minutes is not None else None
        images, image_paths = load_noisy_images(sources, config.largest_crop)
        val_pairs = list(iter_pairs(val)) if val is not None else []  # a bad pair fails here
        config = _trusted_precision(config, torch_device, switch=not resume)
        if resume and dist.is_main:
            _check_resumed_images(run_dir, image_paths)
        if not resume:
            config = _bnn_from_init(config, progress and dist.is_main)
            config, noise = _measured_config(config, images)
            config = _planned_bnn_width(config, images, torch_device, dist, budget, progress)
            _check_inits(config)
            if dist.is_main:
                _write_json(run_dir / "images.json", {"images": _image_names(image_paths)})
                _write_json(run_dir / "config.json", config.to_dict())
                _write_json(run_dir / "noise.json", noise)
                measured = config.bnn.auto_blind_size and config.bnn.init is None
                if progress and measured and "rho" in noise:
                    print(_describe_noise(noise, config.bnn.blind_size), flush=True)
        run = _Run(
            config,
            run_dir,
            torch_device,
            dist,
            MetricsLog(run_dir, dist.is_main),
            images,
            val_pairs,
            progress,
            budget,
        )
        payloads: dict[str, Any] = {}
        for name in STAGES:
            checkpoint = run_dir / "checkpoints" / f"{name}.pt"
            payloads[name] = (
                load_stage_checkpoint(checkpoint, name) if resume and checkpoint.exists() else None
            )
        run.log.trim({n: p["step"] for n, p in payloads.items() if p is not None})
        to_run = [n for n in STAGES if not config.stage(n).skip and not _finished(payloads[n])]
        if budget is not None and not budget.seconds_per_step and to_run:
            budget.seconds_per_step = probe(config, images, torch_device, to_run)
            if dist.is_main:
                budget.save()
        nets: dict[str, nn.Module] = {}
        kwargs = {name: config.stage(name).net_kwargs() for name in STAGES}
        for index, spec in enumerate(stage_specs(config)):
            stage = config.stage(spec.name)
            payload = payloads[spec.name]
            torch.manual_seed(stage_seed(config.seed, index, 0))
            net = build_net(stage.arch, kwargs[spec.name])
            if _finished(payload):
                assert payload is not None
                net.load_state_dict(payload["nets"][spec.name])
                nets[spec.name] = net.eval()
                continue
            if stage.init is not None and payload is None:
                load_weights_into(net, spec.name, stage.init)
            if stage.skip:
                nets[spec.name] = net.eval()
                continue
            teachers = {name: nets[name] for name in spec.teachers}
            later = to_run[to_run.index(spec.name) :]
            shares = {n: config.stage(n).time_share for n in later}
            nets[spec.name] = _run_stage(run, spec, index, net, teachers, payload, shares)
        run.log.close()
        model_path = run_dir / "model.pt"
        if dist.is_main:
            cpu_nets = {name: memory_format(net, False).cpu() for name, net in nets.items()}
            save_model(model_path, cpu_nets, kwargs, config.to_dict())
            if "unet" in cpu_nets:
                check_reliability(cpu_nets["unet"], images, image_paths, run_dir, config)
            if budget is not None:
                budget.save()
        # Every rank leaves together (success path only: after an error a barrier could wait
        # for a rank that never comes). Without it rank 1 tears its gloo group down while rank 0
        # still writes and checks the model; twice on 2026-11-30 (once in CI's two-process
        # test) rank 1 then aborted ("terminate called without an active exception"). Not
        # reproduced in 60 runs without it since, so this is the usual remedy, not a proof.
        distributed.barrier(dist)
        return model_path
    finally:
        if made_here and not (run_dir / "config.json").exists():
            # failed before it began (no usable image, a bad option): leave no empty run folder
            # (.lock, checkpoints/) under the name the user retries with; removed while this
            # call still holds the lock, so no other run can be working in it
            shutil.rmtree(run_dir, ignore_errors=True)
        lock.close()
        distributed.teardown(dist)
