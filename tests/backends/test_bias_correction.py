"""Bias correction: each layer's mean offset against the fp32 graph is removed, in graph order."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sassid.backends.raw_skip import RawSkipSplitUNet
from sassid.nets import UNet

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402

from sassid.backends.bias_correction import bias_sites, correct_biases  # noqa: E402
from sassid.backends.onnx_backend import OnnxForward, int8_model, open_session  # noqa: E402
from sassid.backends.onnx_graph import onnx_bytes, pad_rule  # noqa: E402


def _unet(zero_biases: bool = False) -> UNet:
    """A small U-Net; its biases random (as trained ones are) unless ``zero_biases`` (as at
    initialization: the exporter then shares one zero initializer between layers)."""
    torch.manual_seed(0)
    net = UNet(enc_channels=8, dec_channels=16).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.copy_(torch.randn_like(m.bias) * (0.0 if zero_biases else 0.1))
    return net


def _crops(count: int = 2) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(5)
    return [torch.rand(1, 3, 64, 64, generator=g) * 255 for _ in range(count)]


def _biases(model: bytes) -> dict[str, np.ndarray]:
    graph = onnx.load_from_string(model).graph
    return {i.name: numpy_helper.to_array(i) for i in graph.initializer if i.name.endswith("bias")}


@pytest.mark.parametrize("zero_biases", [False, True])
@pytest.mark.parametrize("matmuls", [False, True])
def test_sites_are_every_bias_in_graph_order(matmuls: bool, zero_biases: bool) -> None:
    net = _unet(zero_biases)
    model = onnx_bytes(RawSkipSplitUNet(net, channels_last_matmuls=matmuls))
    sites = bias_sites(model)
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    # the split's two convolutions replace decoder.4.0, the raw-input one without a bias; with
    # matmuls that one and the head are MatMuls, the head's bias an Add
    assert len(sites) == convs
    assert len({s.bias for s in sites}) == convs
    assert sites[-1].bias.endswith("head.bias") and sites[-1].axis == (-1 if matmuls else 1)
    assert all(s.axis == 1 for s in sites[:-1])


def test_offsets_put_into_the_biases_are_taken_out() -> None:
    """A graph whose biases were moved by known offsets (every layer after a LeakyReLU, so an
    earlier offset also shifts later means) gets its fp32 biases back, layer by layer."""
    fp32 = onnx_bytes(_unet())
    proto = onnx.load_from_string(fp32)
    rng = np.random.default_rng(0)
    for init in proto.graph.initializer:
        if init.name.endswith("bias"):
            moved = numpy_helper.to_array(init) + rng.normal(0, 0.05, init.dims[0])
            init.CopyFrom(numpy_helper.from_array(moved.astype(np.float32), init.name))
    shifted = proto.SerializeToString()
    corrected = correct_biases(shifted, fp32, _crops(), lambda m: open_session(m, None))
    want, got, before = _biases(fp32), _biases(corrected), _biases(shifted)
    assert want.keys() == got.keys() and len(want) > 10
    for name in want:
        assert np.abs(got[name] - want[name]).max() < 2e-3, name
        assert np.abs(before[name] - want[name]).max() > 1e-2, name


def test_int8_output_mean_matches_fp32_on_the_calibration_crops() -> None:
    net = _unet()
    crops = _crops()
    with torch.no_grad():
        reference = torch.cat([net(x) for x in crops]).mean((0, 2, 3))
    offsets = {}
    for corrected in (False, True):
        forward = OnnxForward(int8_model(net, crops, bias_correction=corrected), pad_rule(net))
        mean = torch.cat([forward(x) for x in crops]).mean((0, 2, 3))
        offsets[corrected] = float((mean - reference).abs().max())
    assert offsets[True] < 1e-3 < offsets[False]
