"""The bf16 self-check: right kernels pass, a wrong one is caught and named, and training and
inference fall back to fp32 where it fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import sassid.backends as backends
import sassid.train as train_module
from sassid.backends import resolve
from sassid.backends.torch_backend import torch_forward
from sassid.bf16_check import CASES, TOLERANCE, bf16_convolution_error, bf16_problem
from sassid.nets.unet import UNet
from sassid.train import train
from tests.helpers import tiny_config, write_noisy_images

BROKEN = "bfloat16 convolutions on cpu disagree with fp32 by 300% (test)"


def test_this_machines_bf16_convolutions_agree_with_fp32() -> None:
    error, where = bf16_convolution_error("cpu")
    # a failure here is the check doing its job: this machine's bf16 kernels are wrong, and
    # sassid trains and denoises in fp32 on it (the tests below cover that path)
    assert 0 < error <= TOLERANCE, where  # bf16 rounds: never exactly fp32
    assert bf16_problem("cpu") is None
    with torch.inference_mode():  # as inference calls it
        assert bf16_convolution_error("cpu") == (error, where)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as training might: the reference
        assert bf16_convolution_error("cpu") == (error, where)  # stays fp32


def test_every_case_runs_forward_and_both_gradients() -> None:
    seen = []

    def recording(x: Tensor, weight: Tensor) -> Tensor:
        seen.append((x.dtype, tuple(x.shape), tuple(weight.shape), x.requires_grad))
        return F.conv2d(x, weight, padding=weight.shape[-1] // 2)

    bf16_convolution_error("cpu", conv=recording)
    assert len(seen) == len(CASES) * 2 * 2  # two layouts, two dtypes
    assert all(needs_grad for *_, needs_grad in seen)
    assert {(1, 1)} < {w[-2:] for _, _, w, _ in seen}  # the LAN's 1x1 convolutions too
    assert min(x[-1] for _, x, _, _ in seen) == 1  # ... on 1 x 1 maps


def _wrong_on_small_maps(x: Tensor, weight: Tensor) -> Tensor:
    """A kernel like pytorch#163347's: right in fp32, a quarter of the sum on 2x2 in bf16."""
    out = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
    return out * 0.25 if x.dtype == torch.bfloat16 and x.shape[-1] == 2 else out


def test_a_wrong_bf16_kernel_is_caught_and_named() -> None:
    error, where = bf16_convolution_error("cpu", conv=_wrong_on_small_maps)
    assert error > TOLERANCE
    assert "3x3 convolution on 2x2" in where


def test_a_kernel_that_gives_nan_counts_as_the_worst() -> None:
    def nan_in_bf16(x: Tensor, weight: Tensor) -> Tensor:
        out = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
        return out * float("nan") if x.dtype == torch.bfloat16 else out

    assert bf16_convolution_error("cpu", conv=nan_in_bf16)[0] == float("inf")


def test_training_falls_back_to_fp32_where_bf16_is_wrong(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(train_module, "bf16_problem", lambda device: BROKEN)
    data = write_noisy_images(tmp_path / "data")
    with pytest.warns(UserWarning, match="training in fp32 instead"):
        train([data], tmp_path / "run", tiny_config(precision="bf16"), device="cpu", progress=False)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["precision"] == "fp32"


def test_a_resumed_bf16_run_keeps_its_precision_and_warns(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(train_module, "bf16_problem", lambda device: BROKEN)
    config = tiny_config(precision="bf16")
    with pytest.warns(UserWarning, match="resumes so"):  # its config.json says bf16
        assert train_module._trusted_precision(config, torch.device("cpu"), False) == config
    with pytest.warns(UserWarning, match="training in fp32 instead"):
        assert train_module._trusted_precision(config, torch.device("cpu"), True).precision == (
            "fp32"
        )


def test_default_precision_is_fp32_where_bf16_is_wrong(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(backends, "bf16_native", lambda device="cpu": True)
    monkeypatch.setattr(backends, "DEFAULT_BACKEND", "torch")
    monkeypatch.setattr(backends, "DEFAULT_PRECISION", "bf16")
    monkeypatch.setattr(backends, "bf16_problem", lambda device="cpu": None)
    assert resolve(None, None) == ("torch", "bf16")
    monkeypatch.setattr(backends, "bf16_problem", lambda device="cpu": BROKEN)
    with pytest.warns(UserWarning, match="running in fp32 instead"):  # said, not silent
        assert resolve(None, None) == ("torch", "fp32")
    assert resolve(None, "bf16") == ("torch", "bf16")  # asked for by name: obeyed ...


def test_bf16_asked_for_by_name_warns_where_it_is_wrong(monkeypatch) -> None:  # noqa: ANN001
    import sassid.bf16_check

    monkeypatch.setattr(sassid.bf16_check, "bf16_problem", lambda device: BROKEN)
    with pytest.warns(UserWarning, match="--precision fp32 is safer here"):  # ... not silently
        torch_forward(UNet(enc_channels=8, dec_channels=16), "bf16")
