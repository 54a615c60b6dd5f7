"""Empirical bias correction of a quantized graph (Nagel et al., "Data-Free Quantization
Through Weight Equalization and Bias Correction", ICCV 2019, section 4.2, measured on data).

Rounding the weights of a convolution to 8 bits changes its output by (W_q - W) x, whose mean
over the photo, (W_q - W) E[x], is not zero: every output channel gets a small constant offset,
and the offsets add up through the network into a shift of the image's mean level (a colour
cast of a fraction of a level, which PSNR on mild noise feels). Each layer's offset is measured
as the per-channel mean of its int8 output minus the mean of the same output in the fp32 graph,
over the calibration crops, and subtracted from that layer's (fp32) bias. Layers are corrected
in graph order, each measured after the ones before it were corrected, so that no layer also
corrects what an earlier correction already removed. The fp32 function is not changed: only the
biases of the quantized graph move.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor

__all__ = ["BiasSite", "bias_sites", "correct_biases", "own_biases"]


@dataclass(frozen=True)
class BiasSite:
    """A node that adds a per-channel fp32 bias held in an initializer: its output tensor,
    the initializer's name, and the output's channel axis (1 for an NCHW Conv, -1 for the
    Add after a channels-last matrix product)."""

    output: str
    bias: str
    axis: int


def bias_sites(model: bytes) -> list[BiasSite]:
    """The graph's bias sites in topological order: every Conv with a bias initializer and every
    Add of a tensor and a 1-D initializer (``sassid.backends.raw_skip``'s channels-last head).
    A bias the exporter shares between layers (equal values, e.g. all zero) is given to each
    layer as its own initializer first (``own_biases``)."""
    import onnx

    return _sites(own_biases(onnx.load_from_string(model)).graph)


def _sites(graph: Any) -> list[BiasSite]:
    """``bias_sites`` of an onnx GraphProto whose biases are already its layers' own."""
    vectors = {i.name for i in graph.initializer if len(i.dims) == 1}
    sites = []
    for node in graph.node:
        if node.op_type == "Conv" and len(node.input) > 2 and node.input[2] in vectors:
            sites.append(BiasSite(node.output[0], node.input[2], 1))
        elif node.op_type == "Add" and node.input[1] in vectors:
            sites.append(BiasSite(node.output[0], node.input[1], -1))
    return sites


def own_biases(proto: Any) -> Any:
    """``proto`` (an onnx ModelProto, changed in place) with every Identity of an initializer,
    which the exporter inserts where parameters have equal values, replaced by a copy of that
    initializer under the Identity's output name, so that each layer's bias can move alone."""
    from onnx import numpy_helper

    graph = proto.graph
    inits = {i.name: i for i in graph.initializer}
    for node in [n for n in graph.node if n.op_type == "Identity" and n.input[0] in inits]:
        copy = numpy_helper.to_array(inits[node.input[0]]).copy()
        graph.initializer.append(numpy_helper.from_array(copy, node.output[0]))
        graph.node.remove(node)
    return proto


def _with_outputs(model: bytes, names: Sequence[str]) -> bytes:
    """``model`` with the tensors ``names`` also returned as graph outputs."""
    import onnx

    proto = onnx.load_from_string(model)
    have = {o.name for o in proto.graph.output}
    for name in names:
        if name not in have:
            proto.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    return proto.SerializeToString()


SessionOpener = Callable[[bytes], Any]
"""Opens an onnxruntime InferenceSession on a serialized graph."""


def _channel_means(
    model: bytes,
    sites: Sequence[BiasSite],
    calibration: Sequence[Tensor],
    open_session: SessionOpener,
) -> list[np.ndarray]:
    """Per-channel means of each site's output over all pixels of all calibration crops."""
    session = open_session(_with_outputs(model, [s.output for s in sites]))
    feed = session.get_inputs()[0].name
    sums: list[Any] = [0.0] * len(sites)
    counts = [0] * len(sites)
    for crop in calibration:
        outs = session.run([s.output for s in sites], {feed: crop.float().numpy()})
        for i, (site, out) in enumerate(zip(sites, outs, strict=True)):
            moved = np.moveaxis(out.astype(np.float64), site.axis, -1)
            flat = moved.reshape(-1, moved.shape[-1])
            sums[i] = sums[i] + flat.sum(0)
            counts[i] += flat.shape[0]
    return [s / c for s, c in zip(sums, counts, strict=True)]


def correct_biases(
    quantized: bytes,
    fp32: bytes,
    calibration: Sequence[Tensor],
    open_session: SessionOpener,
) -> bytes:
    """``quantized`` (an int8 QDQ graph of ``fp32`` with the same node outputs and fp32
    biases) with each bias site's mean offset against ``fp32`` over ``calibration`` (inputs
    already padded to the size multiple) subtracted from its bias, site by site in graph order.
    Sites missing from ``fp32`` are left alone. ``open_session``: how the caller runs a graph
    (the int8 graph's offsets are measured as it will run: same onnxruntime rewrites)."""
    import onnx
    from onnx import numpy_helper

    names = {s.output for s in bias_sites(fp32)}
    proto = own_biases(onnx.load_from_string(quantized))
    sites = [s for s in _sites(proto.graph) if s.output in names]
    if not sites or not calibration:
        return quantized
    targets = _channel_means(fp32, sites, calibration, open_session)
    biases = {i.name: i for i in proto.graph.initializer}
    for site, target in zip(sites, targets, strict=True):
        (mean,) = _channel_means(proto.SerializeToString(), [site], calibration, open_session)
        init = biases[site.bias]
        corrected = numpy_helper.to_array(init).astype(np.float64) - (mean - target)
        init.CopyFrom(numpy_helper.from_array(corrected.astype(np.float32), site.bias))
    return proto.SerializeToString()
