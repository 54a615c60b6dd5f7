"""The folded U-Net computes the U-Net's function: checked in float64, where a wrong phase, tap
or offset shows as a difference of the size of the output, not of rounding."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from sassid.backends.torch_backend import torch_forward
from sassid.nets import BNN, LAN, UNet
from sassid.nets.folded import FoldedUNet, FoldedUpConv, fold_upsampling


def _unet(enc: int, dec: int) -> UNet:
    torch.manual_seed(enc + dec)
    return UNet(enc_channels=enc, dec_channels=dec).double().eval()


@pytest.mark.parametrize(("enc", "dec"), [(48, 96), (32, 64), (4, 8)])
@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (2, 3, 37, 70)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_folded_unet_equals_unet_in_float64(
    enc: int, dec: int, shape: tuple[int, ...], channels_last: bool
) -> None:
    unet = _unet(enc, dec)
    folded = fold_upsampling(unet)
    assert isinstance(folded, FoldedUNet)
    x = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 255
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        want, got = unet(x), folded(x)
    assert got.shape == want.shape
    assert torch.allclose(got, want, rtol=0, atol=1e-9 * want.abs().max().item())


def test_both_skip_paths_are_taken() -> None:
    """The last stage folds its 3-channel skip in; the others add theirs at full resolution."""
    folded = fold_upsampling(_unet(8, 16))
    assert isinstance(folded, FoldedUNet)
    kinds = [m.skip is None for m in folded.first if isinstance(m, FoldedUpConv)]
    assert kinds == [False, False, False, False, True]


def test_folding_leaves_the_unet_and_other_networks_alone() -> None:
    unet = _unet(4, 8)
    before = copy.deepcopy(unet.state_dict())
    fold_upsampling(unet)
    assert all(torch.equal(before[k], v) for k, v in unet.state_dict().items())
    bnn, lan = BNN(9, enc_channels=8, dec_channels=16), LAN(3, width=16)
    assert fold_upsampling(bnn) is bnn
    assert fold_upsampling(lan) is lan


def test_upward_trunk_is_refused() -> None:
    unet = _unet(4, 8)
    unet.trunk.upward = True
    with pytest.raises(ValueError, match="upwards"):
        FoldedUNet(unet)


def test_torch_backend_runs_the_folded_unet_in_bf16() -> None:
    """fold=True and fold=False agree to bf16 rounding, and both stay near fp32."""
    torch.manual_seed(0)
    unet = UNet(enc_channels=8, dec_channels=16).eval()
    x = torch.rand(1, 3, 70, 50, generator=torch.Generator().manual_seed(2)) * 255
    with torch.no_grad():
        ref = unet(x)
        folded = torch_forward(unet, "bf16", fold=True)(x)
        plain = torch_forward(unet, "bf16", fold=False)(x)
    scale = ref.abs().max().item()
    assert (folded - ref).abs().max().item() < 0.05 * scale
    assert (folded - plain).abs().max().item() < 0.05 * scale
    # fp32 in channels_last: folding changes only the summation order.
    with torch.no_grad():
        fp32 = torch_forward(unet, "fp32", fold=True)(x)
    assert (fp32 - ref).abs().max().item() < 1e-4 * scale


def test_torch_backend_folds_by_default_on_the_cpu(monkeypatch) -> None:  # noqa: ANN001
    import sassid.backends.torch_backend as backend

    folded: list[nn.Module] = []

    def spy(net: nn.Module) -> nn.Module:
        folded.append(net)
        return fold_upsampling(net)

    monkeypatch.setattr(backend, "fold_upsampling", spy)
    unet = UNet(enc_channels=8, dec_channels=16).eval()
    backend.torch_forward(unet, "bf16")
    assert folded == [unet]
    backend.torch_forward(unet, "bf16", fold=False)
    assert folded == [unet]


def test_folded_unet_exports_for_every_size() -> None:
    """A traced graph records strided views with the example's strides; the tracing path uses
    slices and pixel_shuffle, so the ONNX graph is right at sizes other than the traced one."""
    pytest.importorskip("onnxruntime")
    from sassid.backends.onnx_backend import OnnxForward
    from sassid.backends.onnx_graph import onnx_bytes, pad_rule

    unet = UNet(enc_channels=8, dec_channels=16).eval()
    folded = fold_upsampling(unet)
    forward = OnnxForward(onnx_bytes(folded), pad_rule(folded))
    for shape in [(1, 3, 37, 70), (2, 3, 130, 96)]:
        x = torch.rand(shape, generator=torch.Generator().manual_seed(4)) * 255
        with torch.no_grad():
            want = unet(x)
        assert (forward(x) - want).abs().max().item() < 1e-4 * want.abs().max().item()
