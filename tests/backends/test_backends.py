"""Inference backends: every backend and precision runs through the same Denoiser, and each one
is checked against the fp32 eager network (tiny random networks, small images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sassid.backends import make_forward
from sassid.backends.onnx_backend import OnnxForward
from sassid.backends.onnx_graph import pad_rule
from sassid.errors import SassidError
from sassid.inference import Denoiser
from sassid.nets import BNN, LAN, UNet
from tests.helpers import write_noisy_images

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")


def _nets() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {
        "unet": UNet(enc_channels=8, dec_channels=16).eval(),
        "bnn": BNN(9, enc_channels=8, dec_channels=16).eval(),
        "lan": LAN(3, width=16).eval(),
    }


def _image(h: int = 70, w: int = 50) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1)) * 255


@pytest.mark.parametrize("name", ["unet", "bnn", "lan"])
def test_onnxruntime_fp32_matches_torch_on_odd_sizes(name: str) -> None:
    net = _nets()[name]
    forward = make_forward(net, "onnxruntime", "fp32", name=name)
    for h, w in ((70, 50), (33, 96)):
        x = _image(h, w)
        with torch.inference_mode():
            expected = net(x)
        out = forward(x)
        assert out.shape == expected.shape
        assert float((out - expected).abs().max()) < 1e-2


def test_torch_bf16_is_close_but_not_fp32() -> None:
    net = _nets()["unet"]
    x = _image()
    with torch.inference_mode():
        expected = net(x)
        out = make_forward(net, "torch", "bf16")(x)
    assert out.dtype == torch.float32
    diff = (out - expected).abs()
    assert float(diff.max()) > 1e-3  # it really ran in bf16
    assert float(diff.mean()) < 2.0


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_torch_backend_hands_its_network_a_dense_channels_last_copy(precision: str) -> None:
    """A (1, 3, H, W) view of an HWC array counts as channels_last but keeps a batch stride of
    3; oneDNN ran it 1.4x slower, so the backend copies every input to canonical strides."""
    seen: list[tuple[int, ...]] = []

    class Probe(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.stride())
            return self.conv(x)

    hwc = np.random.default_rng(0).uniform(0, 255, (16, 24, 3)).astype(np.float32)
    view = torch.from_numpy(hwc.transpose(2, 0, 1))[None]  # strides (3, 1, 72, 3)
    dense = view.contiguous()
    forward = make_forward(Probe(), "torch", precision)
    with torch.inference_mode():
        out_view, out_dense = forward(view), forward(dense)
    assert seen == [(16 * 24 * 3, 1, 24 * 3, 3)] * 2
    assert torch.equal(out_view, out_dense) and out_view.is_contiguous()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 runs on CUDA only")
def test_torch_fp16_on_cuda_is_close() -> None:
    net = _nets()["unet"].cuda()
    x = _image().cuda()
    with torch.inference_mode():
        expected = net(x)
        out = make_forward(net, "torch", "fp16", device="cuda")(x)
    assert out.dtype == torch.float32
    assert float((out - expected).abs().mean()) < 0.5


def test_int8_is_quantized_and_close(tmp_path: Path) -> None:
    from sassid.backends.quantize import calibration_crops

    images = write_noisy_images(tmp_path / "cal", count=2, size=(64, 96))
    crops = calibration_crops(sorted(images.glob("*_noisy.png")), size=64, count=4)
    assert len(crops) == 4 and all(c.shape == (1, 3, 64, 64) for c in crops)
    assert 0 <= float(min(c.min() for c in crops)) and float(max(c.max() for c in crops)) <= 255
    net = _nets()["unet"]
    forward = make_forward(net, "onnxruntime", "int8", calibration=crops)
    assert isinstance(forward, OnnxForward)
    ops = {n.op_type for n in onnx.load_from_string(forward.model).graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    x = crops[0]
    with torch.inference_mode():
        expected = net(x)
    err = (forward(x) - expected).abs()
    assert float(err.max()) > 1e-3  # really quantized
    # A random network's 8-bit error compounds over 19 layers; a trained one is measured in
    # benchmarks/speed.py. This only rules out a broken graph (error of the signal's size).
    assert float(err.mean()) < 0.1 * float(expected.abs().mean())


def test_quantize_onnx_chooses_op_types_and_fp32_nodes() -> None:
    from sassid.backends.onnx_graph import onnx_bytes
    from sassid.backends.quantize import conv_names, quantize_onnx

    net = _nets()["unet"]
    fp32 = onnx_bytes(net)
    convs = conv_names(fp32)
    assert len(convs) == 18 and convs[-1].startswith("/head")
    crops = [_image(64, 64)]

    def weight_is_quantized(model: bytes) -> dict[str, bool]:
        graph = onnx.load_from_string(model).graph
        producer = {out: node.op_type for node in graph.node for out in node.output}
        return {
            n.name: producer.get(n.input[1]) == "DequantizeLinear"
            for n in graph.node
            if n.op_type == "Conv"
        }

    def quantized_inputs(model: bytes, op_type: str) -> int:
        graph = onnx.load_from_string(model).graph
        producer = {out: node.op_type for node in graph.node for out in node.output}
        return sum(
            producer.get(n.input[0]) == "DequantizeLinear"
            for n in graph.node
            if n.op_type == op_type
        )

    default = quantize_onnx(fp32, crops)  # convolutions only, the output one in fp32
    assert weight_is_quantized(default) == {c: c != convs[-1] for c in convs}
    assert quantized_inputs(default, "MaxPool") == 0
    every_op = quantize_onnx(fp32, crops, op_types=None)
    assert weight_is_quantized(every_op) == weight_is_quantized(default)
    assert quantized_inputs(every_op, "MaxPool") > 0
    conv_only = quantize_onnx(fp32, crops, op_types=["Conv"], keep_fp32=[convs[-3], convs[-1]])
    assert weight_is_quantized(conv_only) == {c: c not in (convs[-3], convs[-1]) for c in convs}
    assert quantized_inputs(conv_only, "Conv") == 16
    x = crops[0]
    with torch.inference_mode():
        expected = net(x)
    err = (OnnxForward(conv_only, pad_rule(net))(x) - expected).abs()
    assert 1e-3 < float(err.max()) and float(err.mean()) < 0.1 * float(expected.abs().mean())


def test_unsupported_combinations_fail_in_one_line() -> None:
    net = _nets()["unet"]
    with pytest.raises(SassidError, match="calibration"):
        make_forward(net, "onnxruntime", "int8", calibration=None)
    with pytest.raises(SassidError, match="bf16"):
        make_forward(net, "onnxruntime", "bf16")
    with pytest.raises(SassidError, match="int8"):
        make_forward(net, "torch", "int8")
    with pytest.raises(SassidError, match="fp16 runs on CUDA only"):
        make_forward(net, "torch", "fp16", device="cpu")
    with pytest.raises(SassidError, match="unknown backend"):
        make_forward(net, "tvm", "fp32")


@pytest.mark.parametrize("net", ["unet", "fusion"])
def test_denoiser_tiles_every_backend_alike(net: str) -> None:
    nets = _nets()
    x = _image(96, 80)
    reference = Denoiser(dict(nets), net=net, tile=64, overlap=16).tensor(x)
    onnx = Denoiser(dict(nets), net=net, tile=64, overlap=16, backend="onnxruntime").tensor(x)
    assert float((onnx - reference).abs().max()) < 1e-2
    assert "onnxruntime" in Denoiser(dict(nets), net=net, backend="onnxruntime").describe()


def test_non_finite_output_fails_instead_of_writing() -> None:
    pixels = np.full((8, 8, 3), 100, np.uint8)
    denoiser = Denoiser(_nets(), forward=lambda t: t * float("nan"))
    with pytest.raises(SassidError, match="NaN or infinite"):
        denoiser.pixels(pixels)


def test_pixels_in_bands_equal_one_pass() -> None:
    from sassid.pixels import from_pixels, to_pixels

    rng = np.random.default_rng(0)
    for dtype, top in ((np.uint8, 255), (np.uint16, 65535)):
        pixels = (rng.random((600, 20, 3)) * top).astype(dtype)
        denoiser = Denoiser(_nets(), tile=0, forward=lambda t: t * 0.9 + 3.3)
        once = torch.from_numpy(to_pixels(pixels)) * 0.9 + 3.3
        expected = from_pixels(once.numpy(), dtype)
        assert np.array_equal(denoiser.pixels(pixels), expected)


def test_int8_equalizes_on_the_first_crops_and_calibrates_on_all(monkeypatch) -> None:
    import sassid.backends.equalize as equalize
    import sassid.backends.quantize as quantize
    from sassid.backends.onnx_backend import int8_model

    seen: dict[str, int] = {}
    real_equalize, real_quantize = equalize.equalize_unet, quantize.quantize_onnx

    def counting_equalize(unet, calibration, *args, **kwargs):
        seen["equalize"] = len(calibration)
        return real_equalize(unet, calibration, *args, **kwargs)

    def counting_quantize(model, calibration, *args, **kwargs):
        seen["quantize"] = len(calibration)
        return real_quantize(model, calibration, *args, **kwargs)

    monkeypatch.setattr(equalize, "equalize_unet", counting_equalize)
    monkeypatch.setattr(quantize, "quantize_onnx", counting_quantize)
    crops = [_image(64, 64) for _ in range(3)]
    int8_model(_nets()["unet"], crops, equalize_crops=2)
    assert seen == {"equalize": 2, "quantize": 3}
    int8_model(_nets()["unet"], crops)  # the default: EQUALIZE_CROPS, at most all of them
    assert seen["equalize"] == min(equalize.EQUALIZE_CROPS, 3)


def test_int8_session_runs_without_the_nchwc_layout(tmp_path: Path) -> None:
    """The name in INT8_DISABLED_OPTIMIZERS does remove onnxruntime's NCHWc nodes (a renamed
    optimizer would be ignored silently), and the function stays the same."""
    import onnx
    import onnxruntime as ort

    from sassid.backends.onnx_backend import INT8_DISABLED_OPTIMIZERS, int8_model

    net = _nets()["unet"]
    x = _image(64, 96)
    # the graph with fp32 NCHW convolutions (the default has none: channels-last matmuls)
    model = int8_model(net, [x], channels_last_matmuls=False)

    def nchwc_nodes(disabled: tuple[str, ...]) -> int:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = tmp_path / f"opt{len(disabled)}.onnx"
        options.optimized_model_filepath = str(path)
        extra = {"disabled_optimizers": list(disabled)} if disabled else {}
        ort.InferenceSession(model, options, providers=["CPUExecutionProvider"], **extra)
        return sum(node.domain.endswith("nchwc") for node in onnx.load(str(path)).graph.node)

    assert nchwc_nodes(()) > 0
    assert nchwc_nodes(INT8_DISABLED_OPTIMIZERS) == 0
    plain = OnnxForward(model, pad_rule(net))(x)
    shipped = OnnxForward(model, pad_rule(net), disabled_optimizers=INT8_DISABLED_OPTIMIZERS)(x)
    assert float((shipped - plain).abs().mean()) < 0.05
