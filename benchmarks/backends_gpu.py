"""U-Net inference on a CUDA GPU per precision, eager and under torch.compile, one run.

Run through ``benchmarks/speed.py --device cuda --model RUN`` (one prepared run on a lent GPU:
``results/speed_cuda.md``). Per case: megapixels/s at 256² and 512² (whole image), at 2048²
tiled as ``sassid denoise`` tiles (its default tiles, recorded in the result) and whole; a
24 MP photo (6000 x 4000, uint8 in and out: the full pixel path of ``Denoiser.pixels``, host
conversions included) tiled and, for the eager cases, whole; the GPU's peak allocated memory
for that photo; the first call's seconds (compilation, for the compiled cases); and PSNR
against clean and against the baseline's output on ``sidd_samples`` with a trained model. The
baseline is the reference-equivalent forward: the network's own fp32 NCHW eager module with
TF32 off (PyTorch lets cuDNN use TF32 for convolutions by default, which the ``tf32`` case
measures).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from benchmarks.common import OLD_TILING
from sassid.evaluate import iter_pairs
from sassid.inference import Denoiser, default_overlap
from sassid.metrics import psnr
from sassid.models import ModelFile, read_model
from sassid.tiling import run_tiled

TILE = 512
MP24 = (4000, 6000)


@dataclass(frozen=True)
class Case:
    """One way of running the U-Net on the GPU."""

    precision: str = "fp32"  # fp32 | bf16 | fp16 (sassid.backends.torch_backend)
    reference: bool = False  # the module's own fp32 NCHW forward (the baseline)
    tf32: bool = False  # let cuDNN and matmuls use TF32 for fp32
    compiled: bool = False  # torch.compile the forward (static shapes: one compile per shape)
    cudnn_benchmark: bool = False  # let cuDNN time its algorithms per shape
    folded: bool = False  # upsamplings folded into the next convs (sassid.nets.folded)


BASELINE = "fp32 NCHW eager"
CASES = {  # in order of interest: a run that hits its deadline skips the last ones
    BASELINE: Case(reference=True),
    "bf16": Case(precision="bf16"),
    "fp16": Case(precision="fp16"),
    "fp16 folded": Case(precision="fp16", folded=True),
    "bf16 folded": Case(precision="bf16", folded=True),
    "fp16 + torch.compile": Case(precision="fp16", compiled=True),
    "bf16 + torch.compile": Case(precision="bf16", compiled=True),
    "tf32 channels_last": Case(tf32=True),
    "fp16 + cudnn.benchmark": Case(precision="fp16", cudnn_benchmark=True),
}


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _set_flags(case: Case) -> None:
    torch.backends.cudnn.allow_tf32 = case.tf32
    torch.backends.cuda.matmul.allow_tf32 = case.tf32
    torch.backends.cudnn.benchmark = case.cudnn_benchmark


def _forward(source: ModelFile, case: Case, device: str) -> Callable[[Tensor], Tensor]:
    """The U-Net as ``case`` runs it; built once per case, shared by speed and quality (a
    compiled one keeps the shapes it has compiled)."""
    net = source.networks(("unet",))["unet"].to(device).eval()
    if case.reference:
        fn: Callable[[Tensor], Tensor] = net
    else:
        from sassid.backends.torch_backend import torch_forward

        fn = torch_forward(net, case.precision, device=device, fold=case.folded)
    # Static shapes: tiles are all TILE² (the grid's last tile is flush with the edge), so a
    # photo costs one compile per whole-image size below TILE. Dynamic shapes failed to compile
    # this network on torch 2.13's CPU inductor (TensorReferenceAnalysis.python_mod).
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 16)
    return torch.compile(fn, dynamic=False) if case.compiled else fn


def _denoiser(
    source: ModelFile, fn: Callable[[Tensor], Tensor], tile: int, device: str
) -> Denoiser:
    return Denoiser(
        source.networks(("unet",)),
        tile=tile,
        overlap=default_overlap(tile, "unet") if tile else 0,
        device=device,
        forward=fn,
        lowpass_sigma=source.lowpass_sigma,
        noise_gate=source.noise_gate,
    )


def _photo(noisy: np.ndarray, h: int, w: int) -> np.ndarray:
    """A real noisy photo repeated to h x w (never zeros or synthetic values)."""
    reps = (-(-h // noisy.shape[0]), -(-w // noisy.shape[1]), 1)
    return np.ascontiguousarray(np.tile(noisy, reps)[:h, :w])


def _mps(run: Callable[[], Any], pixels: int, min_seconds: float = 0.3, most: int = 50) -> float:
    """Megapixels/s of ``run`` (after one untimed call), repeated until ``min_seconds``."""
    run()
    _sync()
    t, reps = time.perf_counter(), 0
    while True:
        run()
        reps += 1
        _sync()
        elapsed = time.perf_counter() - t
        if elapsed >= min_seconds or reps >= most:
            return pixels / 1e6 * reps / elapsed


def measure_case(
    source: ModelFile,
    fn: Callable[[Tensor], Tensor],
    case: Case,
    noisy: np.ndarray,
    device: str,
    scale: float = 1.0,
) -> dict[str, Any]:
    """Speeds, first-call seconds and the 24 MP photo's time and peak memory of ``fn``, the
    U-Net as ``case`` runs it. ``scale`` shrinks every size (a CPU smoke run of this script)."""
    row: dict[str, Any] = {}

    def size(n: int) -> int:
        return max(32, int(n * scale) // 32 * 32)

    def tensor(h: int, w: int) -> Tensor:
        x = _photo(noisy, h, w).transpose(2, 0, 1).astype(np.float32)
        return torch.from_numpy(x)[None].to(device)

    x512 = tensor(size(512), size(512))
    t = time.perf_counter()
    with torch.inference_mode():
        fn(x512)
    _sync()
    row["first_call_s"] = time.perf_counter() - t
    tile = size(TILE)
    with torch.inference_mode():
        for n in (256, 512):
            x = tensor(size(n), size(n))
            row[str(n)] = _mps(lambda x=x: fn(x), x.shape[-1] ** 2)
        x = tensor(size(2048), size(2048))
        overlap = default_overlap(tile, "unet")
        row["2048"] = _mps(lambda: run_tiled(fn, x, tile, overlap), x.shape[-1] ** 2)
        if not case.compiled:  # a whole 2048² or 24 MP image is one more shape to compile
            row["2048_whole"] = _mps(lambda: fn(x), x.shape[-1] ** 2)
    h, w = (size(MP24[0]), size(MP24[1]))
    photo = _photo(noisy, h, w)
    for label, t_side in (("24mp", tile), ("24mp_whole", 0)):
        if t_side == 0 and case.compiled:
            continue
        denoiser = _denoiser(source, fn, t_side, device)
        denoiser.pixels(photo[: size(512), : size(512)])  # warm-up at a small size
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        _sync()
        t = time.perf_counter()
        out = denoiser.pixels(photo)
        _sync()
        seconds = time.perf_counter() - t
        if out.shape != photo.shape or out.dtype != photo.dtype:
            raise RuntimeError(f"{label}: output {out.shape} {out.dtype}")
        row[f"{label}_s"] = seconds
        row[label] = h * w / 1e6 / seconds
        if torch.cuda.is_available():
            row[f"{label}_peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
        if t_side:  # the network's share: the same photo as a tensor already on the device
            x = tensor(h, w)
            _sync()
            t = time.perf_counter()
            denoiser.tensor(x)
            _sync()
            row[f"{label}_net_s"] = time.perf_counter() - t
            del x
    return row


def quality(
    source: ModelFile,
    fn: Callable[[Tensor], Tensor],
    pairs: list,
    device: str,
    baseline: list[np.ndarray] | None,
) -> tuple[dict[str, float], list[np.ndarray]]:
    """Mean PSNR (uint8, per image) of ``fn``'s outputs against clean and against
    ``baseline``'s outputs."""
    denoiser = _denoiser(source, fn, TILE, device)
    outputs = [denoiser.pixels(noisy) for _, noisy, _ in pairs]
    cleans = [clean for _, _, clean in pairs]
    result = {
        "psnr_clean": float(np.mean([psnr(o, c) for o, c in zip(outputs, cleans, strict=True)])),
        "images": len(pairs),
    }
    if baseline is not None:  # identical outputs have infinite PSNR: 99 dB stands for it
        result["psnr_vs_fp32"] = float(
            np.mean([min(psnr(o, b), 99.0) for o, b in zip(outputs, baseline, strict=True)])
        )
        pairs_out = zip(outputs, baseline, strict=True)
        diffs = [np.abs(o.astype(int) - b.astype(int)).max() for o, b in pairs_out]
        result["max_abs_vs_fp32"] = float(max(diffs))
    return result, outputs


def run(
    model: str,
    data: Path,
    device: str = "cuda",
    *,
    deadline_s: float = 300.0,
    scale: float = 1.0,
    save: Callable[[dict[str, Any]], None] | None = None,
    cases: dict[str, Case] | None = None,
) -> dict[str, Any]:
    """Every case in order (the baseline first); cases not started by ``deadline_s`` are
    listed as skipped, and a case that fails records its error. ``save`` gets the partial
    result after each case, so a run cut short keeps what it measured."""
    started = time.perf_counter()
    cases = CASES if cases is None else cases
    pairs = list(iter_pairs(data / "sidd_samples"))
    noisy = pairs[0][1]
    source = read_model(model)
    result: dict[str, Any] = {
        "model": model,
        "tiling": [TILE, default_overlap(TILE, "unet")],
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else device,
        "speed": {},
        "quality": {},
        "skipped": [],
        "errors": {},
    }
    baseline_outputs: list[np.ndarray] | None = None
    for label, case in cases.items():
        if time.perf_counter() - started > deadline_s:
            result["skipped"].append(label)
            continue
        try:
            _set_flags(case)
            fn = _forward(source, case, device)
            result["speed"][label] = measure_case(source, fn, case, noisy, device, scale)
            result["quality"][label], outputs = quality(source, fn, pairs, device, baseline_outputs)
        except Exception as exc:  # noqa: BLE001  # one case failing must not lose the others
            result["errors"][label] = f"{type(exc).__name__}: {str(exc)[:300]}"
            print(label, "failed:", result["errors"][label], flush=True)
            continue
        if label == BASELINE:
            baseline_outputs = outputs
        print(label, result["speed"][label], result["quality"][label], flush=True)
        if save is not None:
            save(result)
    _set_flags(Case())
    return result


def markdown(result: dict[str, Any]) -> list[str]:
    """The section of results/speed_cuda.md for this table."""
    speed, scores = result["speed"], result["quality"]
    base = speed.get(BASELINE)
    tiles = "{}/{}".format(*result.get("tiling", OLD_TILING))
    lines = [
        "### U-Net inference per precision on the GPU (trained model)",
        "",
        f"GPU: {result['device_name']}. Model `{result['model']}`. Baseline: `{BASELINE}`, the "
        "network's own fp32 NCHW eager forward with TF32 off (reference-equivalent). 256² and "
        f"512²: whole images; 2048² tiled {tiles} as `sassid denoise` tiled then, and whole; "
        "24 MP: 6000 x 4000 uint8 through `Denoiser.pixels` (host conversions and the model's "
        f"output corrections included), tiled {tiles} and whole, with the GPU's peak allocated "
        "memory, and the network's share (the same photo as a tensor already on the GPU). First "
        "call: the first 512² forward (compilation included). PSNR on sidd_samples: uint8, mean "
        "per image.",
        "",
        "| case | 256² MP/s | 512² MP/s | x baseline (512²) | 2048² tiled | 2048² whole | "
        "24 MP tiled s (peak GB) | of which network s | 24 MP whole s (peak GB) | first call s | "
        "dB vs clean (Δ fp32) | dB vs fp32 out | max abs diff (levels) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, row in speed.items():
        q = scores[label]
        ref = scores.get(BASELINE, q)

        def mp24(key: str, row: dict[str, Any] = row) -> str:
            if f"{key}_s" not in row:
                return "-"
            peak = row.get(f"{key}_peak_gb")
            return f"{row[f'{key}_s']:.2f}" + (f" ({peak:.1f})" if peak is not None else "")

        cells = [
            f"{row['256']:.1f}",
            f"{row['512']:.1f}",
            f"{row['512'] / base['512']:.2f}" if base else "-",
            f"{row['2048']:.1f}",
            f"{row['2048_whole']:.1f}" if "2048_whole" in row else "-",
            mp24("24mp"),
            f"{row['24mp_net_s']:.2f}" if "24mp_net_s" in row else "-",
            mp24("24mp_whole"),
            f"{row['first_call_s']:.1f}",
            f"{q['psnr_clean']:.2f} ({q['psnr_clean'] - ref['psnr_clean']:+.3f})",
            f"{q['psnr_vs_fp32']:.1f}" if "psnr_vs_fp32" in q else "-",
            f"{q['max_abs_vs_fp32']:.0f}" if "max_abs_vs_fp32" in q else "-",
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, error in result["errors"].items():
        lines.append(f"\n`{label}` failed: {error}")
    if result["skipped"]:
        lines.append(f"\nNot run (the run's deadline): {', '.join(result['skipped'])}.")
    return lines
