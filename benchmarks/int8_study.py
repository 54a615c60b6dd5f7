"""Where does int8 lose quality, and what would win it back? (issue 11, the int8 target)

    python benchmarks/int8_study.py -m RUN [--sidd-images 13] [--polyu-images 6] [--rounds 7]

Post-training static int8 (onnxruntime QDQ: per-channel s8 weights, per-tensor u8 activations
with min-max ranges from the set's own noisy photos, output convolution fp32) in several
variants, each scored against the same U-Net in fp32 (`--precision int8` runs the row marked "as
shipped"; until commit ac39928 it ran "all ops", then "conv only, equalized (max 4)"):

- which op types are quantized: every type onnxruntime supports, or convolutions only (the
  LeakyReLU, pooling, upsampling and concatenation then run in fp32 between them);
- activation equalization (`sassid.backends.equalize`): channels scaled up across each
  LeakyReLU, the fp32 function unchanged, so that small channels use more of the 256 levels of
  their tensor's scale; scale factors capped at 2, 4 or 8; hidden layers only, or also the last
  decoder convolution's output, which the fp32 output convolution then divides back;
- the raw-input skip split off (`sassid.backends.raw_skip`): the last decoder stage's
  convolution over [features, noisy photo] as two, the photo's one in fp32, so the photo no
  longer shares an 8-bit scale with the features;
- leaving single full-resolution decoder convolutions in fp32, to find where the error arises;
- the shipped graph with pooling and upsampling (which move no value off the 8-bit grid) and/or
  the LeakyReLU quantized too, so that fewer fp32 tensors pass between the convolutions; with
  the raw-input convolution in int8 as well (an 8-bit photo is exact at scale 1) and/or the
  sum of the split's two convolutions (``Add``) in int8, so that no full-resolution fp32
  tensor is left before the output convolution;
- PyTorch's own int8 instead of onnxruntime (rows "torch FX int8"): the same rewrites
  (equalization into the output convolution, the raw-input skip split), FX graph-mode static
  quantization with the ``x86`` engine (fbgemm kernels, per-channel s8 weights, u8 activations
  over the full 0-255 range, no ``reduce_range``: this CPU has VNNI, as the onnxruntime path
  also assumes; min-max ranges from the same crops), channels_last input. Every op between the
  convolutions then runs in int8 too (PyTorch's quantized LeakyReLU, pooling, upsampling,
  concatenation and the split's skip sum); the raw-input and output convolutions in fp32 as
  shipped, or every convolution in int8. That API is deprecated in PyTorch
  (``torch.ao.quantization``, in favour of torchao's pt2e), so these rows are a measurement,
  not a backend.

`--only TEXT...` runs the variants whose label contains a text; `--name` sets the results stem.

For each: PSNR (uint8, mean per image) change against fp32 on `sidd_samples` and `polyu100`,
PSNR against the fp32 output, and MP/s at 512² (median of interleaved rounds, a real PolyU
photo), with the fp32 NCHW eager baseline and `torch/bf16` in the same run (one
process holding every session: `benchmarks/speed.py` times each case in a fresh process). Also the
share of the U-Net's multiply-adds in each convolution. Writes results/int8_study.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.common import (  # noqa: E402
    DATA,
    conv_macs,
    median_mps,
    provenance,
    stamp,
    write_results,
)
from sassid.backends import make_forward  # noqa: E402
from sassid.backends.equalize import EQUALIZE_CROPS, equalize_unet  # noqa: E402
from sassid.backends.onnx_backend import (  # noqa: E402
    INT8_DISABLED_OPTIMIZERS,
    OnnxForward,
    int8_model,
    open_session,
)
from sassid.backends.onnx_graph import onnx_bytes, pad_rule  # noqa: E402
from sassid.backends.quantize import calibration_crops, conv_names, quantize_onnx  # noqa: E402
from sassid.backends.raw_skip import RawSkipSplitUNet  # noqa: E402
from sassid.inference import Denoiser, default_overlap  # noqa: E402
from sassid.io import find_pairs, read_image  # noqa: E402
from sassid.metrics import psnr  # noqa: E402
from sassid.models import read_model  # noqa: E402
from sassid.nets.unet import UNet  # noqa: E402

SETS = ("sidd_samples", "polyu100")


def conv_shares(net: UNet, size: int = 256) -> dict[str, float]:
    """Fraction of the U-Net's multiply-adds in each convolution (module name -> share)."""
    macs = conv_macs(net, size)
    total = sum(macs.values())
    return {name: v / total for name, v in macs.items()}


SHIPPED = "conv only, equalized into the output conv, raw skip split (as shipped)"
SHIPPED_SESSION = "as shipped, run without onnxruntime's NCHWc layout (the shipped session)"
SHIPPED_NCHW = (
    "as shipped, its fp32 convolutions NCHW, not channels-last matmuls (the shipped session "
    "before 2026-11-30)"
)
SESSIONS = (SHIPPED_SESSION, SHIPPED_NCHW)
"""Rows run in the session ``--precision int8`` opens (``onnx_backend.INT8_DISABLED_OPTIMIZERS``);
every other row runs onnxruntime's defaults. SHIPPED_SESSION is SHIPPED's graph."""
EXACT_OPS = ("MaxPool", "Resize")
"""Ops that commute with a per-tensor 8-bit quantization (max and nearest upsampling pick one
input value): in int8 they move no value off the grid the next convolution quantizes to."""


Variant = bytes | Callable[[Tensor], Tensor]
"""An int8 ONNX graph (run in onnxruntime) or a ready PyTorch forward."""


def _variants(unet: UNet, calibration: list[Tensor]) -> dict[str, Callable[[], Variant]]:
    """Label -> a builder of that variant's int8 graph or forward (built only if selected)."""
    fp32 = onnx_bytes(unet)
    convs = conv_names(fp32)  # ..., decoder.4.0, decoder.4.2, head
    head, dec40, dec42 = convs[-1], convs[-3], convs[-2]
    conv = ["Conv"]

    def equalized(max_scale: float, into_output: bool = False) -> UNet:
        return equalize_unet(unet, calibration, max_scale, into_output=into_output)

    def quantized(
        make: Callable[[], nn.Module] | None = None, **kwargs: Any
    ) -> Callable[[], bytes]:
        """Builder: the graph of ``make()`` (default: the U-Net as is), quantized."""
        return lambda: quantize_onnx(
            fp32 if make is None else onnx_bytes(make()), calibration, **kwargs
        )

    def shipped(
        *ops: str,
        keep_fp32: str = "default",
        nchw: bool = False,
        percentile: float | None = None,
        bias_correction: bool = False,
    ) -> Callable[[], bytes]:
        """Builder: the shipped graph with ``ops`` quantized too; ``nchw``: its fp32
        convolutions as NCHW convolutions (before 2026-11-30), not channels-last matmuls;
        ``percentile``: activation ranges clipped to that percentile, not min-max."""
        matmuls = not nchw and keep_fp32 == "default" and set(ops) <= set(EXACT_OPS)
        return lambda: int8_model(
            unet,
            calibration,
            op_types=("Conv", *ops),
            keep_fp32=keep_fp32,
            channels_last_matmuls=matmuls,
            percentile=percentile,
            bias_correction=bias_correction,
        )

    return {
        "all ops": quantized(op_types=None),
        "conv only": quantized(op_types=conv),
        "all ops, equalized (max 4)": quantized(lambda: equalized(4), op_types=None),
        **{
            f"conv only, equalized (max {m})": quantized(partial(equalized, m), op_types=conv)
            for m in (2, 4, 8)
        },
        "conv only, equalized (max 4) into the output conv": quantized(
            lambda: equalized(4, into_output=True), op_types=conv
        ),
        "conv only, raw skip split": quantized(lambda: RawSkipSplitUNet(unet), op_types=conv),
        SHIPPED: shipped(),
        SHIPPED_SESSION: shipped(),
        SHIPPED_NCHW: shipped(nchw=True),
        **{
            f"as shipped, ranges at the {p:g}th percentile (not min-max)": shipped(percentile=p)
            for p in (99.99, 99.999)
        },
        "as shipped, biases corrected (per-layer mean offset on the calibration crops)": shipped(
            bias_correction=True
        ),
        "as shipped, pooling and upsampling int8": shipped(*EXACT_OPS),
        "as shipped, LeakyReLU int8": shipped("LeakyRelu"),
        "as shipped, pooling, upsampling and LeakyReLU int8": shipped(*EXACT_OPS, "LeakyRelu"),
        "as shipped, pooling and upsampling int8, raw-input conv int8": shipped(
            *EXACT_OPS, keep_fp32="output"
        ),
        "as shipped, pooling, upsampling and the skip sum int8": shipped(*EXACT_OPS, "Add"),
        "as shipped, pooling, upsampling and the skip sum int8, raw-input conv int8": shipped(
            *EXACT_OPS, "Add", keep_fp32="output"
        ),
        "conv only, decoder.4.0 fp32": quantized(op_types=conv, keep_fp32=[dec40, head]),
        "conv only, decoder.4.2 fp32": quantized(op_types=conv, keep_fp32=[dec42, head]),
        "conv only, full-res decoder fp32": quantized(
            op_types=conv, keep_fp32=[dec40, dec42, head]
        ),
        "torch FX int8, as shipped (raw-input and output convs fp32)": (
            lambda: torch_int8(unet, calibration, keep_fp32=("split.raw_skip", "split.unet.head"))
        ),
        "torch FX int8, as shipped but every conv int8": (
            lambda: torch_int8(unet, calibration, keep_fp32=())
        ),
    }


class _Unpadded(nn.Module):
    """A ``RawSkipSplitUNet`` without its padding and cropping (which FX cannot trace)."""

    def __init__(self, split: RawSkipSplitUNet) -> None:
        super().__init__()
        self.split = split

    def forward(self, x: Tensor) -> Tensor:
        return self.split.unpadded(x)


def torch_int8(
    unet: UNet, calibration: list[Tensor], keep_fp32: Sequence[str]
) -> Callable[[Tensor], Tensor]:
    """The shipped rewrites, then PyTorch FX static int8 (x86 engine) calibrated on the crops,
    the modules named in ``keep_fp32`` (of ``_Unpadded``) left in fp32; a forward on (1, 3,
    H, W) in [0, 255] that pads to the size multiple and crops back."""
    import copy
    import warnings

    from torch.ao.quantization import QConfig, QConfigMapping
    from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    from sassid.nets.layers import crop_to, pad_to_multiple

    torch.backends.quantized.engine = "x86"
    core = _Unpadded(RawSkipSplitUNet(equalize_unet(unet, calibration[:EQUALIZE_CROPS])))
    qconfig = QConfig(
        activation=MinMaxObserver.with_args(dtype=torch.quint8, quant_min=0, quant_max=255),
        weight=PerChannelMinMaxObserver.with_args(
            dtype=torch.qint8, qscheme=torch.per_channel_symmetric
        ),
    )
    mapping = QConfigMapping().set_global(qconfig)
    for name in keep_fp32:
        mapping = mapping.set_module_name(name, None)
    with warnings.catch_warnings():  # the API's deprecation notices
        warnings.simplefilter("ignore")
        prepared = prepare_fx(copy.deepcopy(core).eval(), mapping, (calibration[0],))
        with torch.no_grad():
            for crop in calibration:
                prepared(crop)
        quantized = convert_fx(prepared)

    def forward(x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x.float(), unet.size_multiple, mode="reflect")
        with torch.no_grad():
            out = quantized(padded.contiguous(memory_format=torch.channels_last))
        return crop_to(out.contiguous(), h, w)

    return forward


def _forward(unet: UNet, label: str, model: Variant) -> Callable[[Tensor], Tensor]:
    if not isinstance(model, bytes):
        return model
    disabled = INT8_DISABLED_OPTIMIZERS if label in SESSIONS else ()
    return OnnxForward(model, pad_rule(unet), disabled_optimizers=disabled)


def _scores(
    unet: UNet,
    model: Variant | None,
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    ref: list,
    label: str = "",
) -> tuple[float, float]:
    forward = None if model is None else _forward(unet, label, model)
    denoiser = Denoiser(
        {"unet": unet}, forward=forward, tile=512, overlap=default_overlap(512, "unet")
    )
    outs = [denoiser.pixels(noisy) for noisy, _ in pairs]
    vs_clean = float(np.mean([psnr(o, c) for o, (_, c) in zip(outs, pairs, strict=True)]))
    vs_fp32 = (
        float(np.mean([psnr(o, r) for o, r in zip(outs, ref, strict=True)])) if ref else np.inf
    )
    return vs_clean, vs_fp32


def op_profile(
    model: bytes, x: Tensor, disabled: tuple[str, ...] = (), runs: int = 3
) -> dict[str, float]:
    """Milliseconds per run spent in each op type of ``model`` (onnxruntime's profiler, on the
    graph as optimized for this CPU: fused QLinearConv and the like), on input ``x``."""
    import json

    with tempfile.TemporaryDirectory(prefix="sassid-profile-") as tmp:
        # the session --precision int8 opens (memory patterns off), profiling on
        session = open_session(model, torch.get_num_threads(), disabled, str(Path(tmp) / "ort"))
        feed = {session.get_inputs()[0].name: x.numpy().astype(np.float32)}
        session.run(None, feed)  # warm-up, profiled too: skipped below
        for _ in range(runs):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text())
    kernels = [e for e in events if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")]
    per_run = len(kernels) // (runs + 1)
    totals: dict[str, float] = {}
    for event in kernels[per_run:]:
        op = event["args"].get("op_name", "?")
        totals[op] = totals.get(op, 0.0) + event["dur"] / 1e3 / runs
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="a trained run or model file")
    parser.add_argument("--sidd-images", type=int, default=13, help="sidd_samples pairs scored")
    parser.add_argument("--polyu-images", type=int, default=6, help="polyu100 pairs scored")
    parser.add_argument("--rounds", type=int, default=7, help="timing rounds at 512²")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="TEXT",
        help="run only the variants whose label contains one of these texts",
    )
    parser.add_argument("--name", default="int8_study", help="results file stem")
    args = parser.parse_args()
    if not all((DATA / s).exists() for s in SETS):
        print(f"skipped: {DATA} lacks {' or '.join(SETS)}")
        return 0
    unet = read_model(args.model).networks(("unet",))["unet"].eval()
    assert isinstance(unet, UNet)
    quality: dict[str, dict[str, dict[str, float]]] = {}
    variants: dict[str, Variant] = {}
    for name in SETS:
        found = find_pairs(DATA / name)
        paths = [noisy for _, noisy, _ in found]
        count = args.polyu_images if name == "polyu100" else args.sidd_images
        pairs = [(read_image(n).pixels, read_image(c).pixels) for _, n, c in found[:count]]
        calibration = calibration_crops(paths)
        reference = Denoiser({"unet": unet}, tile=512, overlap=default_overlap(512, "unet"))
        ref = [reference.pixels(noisy) for noisy, _ in pairs]
        fp32_db, _ = _scores(unet, None, pairs, [])
        builders = _variants(unet, calibration)
        if args.only:
            builders = {k: b for k, b in builders.items() if any(t in k for t in args.only)}
        variants = {label: build() for label, build in builders.items()}
        for label, model in variants.items():
            db, vs = _scores(unet, model, pairs, ref, label)
            quality.setdefault(label, {})[name] = {"delta": db - fp32_db, "vs_fp32": vs}
            print(name, label, f"{db - fp32_db:+.3f} dB, {vs:.1f} dB vs fp32", flush=True)
        quality.setdefault("fp32", {})[name] = {"db": fp32_db, "images": len(pairs)}
    # Speed: the last set's variants (calibrated on polyu100); ranges do not change the cost.
    photo = read_image(find_pairs(DATA / "polyu100")[0][1]).pixels[:512, :512]
    x = torch.from_numpy(np.ascontiguousarray(photo.transpose(2, 0, 1), dtype=np.float32))[None]
    forwards: dict[str, Callable[[Tensor], Tensor]] = {
        "torch fp32 NCHW (baseline)": unet,
        "torch bf16": make_forward(unet, backend="torch", precision="bf16"),
        "onnxruntime fp32": OnnxForward(onnx_bytes(unet), pad_rule(unet)),
        **{label: _forward(unet, label, model) for label, model in variants.items()},
    }
    speed = median_mps(forwards, x, args.rounds)
    profiles = {
        label: op_profile(model, x, INT8_DISABLED_OPTIMIZERS if label in SESSIONS else ())
        for label, model in variants.items()
        if isinstance(model, bytes)  # onnxruntime's profiler: the ONNX graphs only
    }
    shares = conv_shares(unet)
    meta = provenance()
    base = speed["torch fp32 NCHW (baseline)"]
    rows = []
    for label, mps in speed.items():
        q = quality.get(label)
        cells = (
            [f"{q[s]['delta']:+.3f} | {q[s]['vs_fp32']:.1f}" for s in SETS] if q else ["-  | -"] * 2
        )
        rows.append(f"| {label} | {mps:.3f} | {mps / base:.2f} | {' | '.join(cells)} |")
    full_res = shares["trunk.decoder.4.0"] + shares["trunk.decoder.4.2"]
    ops = sorted(
        {op for p in profiles.values() for op in p},
        key=lambda op: -max(p.get(op, 0.0) for p in profiles.values()),
    )
    profile_rows = [
        f"| {label} | {sum(p.values()):.0f} | "
        + " | ".join(f"{p.get(op, 0.0):.1f}" for op in ops)
        + " |"
        for label, p in profiles.items()
    ]
    lines = [
        "# int8 quantization study (U-Net)",
        "",
        stamp(meta) + f" Model `{args.model}`.",
        "",
        f"Quality sets: sidd_samples {quality['fp32']['sidd_samples']['images']} images "
        f"(fp32 {quality['fp32']['sidd_samples']['db']:.2f} dB), polyu100 "
        f"{quality['fp32']['polyu100']['images']} images (fp32 "
        f"{quality['fp32']['polyu100']['db']:.2f} dB); each int8 variant calibrated on the set's "
        "own noisy photos. Speed: one 512² PolyU photo, batch 1, whole image.",
        "",
        "| case | 512² MP/s | x baseline | sidd_samples Δ dB | vs fp32 dB | polyu100 Δ dB "
        "| vs fp32 dB |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"The full-resolution decoder (decoder.4.0 and decoder.4.2) does {full_res:.0%} of the "
        f"U-Net's multiply-adds (decoder.4.0 {shares['trunk.decoder.4.0']:.0%}, decoder.4.2 "
        f"{shares['trunk.decoder.4.2']:.0%}).",
    ]
    if profiles:
        lines += [
            "",
            "Where each int8 graph spends its time on the same photo: milliseconds per run in "
            "each op type of the graph as onnxruntime optimized it (its profiler; mean of 3 runs "
            "after a warm-up).",
            "",
            f"| case | total ms | {' | '.join(ops)} |",
            "|---|---|" + "---|" * len(ops),
            *profile_rows,
        ]
    text = "\n".join(lines) + "\n"
    write_results(
        args.name,
        {
            "meta": meta,
            "quality": quality,
            "speed_mps": speed,
            "conv_shares": shares,
            "op_profile_ms": profiles,
        },
        text,
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
