"""How short can int8's setup be? Calibration sizes against setup seconds and PSNR cost.

    python benchmarks/int8_setup.py -m RUN [--arms 16/16 4/16 4/8] [--polyu-images 12]

`--precision int8` pays a setup on every call before the first photo: read calibration crops
from the photos, measure the U-Net's channel ranges with an fp32 forward over the first E crops
(`sassid.backends.equalize`), export, then let onnxruntime's min-max calibrator run the graph
over all C crops (`sassid.backends.quantize`), then open the session. Each arm E/C is built
with `sassid.backends.onnx_backend.int8_model` (the shipped recipe) and scored against the same
U-Net in fp32 on `sidd_samples` and `polyu100`, each calibrated on its own noisy photos: PSNR
(uint8, mean per image) change against fp32, and setup seconds split into reading the crops,
the equalization's range pass (timed alone on the same crops), the rest of the build (export
and quantization) and opening the session. Writes results/int8_setup.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import DATA, provenance, stamp, write_results  # noqa: E402
from sassid.backends.equalize import equalize_unet  # noqa: E402
from sassid.backends.onnx_backend import OnnxForward, int8_model  # noqa: E402
from sassid.backends.onnx_graph import pad_rule  # noqa: E402
from sassid.backends.quantize import CALIBRATION_SIZE, calibration_crops  # noqa: E402
from sassid.inference import Denoiser, default_overlap  # noqa: E402
from sassid.io import find_pairs, read_image  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.models import read_model  # noqa: E402

SETS = ("sidd_samples", "polyu100")


def _arm(text: str) -> tuple[int, int]:
    equalize, calibrate = (int(v) for v in text.split("/"))
    return equalize, calibrate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument(
        "--arms",
        nargs="+",
        default=["16/16", "8/16", "4/16", "4/8", "2/8", "4/4"],
        help="EQUALIZE/CALIBRATION crop counts of each arm",
    )
    parser.add_argument("--sidd-images", type=int, default=13, help="sidd_samples pairs scored")
    parser.add_argument("--polyu-images", type=int, default=12, help="polyu100 pairs scored")
    args = parser.parse_args()
    if not all((DATA / s).exists() for s in SETS):
        print(f"skipped: {DATA} lacks {' or '.join(SETS)}")
        return 0
    started = time.perf_counter()
    unet = read_model(args.model).networks(("unet",))["unet"].eval()
    results: dict[str, Any] = {}
    for name in SETS:
        found = find_pairs(DATA / name)
        paths = [noisy for _, noisy, _ in found]
        count = args.polyu_images if name == "polyu100" else args.sidd_images
        pairs = [(read_image(n).pixels, read_image(c).pixels) for _, n, c in found[:count]]
        reference = Denoiser({"unet": unet}, tile=512, overlap=default_overlap(512, "unet"))
        fp32_db = float(np.mean([psnr(reference.pixels(n), c) for n, c in pairs]))
        rows: dict[str, Any] = {}
        for text in args.arms:
            equalize, calibrate = _arm(text)
            t0 = time.perf_counter()
            crops = calibration_crops(paths, count=calibrate)
            t1 = time.perf_counter()
            model = int8_model(unet, crops, equalize_crops=equalize)
            t2 = time.perf_counter()
            forward = OnnxForward(model, pad_rule(unet))
            t3 = time.perf_counter()
            equalize_unet(unet, crops[:equalize])
            range_pass = time.perf_counter() - t3
            denoiser = Denoiser(
                {"unet": unet}, forward=forward, tile=512, overlap=default_overlap(512, "unet")
            )
            db = float(np.mean([psnr(denoiser.pixels(n), c) for n, c in pairs]))
            rows[text] = {
                "equalize_crops": equalize,
                "calibration_crops": calibrate,
                "delta_db": db - fp32_db,
                "read_s": t1 - t0,
                "range_pass_s": range_pass,
                "build_s": t2 - t1,
                "session_s": t3 - t2,
                "setup_s": t3 - t0,
            }
            print(name, text, rows[text], flush=True)
        results[name] = {"images": len(pairs), "fp32_db": fp32_db, "rows": rows}
    payload = {
        "meta": provenance(),
        "model": args.model,
        "crop_size": CALIBRATION_SIZE,
        "sets": results,
        "total_seconds": time.perf_counter() - started,
    }
    write_results("int8_setup", payload, _markdown(payload))
    print(_markdown(payload))
    return 0


def _markdown(payload: dict[str, Any]) -> str:
    meta = payload["meta"]
    sets = payload["sets"]
    lines = [
        "# int8 setup: calibration crops against setup time and PSNR cost",
        "",
        stamp(meta) + f" Model `{payload['model']}`.",
        "",
        f"Arm E/C: the equalization's channel ranges from the first E calibration crops, "
        f"onnxruntime's min-max calibration on all C ({payload['crop_size']}² crops of the set's "
        "own noisy photos). Δ dB: int8 against the same U-Net in fp32 ("
        + ", ".join(
            f"{name} {r['images']} images, fp32 {r['fp32_db']:.2f} dB" for name, r in sets.items()
        )
        + "). Setup: reading crops + building (range pass, export, quantization) + opening the "
        "session; the range pass is also timed alone. Times from the polyu100 build.",
        "",
        "| E/C | " + " | ".join(f"{name} Δ dB" for name in sets) + " | setup (s) | read | range "
        "pass | export + quantize | session |",
        "|---|" + "---|" * len(sets) + "---|---|---|---|---|",
    ]
    last = list(sets.values())[-1]["rows"]
    for text, row in last.items():
        deltas = " | ".join(f"{r['rows'][text]['delta_db']:+.3f}" for r in sets.values())
        lines.append(
            f"| {text} | {deltas} | {row['setup_s']:.1f} | {row['read_s']:.1f} | "
            f"{row['range_pass_s']:.1f} | {row['build_s'] - row['range_pass_s']:.1f} | "
            f"{row['session_s']:.1f} |"
        )
    lines += ["", f"Total time {payload['total_seconds'] / 60:.1f} min.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
