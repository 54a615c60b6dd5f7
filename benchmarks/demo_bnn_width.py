"""The demo at the `laptop` BNN's width and at the paper's: does a short budget want the wide BNN?

    python benchmarks/demo_bnn_width.py [--minutes 6] [--work DIR]

Runs `sassid demo`'s training and scoring (`sassid.demo.run_demo`, the `laptop` preset under
the same budget) twice, in this order: with `[bnn] paper_width_from_steps = 0` (the preset's
24/48 channels whatever the plan) and with it at 1 (the paper's 48/96 whatever the plan), so
that the rule `laptop` ships (48/96 from 1200 planned steps) can be checked at the demo's
budget. Each arm's rows (PSNR, dB, uint8, mean per photo, against the noise-free render), BNN
steps and channels. Writes results/demo_bnn_width.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import provenance, stamp, write_results  # noqa: E402
from sassid.config import preset  # noqa: E402
from sassid.constants import DEMO_MINUTES  # noqa: E402
from sassid.demo import run_demo  # noqa: E402

ARMS = {"laptop width (24/48)": 0, "paper width (48/96)": 1}
"""Arm label -> ``[bnn] paper_width_from_steps`` (0: never widen, 1: always)."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=DEMO_MINUTES, help="training budget")
    parser.add_argument("--work", type=Path, default=None, help="keep the demo folders here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="sassid-demo-width-"))
    arms: dict[str, Any] = {}
    for label, rule in ARMS.items():
        config = preset("laptop")
        config = dataclasses.replace(
            config, bnn=dataclasses.replace(config.bnn, paper_width_from_steps=rule)
        )
        out = work / f"rule{rule}"
        result = run_demo(out, config=config, minutes=args.minutes, progress=False)
        recorded = json.loads((out / "run" / "config.json").read_text())["bnn"]
        budget = json.loads((out / "run" / "budget.json").read_text())
        arms[label] = {
            "channels": [recorded["enc_channels"], recorded["dec_channels"]],
            "steps": {k: v["steps"] for k, v in budget["stages"].items()},
            "psnr": {r["row"]: r["psnr"] for r in result.rows},
        }
        print(label, arms[label], flush=True)
    payload = {"meta": provenance(), "minutes": args.minutes, "arms": arms}
    write_results("demo_bnn_width", payload, _markdown(payload))
    return 0


def _markdown(payload: dict[str, Any]) -> str:
    rows = ("noisy", "bnn", "lan", "fusion", "unet")
    lines = [
        "# The demo at the laptop BNN's width and at the paper's",
        "",
        stamp(payload["meta"]),
        "",
        f"`sassid demo`'s photos and noise, `laptop` preset, a {payload['minutes']:g}-minute "
        "budget each; PSNR (dB, uint8, mean of 4 photos) against the noise-free render.",
        "",
        "| arm | BNN channels | steps BNN/LAN/U-Net | " + " | ".join(rows) + " |",
        "|---|---|---|" + "---|" * len(rows),
    ]
    for label, arm in payload["arms"].items():
        steps = "/".join(str(arm["steps"].get(k, "-")) for k in ("bnn", "lan", "unet"))
        scores = " | ".join(f"{arm['psnr'][r]:.2f}" for r in rows)
        lines.append(
            f"| {label} | {arm['channels'][0]}/{arm['channels'][1]} | {steps} | {scores} |"
        )
    (narrow, wide) = payload["arms"].values()
    gain = wide["psnr"]["unet"] - narrow["psnr"]["unet"]
    lines += ["", f"Paper width minus laptop width, U-Net: {gain:+.2f} dB."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
