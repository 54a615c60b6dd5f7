"""Noise autocorrelation of sassid.synth against the real sets' measured values.

python benchmarks/synth_correlation.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import DATA, provenance, write_results  # noqa: E402
from sassid.demo import demo_photos  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.synth import add_camera_noise, noise_autocorrelation, render_reference  # noqa: E402


def main() -> None:
    rows = []
    photos = demo_photos()
    for iso, jpeg in [(800, None), (3200, None), (3200, 75), (6400, None), (12800, None)]:
        lags, scores = [], []
        for i, photo in enumerate(photos.values()):
            noisy = add_camera_noise(photo, iso, seed=i, jpeg_quality=jpeg)
            reference = render_reference(photo)
            lags.append(noise_autocorrelation(noisy, reference))
            scores.append(psnr(noisy, reference))
        name = f"sassid.synth iso_like={iso}" + (f", JPEG q={jpeg}" if jpeg else "")
        rows.append(
            {
                "set": name,
                "psnr": float(np.mean(scores)),
                "lags": [float(v) for v in np.mean(lags, axis=0)],
            }
        )
    for folder in ("polyu100", "sidd_samples"):
        manifest = DATA / folder / "manifest.csv"
        if manifest.exists():
            entries = list(csv.DictReader(manifest.open()))
            rows.append(
                {
                    "set": f"real: {folder} (manifest)",
                    "psnr": float(np.mean([float(e["psnr_noisy_db"]) for e in entries])),
                    "lags": [
                        float(np.mean([float(e[f"h_lag{k}"]) for e in entries]))
                        for k in range(1, 5)
                    ],
                }
            )
    meta = provenance()
    lines = [
        "# Noise autocorrelation: synthetic vs real",
        "",
        "Horizontal autocorrelation of noisy - reference at lags 1-4, mean over images. Synthetic: "
        "the four demo photos, scored against the noise-free render of the same pipeline.",
        "",
        "| noise | PSNR (dB) | lag 1 | lag 2 | lag 3 | lag 4 |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['set']} | {r['psnr']:.2f} | " + " | ".join(f"{v:.3f}" for v in r["lags"]) + " |"
        )
    lines += [
        "",
        f"Measured {meta['date']} on {meta['machine']}, commit {meta['commit']}:",
        f"`{meta['command']}`.",
        "",
    ]
    write_results("synth_correlation", {"meta": meta, "rows": rows}, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
