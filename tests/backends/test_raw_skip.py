"""The raw-input skip split: same function as the U-Net, and the int8 graph keeps the raw
input's convolution in fp32."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sassid.backends.raw_skip import RAW_SKIP, RawSkipSplitUNet, conv3x3_nhwc
from sassid.nets import BNN, UNet


def _unet() -> UNet:
    torch.manual_seed(0)
    return UNet(enc_channels=8, dec_channels=16).eval()


@pytest.mark.parametrize("matmuls", [False, True])
@pytest.mark.parametrize("size", [(64, 64), (70, 50)])
def test_split_computes_the_same_function(size: tuple[int, int], matmuls: bool) -> None:
    net = _unet()
    split = RawSkipSplitUNet(net, channels_last_matmuls=matmuls).eval()
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1)) * 255
    with torch.no_grad():
        expected, out = net(x), split(x)
    assert out.shape == expected.shape
    assert float((out - expected).abs().max()) < 1e-4 * float(expected.abs().max())
    assert split.features.in_channels == 16 and split.raw_skip.in_channels == 3


def test_conv3x3_nhwc_is_the_convolution() -> None:
    """Tap order, weight layout and zero padding at every border, on a non-square input."""
    torch.manual_seed(2)
    conv = nn.Conv2d(5, 7, 3, padding=1, bias=False)
    x = torch.randn(2, 5, 9, 6)
    with torch.no_grad():
        out = conv3x3_nhwc(x.permute(0, 2, 3, 1), conv).permute(0, 3, 1, 2)
        expected = F.conv2d(x, conv.weight, padding=1)
    assert out.shape == expected.shape
    assert torch.allclose(out, expected, atol=1e-5)


def test_split_copies_and_leaves_the_unet_alone() -> None:
    net = _unet()
    before = [p.clone() for p in net.parameters()]
    split = RawSkipSplitUNet(net)
    with torch.no_grad():
        split.raw_skip.weight.zero_()
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_split_rejects_a_blind_spot_network() -> None:
    net = _unet()
    net.trunk = BNN(9, enc_channels=8, dec_channels=16).trunk  # an upward (half-plane) trunk
    with pytest.raises(ValueError, match="blind-spot"):
        RawSkipSplitUNet(net)


def test_int8_graph_keeps_the_raw_skip_and_output_in_fp32() -> None:
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from sassid.backends.onnx_graph import onnx_bytes
    from sassid.backends.quantize import conv_names, fp32_convs, quantize_onnx

    graph_bytes = onnx_bytes(RawSkipSplitUNet(_unet()).eval())
    convs = conv_names(graph_bytes)
    kept = fp32_convs(graph_bytes)
    assert len(kept) == 2 and RAW_SKIP in kept[0] and kept[1] == convs[-1]
    quantized = onnx.load_from_string(quantize_onnx(graph_bytes, [torch.rand(1, 3, 64, 64) * 255]))
    producer = {out: n.op_type for n in quantized.graph.node for out in n.output}
    weight_dq = {
        n.name: producer.get(n.input[1]) == "DequantizeLinear"
        for n in quantized.graph.node
        if n.op_type == "Conv"
    }
    assert weight_dq == {c: c not in kept for c in convs}
    assert not any(n.op_type == "Concat" and "decoder.4" in n.name for n in quantized.graph.node)


def test_int8_graph_with_matmuls_quantizes_every_convolution() -> None:
    """With channels_last_matmuls the raw skip and head are fp32 MatMuls and every Conv gets
    int8 weights; the int8 output is the NCHW graph's (same quantization, same function)."""
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from sassid.backends.onnx_backend import OnnxForward, int8_model
    from sassid.backends.onnx_graph import pad_rule

    net = _unet()
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(3)) * 255
    outs = {}
    for matmuls in (False, True):
        model = int8_model(net, [x], channels_last_matmuls=matmuls)
        graph = onnx.load_from_string(model).graph
        producer = {out: n.op_type for n in graph.node for out in n.output}
        fp32 = [
            n.name
            for n in graph.node
            if n.op_type == "Conv" and producer.get(n.input[1]) != "DequantizeLinear"
        ]
        assert len(fp32) == (0 if matmuls else 2)
        assert sum(n.op_type == "MatMul" for n in graph.node) == (2 if matmuls else 0)
        outs[matmuls] = OnnxForward(model, pad_rule(net))(x)
    with torch.no_grad():
        reference = net(x)
    error = {k: float((out - reference).abs().mean()) for k, out in outs.items()}
    assert error[True] < 1.05 * error[False]
    assert float((outs[True] - outs[False]).abs().mean()) < 0.2 * error[False]


def test_int8_matmuls_refuse_other_fp32_choices() -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from sassid.backends.onnx_backend import int8_model

    x = torch.rand(1, 3, 64, 64) * 255
    with pytest.raises(ValueError, match="channels_last_matmuls"):
        int8_model(_unet(), [x], keep_fp32="output")
    with pytest.raises(ValueError, match="channels_last_matmuls"):
        int8_model(_unet(), [x], op_types=("Conv", "Add"))
    int8_model(_unet(), [x], keep_fp32="output", channels_last_matmuls=False)  # as before
