"""The raw-input skip split: same function as the U-Net, and the int8 graph keeps the raw
input's convolution in fp32."""

from __future__ import annotations

import pytest
import torch

from sassid.backends.raw_skip import RAW_SKIP, RawSkipSplitUNet
from sassid.nets import BNN, UNet


def _unet() -> UNet:
    torch.manual_seed(0)
    return UNet(enc_channels=8, dec_channels=16).eval()


@pytest.mark.parametrize("size", [(64, 64), (70, 50)])
def test_split_computes_the_same_function(size: tuple[int, int]) -> None:
    net = _unet()
    split = RawSkipSplitUNet(net).eval()
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1)) * 255
    with torch.no_grad():
        expected, out = net(x), split(x)
    assert out.shape == expected.shape
    assert float((out - expected).abs().max()) < 1e-4 * float(expected.abs().max())
    assert split.features.in_channels == 16 and split.raw_skip.in_channels == 3


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
