"""Replay the loss-plateau rule on training logs: where would it have ended each stage?

    python benchmarks/plateau_replay.py RUN [RUN ...] [--stage bnn] [--gain G] [--window W]
        [--name plateau_replay]

Feeds a run's logged mean losses (``metrics.jsonl``) to ``sassid.budget.LossPlateau`` with the
``laptop`` preset's settings (or the ones given) and reports the step at which it fires against
the steps the stage ran, with the stage's mean loss per window and the seconds its steps
took (its own ``stage_seconds`` record: steps only, no teacher cache). It trains nothing: it reads
what earlier runs wrote (the one-hour ``real_photos.py`` runs, for instance), so it shows
whether the rule would have fired, and when, on real training curves. Writes
results/NAME.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import provenance, stamp, write_results  # noqa: E402
from sassid.budget import LossPlateau  # noqa: E402
from sassid.config import preset  # noqa: E402


def losses(run: Path, stage: str) -> list[tuple[int, float]]:
    """The stage's logged (step, mean loss) records, in order."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["loss"]) for r in records if r.get("stage") == stage and "loss" in r]


def stage_seconds(run: Path, stage: str) -> float | None:
    """Seconds the stage's steps took, as its last ``stage_seconds`` record says (None: none)."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    ours = [r for r in records if r.get("stage") == stage]
    times = [r["stage_seconds"] for r in ours if "stage_seconds" in r]
    return times[-1] if times else None


def replay(curve: list[tuple[int, float]], gain: float, window: int) -> int | None:
    """The first logged step at which the rule fires, or None."""
    rule = LossPlateau(gain, window)
    return next((step for step, loss in curve if rule.add(step, loss)), None)


def window_means(curve: list[tuple[int, float]], window: int) -> list[tuple[int, float]]:
    """Mean loss per ``window`` steps, labelled by the window's last step."""
    result = []
    for end in range(window, curve[-1][0] + window, window):
        values = [v for s, v in curve if end - window < s <= end]
        if values:
            result.append((end, sum(values) / len(values)))
    return result


def main() -> None:
    laptop = preset("laptop").bnn
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders holding metrics.jsonl")
    parser.add_argument("--stage", default="bnn")
    parser.add_argument("--gain", type=float, default=laptop.plateau_gain)
    parser.add_argument("--window", type=int, default=laptop.plateau_window)
    parser.add_argument("--name", default="plateau_replay", help="results/NAME.json and .md")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for run in args.runs:
        curve = losses(run, args.stage)
        rows.append(
            {
                "run": str(run),
                "steps": curve[-1][0] if curve else 0,
                "stage_seconds": stage_seconds(run, args.stage),
                "fires_at": replay(curve, args.gain, args.window) if curve else None,
                "window_means": window_means(curve, args.window) if curve else [],
            }
        )
        print(rows[-1]["run"], rows[-1]["steps"], rows[-1]["fires_at"], flush=True)
    meta = provenance()
    payload = {
        "meta": meta,
        "stage": args.stage,
        "gain": args.gain,
        "window": args.window,
        "rows": rows,
    }
    lines = [
        f"# The loss-plateau rule replayed on training logs ({args.stage})",
        "",
        stamp(meta),
        "",
        f"`sassid.budget.LossPlateau(gain={args.gain:g}, window={args.window})` fed each run's "
        f"logged {args.stage.upper()} losses: it fires once the mean loss over the last "
        f"{args.window} steps is less than {args.gain:.0%} below the mean over the window "
        f"ending {2 * args.window} steps earlier (then the rate decays to 0 over one more "
        "window). The runs trained without it.",
        "",
        "| run | steps run | stage seconds | fires at | mean loss per window (end step: loss) |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        means = ", ".join(f"{s}: {v:.2f}" for s, v in row["window_means"])
        fires = row["fires_at"] if row["fires_at"] is not None else "never"
        seconds = f"{row['stage_seconds']:.0f}" if row["stage_seconds"] is not None else "-"
        lines.append(f"| `{row['run']}` | {row['steps']} | {seconds} | {fires} | {means} |")
    write_results(args.name, payload, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
