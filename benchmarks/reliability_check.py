"""Does the end-of-training check (sassid.reliability) tell good models from bad ones?

    python benchmarks/reliability_check.py --set sidd_samples RUN [RUN ...] [--eval-images 13]

For each trained run (its U-Net, with the output corrections its config names, as
``sassid denoise`` runs it): the check's verdict from the set's noisy images alone (central
crops of up to 16 of them, ``reliability.check_crops``, as training picks them from its own
images), with the colour shift it measures both ways, as the mean of the removed part per
channel (the check until session 9) and as its median (``reliability.grouped_median``), and
each photo judged alone (``reliability.ImageCheck``); then the truth on the first N pairs
against clean: the U-Net's mean PSNR gain over the noisy input, its worst image, which images
it makes worse, and how far its output's mean and median per channel sit from the clean
image's. A check is right when it flags exactly the models that make an image worse or shift
colours visibly. Writes results/reliability_check_<set>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import DATA, RESULTS, provenance, stamp, write_results  # noqa: E402
from sassid.inference import Denoiser  # noqa: E402
from sassid.io import find_pairs, read_image  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.reliability import (  # noqa: E402
    BIAS_LIMIT,
    IMAGE_BIAS_SIGMAS,
    OVER_REMOVAL_LIMIT,
    assess,
    check_crops,
    grouped_median,
    judge_photo,
)


def _shifts(removed: np.ndarray) -> tuple[list[float], list[float]]:
    """Mean and grouped median per channel of (H, W, C) differences in levels."""
    flat = removed.reshape(-1, removed.shape[-1])
    return (
        [float(v) for v in flat.mean(axis=0)],
        [grouped_median(flat[:, c], 1.0) for c in range(flat.shape[1])],
    )


def judge(
    run: str,
    noisy: list[np.ndarray],
    names: list[str],
    pairs: list[tuple[np.ndarray, np.ndarray]],
) -> dict:
    """The check's verdict on ``noisy`` and the truth on ``pairs`` for one run."""
    denoiser = Denoiser.from_model(run, device="cpu", backend="torch", precision="fp32")
    verdict = assess(denoiser.pixels, check_crops(noisy, names=names))
    per_image = [c for c in verdict.images if c.problems]
    pooled = verdict.warnings[:-1] if per_image else list(verdict.warnings)  # per-photo: last
    other = [w for w in pooled if "cast" not in w]
    gains, outs_minus_clean = [], []
    doubtful = []  # what sassid denoise would warn about, photo by photo
    for (y, clean), name in zip(pairs, names, strict=False):
        out = denoiser.pixels(y)
        gains.append(psnr(out, clean) - psnr(y, clean))
        if judge_photo(name, y, out).problems:
            doubtful.append(name)
        outs_minus_clean.append((out.astype(np.float64) - clean).reshape(-1, 3))
    mean_shift, median_shift = _shifts(np.concatenate(outs_minus_clean)[None])
    return {
        "run": run,
        "check_mean_shift": [-b for b in verdict.mean_bias],
        "check_median_shift": [-b for b in verdict.bias],
        "flagged_by_mean": bool(other) or max(abs(b) for b in verdict.mean_bias) > BIAS_LIMIT,
        "flagged_by_median": bool(pooled),
        "flagged_per_image": [c.name for c in per_image],
        "flagged": not verdict.reliable,
        "other_warnings": other,
        "gain_db": float(np.mean(gains)),
        "worst_gain_db": float(np.min(gains)),
        "images_worse": int(sum(g < 0 for g in gains)),
        "worse_names": [n for n, g in zip(names, gains, strict=False) if g < 0],
        "denoise_doubtful": doubtful,
        "true_mean_shift": mean_shift,
        "true_median_shift": median_shift,
    }


def _triple(values: list[float]) -> str:
    return "/".join(f"{v:+.1f}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", required=True, help="a real set under ../shared/data")
    parser.add_argument("runs", nargs="*", help="trained run folders or model files")
    parser.add_argument("--eval-images", type=int, default=12, help="score the first N pairs")
    parser.add_argument(
        "--render",
        action="store_true",
        help="rewrite the table from results/reliability_check_<set>.json (no model is run)",
    )
    args = parser.parse_args()
    folder = DATA / args.set
    if not folder.exists():
        print(f"skipped: {folder} is absent")
        return 0
    found = find_pairs(folder)
    noisy = [read_image(n).pixels for _, n, _ in found]
    names = [n.name for _, n, _ in found]
    pairs = [(read_image(n).pixels, read_image(c).pixels) for _, n, c in found[: args.eval_images]]
    clean_vs_noisy = _shifts(
        np.concatenate([(c.astype(np.float64) - y).reshape(-1, 3) for y, c in pairs])[None]
    )
    checked = len(check_crops(noisy))
    if args.render:  # the table again from the stored rows, without rerunning the models
        stored = json.loads((RESULTS / f"reliability_check_{args.set}.json").read_text())
        meta, rows = stored["meta"], stored["rows"]
    else:
        rows = []
        for run in args.runs:
            rows.append(judge(run, noisy, names, pairs))
            print(rows[-1], flush=True)
        meta = provenance()
    text = render(args.set, meta, rows, clean_vs_noisy, checked, len(noisy), len(pairs))
    write_results(
        f"reliability_check_{args.set}",
        {"meta": meta, "clean_vs_noisy": clean_vs_noisy, "rows": rows},
        text,
    )
    print(text)
    return 0


def _names(names: list[str], of: int) -> str:
    """Up to three photo names, else how many of ``of``."""
    if not names:
        return "-"
    return ", ".join(names) if len(names) <= 3 else f"{len(names)} of {of}"


def render(
    set_name: str,
    meta: dict,
    rows: list[dict[str, Any]],
    clean_vs_noisy: tuple[list[float], list[float]],
    checked: int,
    total: int,
    scored: int,
) -> str:
    """The results table in Markdown."""
    lines = [
        f"# End-of-training check against the truth: {set_name}",
        "",
        stamp(meta),
        "",
        f"Check: central crops of {checked} of the set's {total} noisy "
        f"images, from noisy data alone; a shift over {BIAS_LIMIT:g} levels in a channel is "
        "flagged, measured as the mean of output - input (before) or its median (now). Truth: "
        f"the first {scored} pairs; on them the clean images sit "
        f"{_triple(clean_vs_noisy[0])} levels from the noisy ones in mean and "
        f"{_triple(clean_vs_noisy[1])} in median (R/G/B). Every model runs with its own "
        "output corrections, fp32. Per image (the check now, beside the pooled median): each "
        f"crop alone, flagged when it removes more than {OVER_REMOVAL_LIMIT:g}x its own noise "
        f"std in its flat patches or shifts its median by more than {BIAS_LIMIT:g} levels and "
        f"{IMAGE_BIAS_SIGMAS:g}x that channel's noise std; the verdict is flagged when the "
        "pooled median or any image is. At denoise: each scored photo, whole, judged as "
        "`sassid denoise` judges what it writes (`reliability.judge_photo`).",
        "",
        "| run | check: mean shift | check: median shift | flagged (mean) | flagged (median) "
        "| photos flagged alone | verdict | gain dB | worst image dB | images worse | "
        "warned at denoise | output - clean, mean | output - clean, median |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['run']}` | {_triple(r['check_mean_shift'])} | "
            f"{_triple(r['check_median_shift'])} | {'yes' if r['flagged_by_mean'] else 'no'} | "
            f"{'yes' if r['flagged_by_median'] else 'no'} | "
            f"{_names(r['flagged_per_image'], checked)} | "
            f"{'flagged' if r['flagged'] else 'reliable'} | {r['gain_db']:+.2f} | "
            f"{r['worst_gain_db']:+.2f} | {_names(r['worse_names'], scored)} | "
            f"{_names(r['denoise_doubtful'], scored)} | "
            f"{_triple(r['true_mean_shift'])} | {_triple(r['true_median_shift'])} |"
        )
    others = [f"- `{r['run']}`: {w}" for r in rows for w in r["other_warnings"]]
    if others:
        lines += ["", "Other warnings (flagged either way):", "", *others]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
