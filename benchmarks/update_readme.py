"""Splice generated results into README.md between ``<!-- NAME:start -->`` / ``<!-- NAME:end -->``.

    python benchmarks/update_readme.py

demo: the table of docs/demo/report.md (written by `sassid demo -o docs/demo`);
speed, speed_cuda, training_cuda, synth, tiling_*, real_photos_*, levers, bnn_crop,
bnn_length, unet_length_*, faults: the tables of the results/*.md files (faults: its summary).
Missing sources are left as they are.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _table_and_notes(markdown: str) -> str:
    """The report without its title line, its sections demoted below the README's own."""
    lines = [line for line in markdown.splitlines() if not line.startswith("# ")]
    return "\n".join("##" + line if line.startswith("## ") else line for line in lines).strip()


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    sources = {
        "demo": ROOT / "docs" / "demo" / "report.md",
        "speed": ROOT / "results" / "speed_cpu.md",
        "synth": ROOT / "results" / "synth_correlation.md",
        "tiling_sidd": ROOT / "results" / "tiling_error_sidd_samples.md",
        "tiling_polyu": ROOT / "results" / "tiling_error_polyu100.md",
        "real_sidd": ROOT / "results" / "real_photos_sidd_samples.md",
        "real_polyu": ROOT / "results" / "real_photos_polyu100.md",
        "levers": ROOT / "results" / "levers.md",
        "bnn_crop": ROOT / "results" / "bnn_crop.md",
        "bnn_length": ROOT / "results" / "bnn_length.md",
        "unet_length_sidd_64": ROOT / "results" / "unet_length_sidd_samples_64.md",
        "unet_length_sidd_128": ROOT / "results" / "unet_length_sidd_samples_128.md",
        "unet_length_polyu": ROOT / "results" / "unet_length_polyu100.md",
        "speed_cuda": ROOT / "results" / "speed_cuda.md",
        "training_cuda": ROOT / "results" / "speed_training_cuda_paper.md",
        "faults": ROOT / "results" / "faults.md",
    }
    for name, path in sources.items():
        if not path.exists():
            continue
        body = _table_and_notes(path.read_text())
        if name == "demo":
            body = body.replace("](comparison.png)", "](docs/demo/comparison.png)")
        if name == "faults":  # the summary; the per-case table stays in results/faults.md
            body = body.split("## Cases")[0].strip()
        if name.startswith("real"):
            body = body.replace("](real_photos_", "](results/real_photos_")
        text = splice(text, name, body)
    readme.write_text(text)


def splice(text: str, name: str, body: str) -> str:
    """``text`` with whatever lies between NAME's start and end markers (possibly nothing)
    replaced by ``body``."""
    pattern = re.compile(rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.S)
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


if __name__ == "__main__":
    main()
