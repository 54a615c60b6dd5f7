"""The training story of a run directory: per-stage loss and validation curves, stage times,
the configuration, read from ``metrics.jsonl`` and ``config.json`` as ``sassid train`` writes
them (see ``sassid.train``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sassid.config import STAGES

__all__ = ["StageStory", "TrainingStory", "read_story"]


@dataclass
class StageStory:
    """One stage's curves (step -> value; the last record of a step wins after a resume)."""

    name: str
    loss: dict[int, float] = field(default_factory=dict)
    val_psnr: dict[int, float] = field(default_factory=dict)
    steps_per_s: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps_run: int = 0
    last_step: int = 0


@dataclass
class TrainingStory:
    run_dir: Path | None
    stages: list[StageStory] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.stages)


def _records(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # not UTF-8, unreadable: the story goes without it
        notes.append(f"{path}: unreadable ({type(exc).__name__}), training curves unavailable")
        return records
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            notes.append(f"{path.name} line {number}: not JSON, skipped")
            continue
        if not (isinstance(record, dict) and isinstance(record.get("stage"), str)):
            continue
        numbers = [record.get(key, 0) for key in ("step", "steps_run")]
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            notes.append(f"{path.name} line {number}: step is not a whole number, skipped")
            continue
        records.append(record)
    return records


def read_story(model_path: Path, payload_config: dict[str, Any] | None = None) -> TrainingStory:
    """The story of the run that wrote ``model_path`` (its folder holds ``metrics.jsonl``).

    A model without a run directory beside it (e.g. reference weights) gets an empty story with
    a note; ``payload_config`` (the model file's own config) is used where ``config.json`` is
    missing.
    """
    run_dir = model_path if model_path.is_dir() else model_path.parent
    metrics = run_dir / "metrics.jsonl"
    story = TrainingStory(run_dir=run_dir if metrics.exists() else None)
    config_file = run_dir / "config.json"
    if config_file.exists():
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            config = None
        if isinstance(config, dict):
            story.config = config
        else:
            story.notes.append(f"{config_file}: not a JSON object, configuration unavailable")
    if not story.config and payload_config:
        story.config = dict(payload_config)
    if not metrics.exists():
        story.notes.append(f"no metrics.jsonl in {run_dir}: training curves unavailable")
        return story
    by_name: dict[str, StageStory] = {}
    for r in _records(metrics, story.notes):
        stage = by_name.setdefault(r["stage"], StageStory(r["stage"]))
        step = int(r.get("step", 0))
        stage.last_step = max(stage.last_step, step)
        if isinstance(r.get("loss"), (int, float)):
            stage.loss[step] = float(r["loss"])
        if isinstance(r.get("val_psnr"), (int, float)):
            stage.val_psnr[step] = float(r["val_psnr"])
        if isinstance(r.get("steps_per_s"), (int, float)):
            stage.steps_per_s.append(float(r["steps_per_s"]))
        if isinstance(r.get("stage_seconds"), (int, float)):  # one per (resumed) segment
            stage.seconds += float(r["stage_seconds"])
            stage.steps_run += int(r.get("steps_run", 0))
    order = {name: i for i, name in enumerate(STAGES)}
    story.stages = sorted(by_name.values(), key=lambda s: order.get(s.name, len(order)))
    return story
