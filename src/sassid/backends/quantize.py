"""Post-training int8 quantization, calibrated on the user's own noisy photos.

Static quantization maps a tensor t to round(t / s) + z in 8 bits, with the scale s and zero
point z of every activation fixed beforehand from its range over calibration inputs (min-max
here), and one scale per output channel for the convolution weights. The calibration inputs are
random crops of the photos being denoised (or of a folder given), so the ranges are those of
the noise the model will meet. onnxruntime runs the QDQ graph with integer convolutions
(u8 activations x s8 weights: the VNNI path on x86). The output convolution stays fp32: its
output is the image itself, and 8 bits over its range (about one level per step) would add up
to half a level of error before the final rounding (measured: it halves int8's PSNR cost). So
does the convolution over the raw input of ``sassid.backends.raw_skip``'s split U-Net.
Only convolutions are quantized (``QUANTIZED_OPS``): LeakyReLU, pooling, upsampling and
concatenation stay fp32 between them, which costs 4% of int8's speed and saves a third of its
PSNR cost on mild noise (results/int8_study.md).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sassid.backends.raw_skip import RAW_SKIP
from sassid.errors import SassidError
from sassid.io import ImageError, read_image
from sassid.pixels import to_pixels

__all__ = [
    "calibration_crops",
    "conv_names",
    "fp32_convs",
    "quantize_onnx",
    "QUANTIZED_OPS",
    "CALIBRATION_SIZE",
    "CALIBRATION_COUNT",
]

CALIBRATION_SIZE = 256
CALIBRATION_COUNT = 16
QUANTIZED_OPS = ("Conv",)
"""The ONNX op types ``quantize_onnx`` quantizes unless told otherwise."""


def calibration_crops(
    paths: Sequence[str | os.PathLike[str]],
    *,
    size: int = CALIBRATION_SIZE,
    count: int = CALIBRATION_COUNT,
    seed: int = 0,
) -> list[Tensor]:
    """``count`` random ``size`` x ``size`` crops (1, 3, s, s) in [0, 255], drawn in turn from
    the readable images of ``paths`` (an image smaller than ``size`` is taken whole, cut to a
    multiple of 32). Raises SassidError if none is readable, naming the first failure."""
    rng = np.random.default_rng(seed)
    images = []
    first_error: ImageError | None = None
    for path in paths:
        try:
            images.append(read_image(path).pixels)
        except ImageError as exc:
            first_error = first_error or exc
            continue
        if len(images) >= count:
            break
    if not images:
        why = f" ({first_error})" if first_error else " (no image given)"
        raise SassidError(f"no readable image to calibrate int8 quantization on{why}")
    crops = []
    for i in range(count):
        pixels = images[i % len(images)]
        h, w = pixels.shape[:2]
        ch = min(size, max(32, h - h % 32))
        cw = min(size, max(32, w - w % 32))
        top = int(rng.integers(0, max(h - ch, 0) + 1))
        left = int(rng.integers(0, max(w - cw, 0) + 1))
        crop = pixels[top : top + ch, left : left + cw]
        crops.append(torch.from_numpy(to_pixels(np.ascontiguousarray(crop)))[None])
    return crops


class _Reader:
    """onnxruntime CalibrationDataReader over a list of tensors."""

    def __init__(self, name: str, batches: list[Tensor]) -> None:
        self._items = iter([{name: b.numpy().astype(np.float32)} for b in batches])

    def get_next(self) -> dict[str, Any] | None:
        return next(self._items, None)


def quantize_onnx(
    model: bytes,
    calibration: list[Tensor],
    *,
    op_types: Sequence[str] | None = QUANTIZED_OPS,
    keep_fp32: Sequence[str] | None = None,
    percentile: float | None = None,
) -> bytes:
    """Statically quantize an fp32 ONNX graph to int8 QDQ (per-channel weights, u8
    activations), ranges from ``calibration`` (inputs already padded to the size multiple).

    ``op_types``: the ONNX op types quantized (None: every type onnxruntime quantizes);
    ``keep_fp32``: names of nodes left in fp32 (default: ``fp32_convs``); ``percentile``:
    each activation's range clipped to this percentile of its calibration values (e.g.
    99.999) instead of their min and max."""
    if not calibration:
        raise SassidError(
            "int8 needs calibration images: the photos to denoise, or --calibrate DIR"
        )
    import onnx

    name = onnx.load_from_string(model).graph.input[0].name
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice through the root logger
    try:
        return _quantize(model, name, calibration, op_types, keep_fp32, percentile)
    finally:
        root.setLevel(level)


def conv_names(model: bytes) -> list[str]:
    """The graph's Conv nodes in topological order (the output convolution last)."""
    import onnx

    return [node.name for node in onnx.load_from_string(model).graph.node if node.op_type == "Conv"]


def fp32_convs(model: bytes) -> list[str]:
    """The convolutions int8 leaves in fp32 by default: the output layer, and the one over the
    raw input of a ``RawSkipSplitUNet`` graph (``sassid.backends.raw_skip``)."""
    names = conv_names(model)
    return [name for name in names[:-1] if RAW_SKIP in name] + names[-1:]


def _quantize(
    model: bytes,
    name: str,
    calibration: list[Tensor],
    op_types: Sequence[str] | None,
    keep_fp32: Sequence[str] | None,
    percentile: float | None = None,
) -> bytes:
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if keep_fp32 is None:
        keep_fp32 = fp32_convs(model)
    if percentile is not None:  # the histogram collector stacks its inputs: one size for all
        h = min(int(c.shape[-2]) for c in calibration)
        w = min(int(c.shape[-1]) for c in calibration)
        calibration = [c[..., :h, :w] for c in calibration]
    with tempfile.TemporaryDirectory(prefix="sassid-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model)
        quantize_static(
            str(src),
            str(dst),
            _Reader(name, calibration),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=(
                CalibrationMethod.MinMax if percentile is None else CalibrationMethod.Percentile
            ),
            extra_options=(
                {}
                if percentile is None  # a two-sided cut, not the percentile of |x|
                else {"CalibPercentile": percentile, "CalibTensorRangeSymmetric": False}
            ),
            nodes_to_exclude=list(keep_fp32),
            op_types_to_quantize=None if op_types is None else list(op_types),
        )
        return dst.read_bytes()
