"""How long to train the BNN: every run of ``bnn_crop.py`` in results/, gathered per set.

    python benchmarks/bnn_length.py

Reads the 64 px x 8 arm of every ``results/bnn_crop*.json`` and ``results/bnn_steps*.json``
(CPU or GPU, any seed): each run's schedule length (its cosine decay ends at its last step), its
final BNN PSNR on tiles of its crop, and its validation curve where recorded. Per set: the mean
final PSNR per schedule length, the spread between seeds at a length (max - min), and the
change from the shortest to the longest schedule. Measures nothing itself: it only gathers what
the runs wrote, so every number traces to the run's own file. Writes results/bnn_length.*.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bnn_crop import run_overrides  # noqa: E402
from benchmarks.common import RESULTS, write_results  # noqa: E402

ARM = "64x8"


def gather(results: Path = RESULTS) -> dict[str, list[dict[str, Any]]]:
    """Per set: one record per run file holding the ``ARM`` arm, sorted by steps then file."""
    runs: dict[str, list[dict[str, Any]]] = {}
    files = sorted([*results.glob("bnn_crop*.json"), *results.glob("bnn_steps*.json")])
    for path in files:
        payload = json.loads(path.read_text())
        if payload.get("ema_window") or run_overrides(payload):
            continue  # another lever (weight averaging, a changed blind size or rate)
        device = (payload["meta"].get("cuda") or "CPU") if "meta" in payload else "CPU"
        for name, result in payload["sets"].items():
            row = result["rows"].get(ARM)
            if row is None:
                continue
            runs.setdefault(name, []).append(
                {
                    "file": path.name,
                    "device": device,
                    "seed": payload.get("seed", 0),
                    "steps": payload["steps"],
                    "images": result["images"],
                    "noisy": result["noisy"],
                    "final": row["bnn_tile_crop"],
                    "curve": row.get("curve") or [],
                }
            )
    for records in runs.values():
        records.sort(key=lambda r: (r["steps"], r["file"]))
    return runs


def summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and seed spread of the final PSNR per schedule length; longest minus shortest."""
    by_steps: dict[int, list[float]] = {}
    for r in records:
        by_steps.setdefault(r["steps"], []).append(r["final"])
    lengths = sorted(by_steps)
    per = {
        s: {
            "mean": float(np.mean(v)),
            "spread": float(max(v) - min(v)),
            "runs": len(v),
        }
        for s, v in by_steps.items()
    }
    change = per[lengths[-1]]["mean"] - per[lengths[0]]["mean"] if len(lengths) > 1 else None
    return {"per_steps": per, "shortest": lengths[0], "longest": lengths[-1], "change": change}


def markdown(runs: dict[str, list[dict[str, Any]]], summaries: dict[str, Any]) -> str:
    lines = [
        "# How long to train the BNN",
        "",
        "Gathered by `python benchmarks/bnn_length.py` from the `bnn_crop.py` runs in results/ "
        f"(the {ARM} arm: the `laptop` preset's BNN, bf16, blind size measured); each file "
        "names its own date, machine and command. Final: the BNN's PSNR (dB, uint8, mean per "
        "image) on tiles of its 64 px crop at the end of its own schedule (the learning rate's "
        "cosine decay ends at its last step). Curve: the same score during a longer run, at "
        "full learning rate until its decay.",
    ]
    for name, records in runs.items():
        s = summaries[name]
        lines += [
            "",
            f"## {name}",
            "",
            "| file | device | seed | steps | scored images (noisy dB) | final dB | curve "
            "(step: dB) |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in records:
            curve = ", ".join(f"{step}: {db:.2f}" for step, db in r["curve"]) or "-"
            lines.append(
                f"| {r['file']} | {r['device']} | {r['seed']} | {r['steps']} | "
                f"{r['images']} ({r['noisy']:.2f}) | {r['final']:.2f} | {curve} |"
            )
        per = ", ".join(
            f"{steps} steps {v['mean']:.2f} dB ({v['runs']} run{'s' if v['runs'] > 1 else ''}"
            + (f", seed spread {v['spread']:.2f}" if v["runs"] > 1 else "")
            + ")"
            for steps, v in sorted(s["per_steps"].items())
        )
        lines += ["", f"Mean final PSNR: {per}."]
        if s["change"] is not None:
            lines.append(
                f"From {s['shortest']} to {s['longest']} steps: {s['change']:+.2f} dB "
                f"({'longer is better' if s['change'] > 0 else 'longer is worse'} on this set)."
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    runs = gather()
    summaries = {name: summary(records) for name, records in runs.items()}
    payload = {"runs": runs, "summaries": summaries}
    text = markdown(runs, summaries)
    write_results("bnn_length", payload, text)
    print(text)


if __name__ == "__main__":
    main()
