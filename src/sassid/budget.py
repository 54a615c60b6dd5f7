"""Time budgets for ``sassid train --minutes M``: plan each stage's steps from measured speed.

1. A probe times a few training steps of every stage on throwaway networks of the configured
   sizes (teachers included, unless they are cached), giving seconds per step. Building a
   teacher cache is counted in the stage that builds it: the stage's time is allotted after.
2. At the start of each stage, the time still left (minus a small reserve for writing the model
   and checking it) is split over the stages not yet run by their ``time_share``; a later stage
   capped by ``max_steps`` is counted at no more than its cap needs at its pace, the rest going
   to the others by their shares (``split_seconds``). The stage gets ``steps = its seconds /
   its seconds per step`` and a cosine schedule planned for those steps.
3. A teacher cache (``cache_teachers``) is built only where it pays within the budget
   (``cache_decision``): on many images and a short budget, running the teachers once over
   every image costs more than running them on the crops the budget has time for.
4. While the stage runs, its own measured pace (validation and checkpoints included) revises the
   step count at every log point so the stage ends at its deadline. The learning-rate curve stays
   continuous through a revision (``ProgressCosine``), so the run ends on time whatever the
   machine's load does.

The plan and the time spent are kept in ``RUN_DIR/budget.json`` and in the stage checkpoints, so
``--resume`` continues inside the same budget.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from sassid.config import TrainConfig

__all__ = [
    "RESERVE_FRACTION",
    "CAP_SLACK",
    "CAP_SETUP_SECONDS",
    "ProgressCosine",
    "Budget",
    "split_seconds",
    "stage_steps",
    "revised_total",
    "format_seconds",
    "describe_budget",
    "cache_decision",
    "check_minutes",
    "read_budget",
    "MAX_MINUTES",
]

RESERVE_FRACTION = 0.03
"""Share of the budget kept for writing the model file and the reliability check."""

CAP_SLACK = 1.15
"""Factor on a capped stage's ``max_steps`` at the probed pace, when the stages before it are
planned: the time kept for it (checkpoints, a pace slower than the probe's)."""
CAP_SETUP_SECONDS = 2.0
"""Seconds kept for a capped stage besides its steps (its setup, the first step's warm-up)."""

BUDGET_FILE = "budget.json"
PER_CROP = "_per_crop"
TILE_OVERLAP_FACTOR = 16 / 9
"""Pixels a tiled pass computes per image pixel: tiles of p overlapping by p/4 step 3p/4."""


def split_seconds(
    seconds: float, shares: Mapping[str, float], limits: Mapping[str, float] | None = None
) -> dict[str, float]:
    """``seconds`` split in proportion to ``shares``: s_i = seconds * w_i / sum(w).

    ``limits``: the most seconds a stage can use (its ``max_steps`` at its pace). A stage whose
    share would pass its limit gets the limit, and the rest is split again over the others by
    their shares (water-filling), so a capped stage's surplus is not left unused. If every
    stage is capped, the time beyond their limits stays unallotted.
    """
    if sum(shares.values()) <= 0:
        raise ValueError("shares must sum to a positive number")
    left, open_shares = max(seconds, 0.0), dict(shares)
    fixed: dict[str, float] = {}
    limits = limits or {}
    while open_shares:
        total = sum(open_shares.values())
        split = {n: left * w / total if total > 0 else 0.0 for n, w in open_shares.items()}
        over = {n for n, s in split.items() if n in limits and s > limits[n]}
        if not over:
            fixed.update(split)
            break
        for name in over:
            fixed[name] = limits[name]
            left -= limits[name]
            del open_shares[name]
    return {name: fixed[name] for name in shares}


def stage_steps(seconds: float, seconds_per_step: float) -> int:
    """Whole steps that fit in ``seconds`` at the measured pace; at least one."""
    return max(1, int(seconds / seconds_per_step))


def revised_total(step: int, used: float, allotted: float) -> int:
    """The stage length that ends at its deadline: ``step`` steps took ``used`` seconds, so
    ``(allotted - used) / (used / step)`` more fit; never fewer than ``step + 1``."""
    pace = used / max(step, 1)
    more = int(max(allotted - used, 0.0) / pace) if pace > 0 else 1
    return step + max(more, 1)


def format_seconds(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


MAX_MINUTES = 1e6
"""The longest budget ``--minutes`` takes (about two years): far beyond any run, and small
enough that its seconds stay finite arithmetic."""


def check_minutes(minutes: float) -> None:
    """A time budget must be a finite number of minutes above zero, at most ``MAX_MINUTES``
    (one-line error)."""
    import math

    from sassid.errors import TrainingError

    if not (math.isfinite(minutes) and 0 < minutes <= MAX_MINUTES):
        raise TrainingError(
            f"--minutes must be a finite number > 0 and at most {MAX_MINUTES:g}, got {minutes}"
        )


def read_budget(run_dir: Path) -> dict[str, Any] | None:
    """The time budget a run recorded (``budget.json``: its minutes, time spent, probed paces
    and stage plans), None if it has none; a damaged file is a one-line TrainingError."""
    from sassid.errors import TrainingError

    path = run_dir / BUDGET_FILE
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        return {
            **saved,
            "minutes": float(saved["minutes"]),
            "spent_seconds": float(saved["spent_seconds"]),
            "probe_seconds_per_step": dict(saved["probe_seconds_per_step"]),
            "stages": dict(saved["stages"]),
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TrainingError(
            f"{path}: unreadable or damaged ({type(exc).__name__}: {exc}); it records the "
            "run's time budget"
        ) from None


def describe_budget(saved: Mapping[str, Any], caps: Mapping[str, int]) -> str:
    """One line on how a budgeted run spent its time (``read_budget``'s dict): minutes used of
    the budget, each stage's steps, and which stages stopped at their ``max_steps`` (``caps``:
    each stage's, 0 for none): the stages before a capped one were planned with the time
    beyond its cap, so a run ends early only by what a capped last stage leaves unused."""
    parts, capped = [], []
    for name, stage in saved["stages"].items():
        if "steps" not in stage:
            continue
        parts.append(f"{name.upper() if name != 'unet' else 'U-Net'} {stage['steps']}")
        if caps.get(name) and stage["steps"] >= caps[name]:
            capped.append(f"{name} max_steps {caps[name]}")
    line = (
        f"trained in {saved['spent_seconds'] / 60:.1f} of {saved['minutes']:g} minutes; "
        f"steps: {', '.join(parts) or 'none (every stage was already done)'}"
    )
    if capped:
        line += f"; stopped at {', '.join(capped)}"
    return line


class ProgressCosine:
    """Learning-rate factor ``0.5 * (1 + cos(pi * p))`` over the stage progress ``p`` in [0, 1].

    ``p`` runs linearly from ``(anchor_step, anchor_progress)`` to ``(total, 1)``; without a
    revision that is ``p = step / total``, CosineAnnealingLR's curve with ``eta_min = 0``.
    ``revise`` moves the end without a jump in the rate. A ``LambdaLR`` stores this object's
    attributes in its state_dict, so a resumed run continues the same curve.
    """

    def __init__(self, total: int) -> None:
        self.total = max(int(total), 1)
        self.anchor_step = 0
        self.anchor_progress = 0.0

    def progress(self, step: int) -> float:
        if step >= self.total:
            return 1.0
        span = self.total - self.anchor_step
        return (
            self.anchor_progress + (1.0 - self.anchor_progress) * (step - self.anchor_step) / span
        )

    def __call__(self, step: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * self.progress(step)))

    def revise(self, step: int, total: int) -> None:
        self.anchor_progress = self.progress(step)
        self.anchor_step = step
        self.total = max(int(total), step + 1)


@dataclass
class LossPlateau:
    """Whether a stage's training loss has stopped falling: its mean over the last ``window``
    steps is less than ``gain`` (a fraction) below its mean over the window that ended
    ``2 * window`` steps earlier. Fed the logged mean losses, ``(step, loss)``.

    The BNN needs it: on strong, spatially correlated noise its loss flattens within ~1500
    steps and training on makes it worse (SIDD: 32.65 dB at 1200 steps, 31.75 at 4800), while
    on mild noise the loss keeps falling and so does the error (PolyU: 32.85 -> 34.79 dB;
    results/bnn_length.md). On the one-hour runs' logs (window 400, gain 0.01) it fires at
    step 1540 of SIDD's 5555 and at 3740 of PolyU's 4016.
    """

    gain: float
    window: int
    records: list[tuple[int, float]] = field(default_factory=list)

    def add(self, step: int, loss: float) -> bool:
        """Record one logged mean loss; True once the loss has flattened. Records older than
        the three windows compared are dropped, so each call costs the same on any length."""
        self.records.append((step, loss))
        self.records = [(s, v) for s, v in self.records if s > step - 3 * self.window]
        if step < 3 * self.window:
            return False
        recent = [v for s, v in self.records if step - self.window < s <= step]
        earlier = [
            v for s, v in self.records if step - 3 * self.window < s <= step - 2 * self.window
        ]
        if not recent or not earlier:
            return False
        return sum(recent) / len(recent) > (1.0 - self.gain) * sum(earlier) / len(earlier)


@dataclass
class Budget:
    """Wall-clock budget of one run, shared by all its sessions (fresh start and resumes)."""

    seconds: float
    run_dir: Path
    spent_before: float = 0.0
    seconds_per_step: dict[str, float] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    cache: dict[str, Any] | None = None
    started: float = field(default_factory=time.perf_counter)

    @classmethod
    def open(cls, run_dir: Path, minutes: float, resume: bool, started: float) -> Budget:
        """A new budget, or on ``resume`` the one in ``budget.json`` (same minutes required);
        this session's clock started at ``started`` (``time.perf_counter``)."""
        from sassid.errors import TrainingError

        check_minutes(minutes)
        saved = read_budget(run_dir) if resume else None
        if saved is None:
            return cls(minutes * 60.0, run_dir, started=started)
        if abs(saved["minutes"] - minutes) > 1e-9:
            raise TrainingError(
                f"{run_dir}: --resume with --minutes {minutes:g}, but the run was planned "
                f"for {saved['minutes']:g}"
            )
        return cls(
            minutes * 60.0,
            run_dir,
            spent_before=saved["spent_seconds"],
            seconds_per_step=saved["probe_seconds_per_step"],
            stages=saved["stages"],
            cache=saved.get("cache"),
            started=started,
        )

    def spent(self) -> float:
        return self.spent_before + time.perf_counter() - self.started

    def left(self) -> float:
        return self.seconds - self.spent()

    def usable(self) -> float:
        """The time left, less the reserve for writing the model and checking it."""
        return self.left() - RESERVE_FRACTION * self.seconds

    def allot(
        self, name: str, remaining: Mapping[str, float], limits: Mapping[str, float] | None = None
    ) -> float:
        """Seconds for stage ``name``: the usable time split over the stages still to run
        (``remaining``: their time shares, ``name`` included; ``limits``: the most seconds a
        capped stage can use, see ``split_seconds``)."""
        return split_seconds(self.usable(), remaining, limits)[name]

    def limits(
        self,
        config: TrainConfig,
        names: Iterable[str],
        cached: bool,
        setup: Mapping[str, float] | None = None,
    ) -> dict[str, float]:
        """Seconds each stage in ``names`` with ``max_steps`` can use: its cap at its probed
        pace (with cached teachers if ``cached``; stages not probed are left out), times
        ``CAP_SLACK`` plus ``CAP_SETUP_SECONDS`` for what the probe does not time (checkpoints,
        the first step's warm-up), plus ``setup`` (seconds known to come first, e.g. building
        the stage's teacher cache). Where those take longer still, the stage ends on time a
        little below its cap."""
        result = {}
        for name in names:
            cap = config.stage(name).max_steps
            if cap and name in self.seconds_per_step:
                steps = CAP_SLACK * cap * self.pace(name, cached)
                result[name] = steps + CAP_SETUP_SECONDS + (setup or {}).get(name, 0.0)
        return result

    def pace(self, name: str, cached: bool) -> float:
        """Probed seconds per step of stage ``name``, with or without cached teachers."""
        if not cached and f"{name}{PER_CROP}" in self.seconds_per_step:
            return self.seconds_per_step[f"{name}{PER_CROP}"]
        return self.seconds_per_step[name]

    def save(self) -> None:
        """Write budget.json atomically (minutes, time spent, probe, per-stage plan)."""
        payload = {
            "minutes": self.seconds / 60.0,
            "spent_seconds": self.spent(),
            "probe_seconds_per_step": self.seconds_per_step,
            "stages": self.stages,
            "cache": self.cache,
        }
        path = self.run_dir / BUDGET_FILE
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n")
        os.replace(tmp, path)


def probe(
    config: TrainConfig,
    images: list[Any],
    device: torch.device,
    names: list[str],
    steps: int = 2,
) -> dict[str, float]:
    """Seconds per training step of each stage in ``names``, after one warm-up step, on
    throwaway networks (random weights cost the same as trained ones). The caller's global
    RNG state is left untouched."""
    from sassid.data import PatchSampler
    from sassid.models import build_stage_net
    from sassid.stages import (
        prepare_batch,
        prepare_net,
        stage_specs,
        teacher_targets,
        time_train_steps,
    )

    specs = {spec.name: spec for spec in stage_specs(config)}
    result: dict[str, float] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        nets = {
            n: prepare_net(build_stage_net(config, n), config).to(device)
            for n in ("bnn", "lan", "unet")
        }
        for name in names:
            spec = specs[name]
            student = nets[name].train()
            teachers = {t: nets[t].eval().requires_grad_(False) for t in spec.teachers}
            optimizer = torch.optim.Adam(student.parameters(), lr=1e-9)
            patch_size, batch_size = config.crop(name)
            sampler = PatchSampler(images, patch_size, torch.Generator().manual_seed(0))
            noisy = prepare_batch(sampler.batch(batch_size).to(device), config)
            args = (spec, student, noisy, teachers, config, optimizer, steps)
            result[name], _ = time_train_steps(*args)
            if config.cache_teachers and spec.teachers:
                result[f"{name}{PER_CROP}"] = result[name]
                targets = teacher_targets(spec, noisy, teachers, config)
                result[name], _ = time_train_steps(*args, targets)
    return result


def cache_decision(
    seconds_per_step: Mapping[str, float],
    stage_seconds: Mapping[str, float],
    config: TrainConfig,
    pixels: int,
) -> dict[str, Any]:
    """Does a teacher cache pay for itself within this budget?

    Per stage with teachers, the probe gives the step time with teachers run per crop (``T``)
    and with given targets (``S``); ``T - S`` is the teachers' share. Building the cache runs
    the BNN and the LAN over ``pixels`` x ``cache_transforms`` x 16/9 (tiles overlapping by a
    quarter) at the per-pixel cost seen in stage 3 (both teachers); it saves, in each stage,
    the fraction ``(T - S) / T`` of its seconds. Build only if the cost is below the saving.
    """
    saved, per_pixel = 0.0, 0.0
    for name, seconds in stage_seconds.items():
        per_crop = seconds_per_step.get(f"{name}{PER_CROP}")
        if per_crop is None:
            continue
        teacher = max(per_crop - seconds_per_step[name], 0.0)
        saved += seconds * teacher / per_crop
        if name == "unet" or per_pixel == 0.0:
            patch_size, batch_size = config.crop(name)
            per_pixel = teacher / (batch_size * patch_size**2)
    build = pixels * config.cache_transforms * TILE_OVERLAP_FACTOR * per_pixel
    return {"cache": build < saved, "build_seconds": build, "saved_seconds": saved}
