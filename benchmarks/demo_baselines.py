"""Classical baselines on the demo's photos: how far is the demo from what BM3D reaches?

    python benchmarks/demo_baselines.py [--iso-like 1000 --demo-run DIR --name STEM]

The demo (`sassid demo`) trains on four scikit-image photos made noisy by `sassid.synth` at
the demo's iso_like, for a few minutes. This scores, on the same photos and noise (the same
seeds), BM3D (`bm3d_rgb`) given the noise std measured against the noise-free render (an
oracle no user has) and given a blind estimate (scikit-image's `estimate_sigma`), beside the
rows of a demo run (default the committed one, docs/demo/demo.json; ``--demo-run`` names the
output folder of ``sassid demo --iso-like N``, to compare at another noise level). PSNR: dB,
uint8, mean per photo. Writes results/demo_baselines.json and .md (``--name``: another stem).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import provenance, scored_photos, stamp, write_results  # noqa: E402
from benchmarks.real_photos import blind_sigma, bm3d_denoise, oracle_sigma  # noqa: E402
from sassid.constants import DEMO_ISO  # noqa: E402
from sassid.metrics import psnr  # noqa: E402

DEMO_RUN = ROOT / "docs" / "demo" / "demo.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iso-like", type=float, default=DEMO_ISO, help="the demo run's noise")
    parser.add_argument(
        "--demo-run", type=Path, default=DEMO_RUN.parent, help="a sassid demo output folder"
    )
    parser.add_argument("--name", default="demo_baselines", help="results file stem")
    args = parser.parse_args()
    demo = json.loads((args.demo_run / DEMO_RUN.name).read_text())
    if (demo.get("iso_like", DEMO_ISO), demo.get("seed", 0)) != (args.iso_like, 0):
        parser.error(f"{args.demo_run} is not a run at iso_like {args.iso_like:g} with seed 0")
    photos = scored_photos("demo", 100, args.iso_like)
    rows: dict[str, Any] = {}
    baselines = {
        "noisy": lambda n, _c: n,
        "BM3D, oracle noise std": lambda n, c: bm3d_denoise(n, oracle_sigma(n, c)),
        "BM3D, blind noise std": lambda n, _c: bm3d_denoise(n, blind_sigma(n)),
    }
    for label, fn in baselines.items():
        start = time.perf_counter()
        rows[label] = {
            "psnr": float(np.mean([psnr(fn(n, c), c) for _, n, c in photos])),
            "seconds": time.perf_counter() - start,
        }
        print(label, rows[label], flush=True)
    payload = {
        "meta": provenance(),
        "photos": [key for key, _, _ in photos],
        "iso_like": args.iso_like,
        "demo_run": str(args.demo_run),
        "rows": rows,
        "demo_rows": {r["label"]: r["psnr"] for r in demo["rows"]},
    }
    write_results(args.name, payload, _markdown(payload))
    print(_markdown(payload))


def _markdown(payload: dict[str, Any]) -> str:
    noisy = payload["rows"]["noisy"]["psnr"]
    lines = [
        "# The demo's photos: classical baselines beside the demo run",
        "",
        stamp(payload["meta"]),
        "",
        f"Photos {', '.join(payload['photos'])} (scikit-image) at iso_like "
        f"{payload['iso_like']:g}, the demo's seeds; PSNR against the noise-free render "
        "(dB, uint8, mean per photo). The last rows are those of the demo run in "
        f"`{payload.get('demo_run', 'docs/demo')}`, trained on these noisy photos alone.",
        "",
        "| output | PSNR (dB) | gain over noisy (dB) | seconds |",
        "|---|---|---|---|",
    ]
    for label, r in payload["rows"].items():
        lines.append(
            f"| {label} | {r['psnr']:.2f} | {r['psnr'] - noisy:+.2f} | {r['seconds']:.0f} |"
        )
    for label, value in payload["demo_rows"].items():
        if label != "noisy input":
            lines.append(f"| demo run: {label} | {value:.2f} | {value - noisy:+.2f} | - |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
