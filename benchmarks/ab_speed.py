"""A/B speed of two source trees of sassid, interleaved in one run (this machine drifts).

    python benchmarks/ab_speed.py --a OLD_TREE/src --b src [--rounds 2]

Each round runs, in a fresh subprocess per tree (A, then B): a ``quick``-preset training of 30
steps per stage on fabricated 128 x 128 noisy images (steps/s of each stage, from its
metrics.jsonl), and ``Denoiser.from_model`` on the resulting model for one 512 x 512 photo
(U-Net MP/s, best of 3). Prints the medians and the B/A ratios; writes nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

PROBE = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from PIL import Image
work = Path(sys.argv[1])
(work / "noisy").mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for i in range(4):
    img = np.clip(rng.normal(128, 30, (128, 128, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(work / "noisy" / f"{i}.png")
from sassid.config import load_config, with_steps
from sassid.train import train
config = with_steps(load_config(preset_name="quick"), 30)
train([work / "noisy"], work / "run", config, device="cpu", progress=False)
records = [json.loads(l) for l in (work / "run" / "metrics.jsonl").read_text().splitlines()]
steps = {r["stage"]: r["steps_run"] / r["stage_seconds"] for r in records if "stage_seconds" in r}
from sassid.inference import Denoiser
d = Denoiser.from_model(work / "run", net="unet", device="cpu")
photo = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
best = float("inf")
for _ in range(3):
    t = time.perf_counter(); d.pixels(photo); best = min(best, time.perf_counter() - t)
result = {f"{k}_steps_per_s": v for k, v in steps.items()}
print(json.dumps({**result, "unet_512_mp_per_s": 0.262144 / best}))
"""


def probe(src: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as work:
        out = subprocess.run(
            [sys.executable, "-c", PROBE, work],
            env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", required=True, help="baseline tree's src folder")
    parser.add_argument("--b", required=True, help="changed tree's src folder")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
    for _ in range(args.rounds):
        for key in ("a", "b"):
            runs[key].append(probe(getattr(args, key)))
            print(key, runs[key][-1], flush=True)
    print(f"\n| measure | A ({args.a}) | B ({args.b}) | B/A |\n|---|---|---|---|")
    for measure in runs["a"][0]:
        a = statistics.median(r[measure] for r in runs["a"])
        b = statistics.median(r[measure] for r in runs["b"])
        print(f"| {measure} | {a:.3f} | {b:.3f} | {b / a:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
