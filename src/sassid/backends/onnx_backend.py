"""onnxruntime backend: the exported graph (``sassid.export``) run by an InferenceSession.

The pre-step of the exported file is applied here: pad bottom/right to the size multiple
(reflect for the U-Net, zeros for the BNN), run, crop back. ``int8`` runs the statically
quantized graph of ``sassid.backends.quantize``, the U-Net's activation ranges equalized first
(``sassid.backends.equalize``) and its raw-input skip split off (``sassid.backends.raw_skip``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from sassid.backends.onnx_graph import ExportError, PadRule, onnx_bytes, pad_rule
from sassid.nets.layers import crop_to, pad_to_multiple

__all__ = ["OnnxForward", "onnx_forward", "open_session", "int8_model", "INT8_DISABLED_OPTIMIZERS"]


INT8_DISABLED_OPTIMIZERS = ("NchwcTransformer",)
"""onnxruntime graph rewrites the int8 graph runs without. The NCHWc layout suits fp32
convolutions, but in the int8 graph only the raw-input and output convolutions are fp32, and
their blocked layout is reordered back at full resolution beside the 8-bit NHWC convolutions.
Without it the same graph ran 0.794 against 0.761 MP/s at 512², at the same PSNR to the third
decimal on both real sets (``benchmarks/int8_study.py``, results/int8_session.md). Since those
two convolutions became channels-last matrix products (``int8_model(channels_last_matmuls=)``)
the shipped graph has no fp32 convolution left for it to rewrite; it stays off for graphs
built with ``channels_last_matmuls=False``."""


def open_session(
    model: bytes,
    threads: int | None,
    disabled_optimizers: tuple[str, ...] = (),
    profile_prefix: str | None = None,
) -> Any:
    """The onnxruntime CPU session every graph runs in; ``profile_prefix``: record
    onnxruntime's per-op profile to files starting so (``benchmarks/int8_study.py``)."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError(
            "--backend onnxruntime needs the optional extra: pip install 'sassid[onnx]'"
        ) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # A memory pattern is planned per input shape and kept: the edge tiles of a large photo have
    # other shapes. A 24 MP photo in int8 peaked at 2.20 GB with patterns (benchmarks/speed.py
    # at commit c4c96ad), 1.88 GB without (results/speed_cpu.md), at the same speed.
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    extra = {"disabled_optimizers": list(disabled_optimizers)} if disabled_optimizers else {}
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"], **extra)


class OnnxForward:
    """Callable (B, 3, H, W) float in [0, 255] -> same, through onnxruntime on the CPU."""

    def __init__(
        self,
        model: bytes,
        rule: PadRule,
        threads: int | None = None,
        disabled_optimizers: tuple[str, ...] = (),
    ) -> None:
        self.rule = rule
        self.model = model
        self.session = open_session(model, threads, disabled_optimizers)
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x.float(), self.rule.multiple, mode=self.rule.mode)
        array = np.ascontiguousarray(padded.detach().cpu().numpy(), dtype=np.float32)
        (out,) = self.session.run(None, {self.input_name: array})
        return crop_to(torch.from_numpy(out), h, w).to(x.device)


def int8_model(
    net: nn.Module,
    calibration: list[Tensor],
    *,
    name: str = "unet",
    equalize_crops: int | None = None,
    op_types: tuple[str, ...] | None = None,
    keep_fp32: str = "default",
    channels_last_matmuls: bool = True,
    percentile: float | None = None,
    bias_correction: bool = False,
) -> bytes:
    """The int8 ONNX graph ``--precision int8`` runs: a U-Net is first rewritten into the same
    fp32 function with int8-friendlier ranges (``equalize``, its channel ranges measured on the
    first ``equalize_crops`` calibration crops, default ``EQUALIZE_CROPS``) and its raw-input
    skip split off (``raw_skip``), then exported and quantized on every crop (``quantize``);
    ``op_types``: the op types quantized (default ``QUANTIZED_OPS``); ``keep_fp32``: which
    convolutions stay fp32, ``"default"`` (``quantize.fp32_convs``) or ``"output"`` (the
    output convolution only: the raw-input one is quantized too); ``channels_last_matmuls``:
    those two fp32 convolutions of a U-Net written as channels-last matrix products, which the
    quantizer (convolutions only) leaves in fp32 and which need no full-resolution transposes
    beside onnxruntime's NHWC int8 convolutions (``raw_skip``; results/int8_layout.md);
    ``percentile``: see ``quantize.quantize_onnx``; ``bias_correction``: each layer's mean
    offset against the fp32 graph on the calibration crops subtracted from its bias
    (``sassid.backends.bias_correction``)."""
    from sassid.backends.equalize import EQUALIZE_CROPS, equalize_unet
    from sassid.backends.quantize import QUANTIZED_OPS, conv_names, quantize_onnx
    from sassid.backends.raw_skip import RawSkipSplitUNet
    from sassid.nets.unet import UNet

    if keep_fp32 not in ("default", "output"):
        raise ValueError(f"keep_fp32 is 'default' or 'output', not {keep_fp32!r}")
    ops = QUANTIZED_OPS if op_types is None else op_types
    matmuls = channels_last_matmuls and isinstance(net, UNet) and bool(calibration)
    if matmuls and (keep_fp32 != "default" or set(ops) - {"Conv", "MaxPool", "Resize"}):
        # the matrix products must stay fp32, and their graph has no raw-input convolution
        raise ValueError(
            "channels_last_matmuls takes the default fp32 convolutions and quantizes "
            "only Conv, MaxPool and Resize"
        )
    if isinstance(net, UNet) and calibration:
        first = EQUALIZE_CROPS if equalize_crops is None else equalize_crops
        equalized = equalize_unet(net, calibration[: max(first, 1)])
        net = RawSkipSplitUNet(equalized, channels_last_matmuls=matmuls)
    fp32 = onnx_bytes(net, name=name)
    if matmuls:
        keep: list[str] | None = []  # no fp32 convolution left: the quantizer skips MatMul
    else:
        keep = conv_names(fp32)[-1:] if keep_fp32 == "output" else None
    int8 = quantize_onnx(fp32, calibration, op_types=ops, keep_fp32=keep, percentile=percentile)
    if not bias_correction:
        return int8
    from sassid.backends.bias_correction import correct_biases

    return correct_biases(
        int8, fp32, calibration, lambda m: open_session(m, None, INT8_DISABLED_OPTIMIZERS)
    )


def onnx_forward(
    net: nn.Module,
    precision: str,
    *,
    name: str = "unet",
    calibration: list[Tensor] | None = None,
) -> OnnxForward:
    """Export ``net`` in memory and open it in onnxruntime at ``precision`` (fp32 or int8)."""
    if precision == "int8":
        model = int8_model(net, calibration or [], name=name)
        return OnnxForward(model, pad_rule(net), disabled_optimizers=INT8_DISABLED_OPTIMIZERS)
    if precision != "fp32":
        raise ExportError(
            f"--backend onnxruntime runs fp32 or int8, not {precision} "
            "(bf16 convolutions are a --backend torch feature on this CPU)"
        )
    return OnnxForward(onnx_bytes(net, name=name), pad_rule(net))
