"""The per-photo gate guard (sassid.guard) on real pairs: what it estimates, chooses and costs.

    python benchmarks/guard.py -m RUN --set polyu100|sidd_samples|demo [--images 12]
        [--iso-like N (demo)] [--precision fp32|bf16|int8] [--large] [--name STEM]

For each of the first ``--images`` pairs: PSNR (uint8, dB) of the noisy input, of the U-Net at
the model's own noise gate without the guard, at each lower gate the guard may take
(``sassid.guard.GUARD_FACTORS``), and with the guard (as ``sassid denoise`` runs it); the
guard's choice and its noisy-only estimates (SURE, in dB) of the model's own gate and of the
input beside the true values; the seconds per photo with and without the guard, in the same
run; and the end-of-training check (``sassid.train.check_reliability``) on the set's noisy
photos: which ones it names because the guard lowered their gate. ``--large``: also the
seconds to denoise a 6000 x 4000 photo (the first photo resized) with and without the guard.
Writes results/guard_<set>.json and .md (``--name``: another stem).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import provenance, scored_photos, set_absent, stamp, write_results  # noqa: E402
from sassid.corrections import gate_to_noise  # noqa: E402
from sassid.guard import GUARD_FACTORS, KEEP_INPUT, choose_gate  # noqa: E402
from sassid.inference import Denoiser  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.noise import measure_noise  # noqa: E402
from sassid.pixels import from_pixels, to_pixels  # noqa: E402

SECONDS = ("seconds_unguarded", "seconds_guarded")


def _db(mse: float) -> float:
    return float(10 * np.log10(255.0**2 / max(mse, 1e-6)))


def _time_large(plain: Denoiser, guarded: Denoiser, photo: np.ndarray) -> dict[str, float]:
    """Seconds to denoise ``photo`` resized to 6000 x 4000 px, without and with the guard, and
    of the guard's own work on it (``choose_gate`` alone: noise measurements and probe passes),
    which does not share the whole passes' run-to-run noise."""
    from PIL import Image

    large = np.asarray(Image.fromarray(photo).resize((6000, 4000), Image.BICUBIC))
    seconds = {}
    for name, denoiser in (("unguarded", plain), ("guarded", guarded)):
        started = time.perf_counter()
        denoiser.pixels(large)
        seconds[name] = time.perf_counter() - started
    noisy = to_pixels(large)
    started = time.perf_counter()
    sigma = measure_noise([large]).sigma
    choose_gate(large, noisy, guarded._plain_output, sigma, guarded.noise_gate)
    seconds["guard_alone"] = time.perf_counter() - started
    return seconds


def _calibration(name: str, iso_like: float | None) -> list[torch.Tensor]:
    """int8 calibration crops of the set's noisy photos, as ``sassid denoise`` draws them from
    its inputs (``backends.quantize.calibration_crops``, which reads files)."""
    import tempfile

    from PIL import Image

    from sassid.backends.quantize import calibration_crops

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for ident, noisy, _ in scored_photos(name, 16, iso_like):
            paths.append(Path(folder) / f"{ident}.png")
            Image.fromarray(noisy).save(paths[-1])
        return calibration_crops(paths)


def _check_names(model: str, photos: list[tuple[str, np.ndarray, np.ndarray]]) -> list[str]:
    """The photos the end-of-training check names because the guard lowered their gate (its
    crops of up to 16 of the noisy ``photos``, as training picks them from its own images)."""
    import tempfile
    import warnings

    from sassid.models import read_model
    from sassid.train import check_reliability

    source = read_model(model)
    unet = source.networks(("unet",))["unet"]
    noisy, paths = [n for _, n, _ in photos], [Path(ident) for ident, _, _ in photos]
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdict = check_reliability(unet, noisy, paths, Path(folder), source.config)
    return [] if verdict is None else list(verdict["guard_lowered"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument("--set", required=True)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--iso-like", type=float, help="--set demo: its noise (default the demo's)")
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "bf16", "int8"],
        help="int8: onnxruntime, calibrated on the set's own noisy photos",
    )
    parser.add_argument("--large", action="store_true", help="also time a 24 MP photo")
    parser.add_argument("--name", help="results file stem (default guard_<set>)")
    args = parser.parse_args()
    if set_absent(args.set):
        return 0
    options: dict[str, Any] = dict(net="unet", device="cpu", precision=args.precision)
    if args.precision == "int8":
        options.update(backend="onnxruntime", calibration=_calibration(args.set, args.iso_like))
    guarded = Denoiser.from_model(args.model, **options)
    plain = Denoiser.from_model(args.model, guard=False, **options)
    own = guarded.noise_gate
    if own <= 0:
        print(f"{args.model}: the model has no noise gate, so nothing to guard")
        return 1
    factors = [f for f in GUARD_FACTORS if f < own]
    rows = []
    for ident, noisy, clean in scored_photos(args.set, args.images, args.iso_like):
        started = time.perf_counter()
        unguarded = plain.pixels(noisy)
        plain_s = time.perf_counter() - started
        started = time.perf_counter()
        result = guarded.pixels(noisy)
        guarded_s = time.perf_counter() - started
        choice = guarded.last_gate
        y = to_pixels(noisy)
        out = guarded._plain_output(y)  # what the gate applies to, as the guard sees it
        sigma = measure_noise([noisy]).sigma  # as Denoiser.correct measures it
        lower = {}
        for factor in factors:
            fixed = out.copy()
            gate_to_noise(y, fixed, sigma, factor)
            lower[factor] = psnr(from_pixels(fixed, noisy.dtype.type), clean)
        rows.append(
            {
                "photo": ident,
                "noisy": psnr(noisy, clean),
                "own_gate": psnr(unguarded, clean),
                "lower_gates": {f"{f:g}": db for f, db in lower.items()},
                "guarded": psnr(result, clean),
                "chosen": None if choice is None else choice.factor,
                "estimated_own": None if choice is None else _db(choice.errors[own]),
                "estimated_input": None if choice is None else _db(choice.errors[KEEP_INPUT]),
                "seconds_unguarded": plain_s,
                "seconds_guarded": guarded_s,
            }
        )
        r = rows[-1]
        print(ident, f"{r['noisy']:.2f} {r['own_gate']:.2f} -> {r['guarded']:.2f}", flush=True)
    lowered = _check_names(args.model, scored_photos(args.set, 16, args.iso_like))
    large = None
    if args.large:
        photo = scored_photos(args.set, 1, args.iso_like)[0][1]
        large = _time_large(plain, guarded, photo)
    meta = provenance()
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("noisy", "own_gate", "guarded")}
    below = {k: sum(r[k] < r["noisy"] for r in rows) for k in ("own_gate", "guarded")}
    seconds = {k: float(np.sum([r[k] for r in rows])) for k in SECONDS}
    title = f"# Gate guard: {args.set}" + (
        f" at iso_like {args.iso_like:g}" if args.iso_like else ""
    )
    lines = [
        title,
        "",
        f"{stamp(meta)} Model `{args.model}` (noise gate {own:g}x), U-Net at {args.precision}; "
        f"first {len(rows)} pairs.",
        "",
        f"Mean PSNR: noisy {mean['noisy']:.2f} dB, gate {own:g}x {mean['own_gate']:.2f} dB "
        f"({below['own_gate']} photos below their noisy input), guarded {mean['guarded']:.2f} dB "
        f"({below['guarded']} below). Time for all photos: {seconds['seconds_unguarded']:.1f} s "
        f"without the guard, {seconds['seconds_guarded']:.1f} s with it "
        f"(x{seconds['seconds_guarded'] / max(seconds['seconds_unguarded'], 1e-9):.2f}).",
        "",
        "*Estimated*: the guard's noisy-only estimate (SURE) of the PSNR of the output at the "
        "model's gate and of the noisy input; *chosen*: the gate the guard took (0: the input).",
        "",
        "| photo | noisy | gate "
        + " | gate ".join(f"{f:g}x" for f in (own, *factors))
        + " | guarded | chosen | estimated: own gate | estimated: input |",
        "|---|" + "---|" * (len(factors) + 6),
    ]
    for r in rows:
        est = ["-" if r[k] is None else f"{r[k]:.2f}" for k in ("estimated_own", "estimated_input")]
        lines.append(
            f"| {r['photo']} | {r['noisy']:.2f} | {r['own_gate']:.2f} | "
            + "".join(f"{r['lower_gates'][f'{f:g}']:.2f} | " for f in factors)
            + f"{r['guarded']:.2f} | {'-' if r['chosen'] is None else format(r['chosen'], 'g')} "
            f"| {est[0]} | {est[1]} |"
        )
    lines += [
        "",
        f"End-of-training check on these photos' central crops: the guard lowered the gate on "
        f"{len(lowered)} ({', '.join(lowered) or 'none'}).",
    ]
    if large is not None:
        lines += [
            "",
            f"A 6000 x 4000 photo (the first photo resized): {large['unguarded']:.1f} s without "
            f"the guard, {large['guarded']:.1f} s with it "
            f"(x{large['guarded'] / large['unguarded']:.3f}); the guard's own work on it "
            f"(`choose_gate`) {large['guard_alone']:.1f} s.",
        ]
    text = "\n".join(lines) + "\n"
    payload = {
        "meta": meta,
        "model": args.model,
        "iso_like": args.iso_like,
        "precision": args.precision,
        "rows": rows,
        "check_guard_lowered": lowered,
        "large_seconds": large,
    }
    write_results(args.name or f"guard_{args.set}", payload, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
