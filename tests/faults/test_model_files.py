"""Damaged, foreign and NaN model files: one line naming the file, never torch's advice to
unpickle (which runs code), never a KeyError/TypeError, never a NaN image."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from sassid.checkpoint import CheckpointError, load_stage_checkpoint
from sassid.errors import SassidError
from sassid.inference import Denoiser
from sassid.models import load_networks
from tests.helpers import write_tiny_model


class Foreign:
    """Any pickled object that is not a state_dict."""


def _damage(kind: str, path: Path, good: Path) -> None:
    payload = torch.load(good, weights_only=True)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(b"\x00not a model" * 10)
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[:500])
    elif kind == "pickled object":
        path.write_bytes(pickle.dumps(Foreign()))
    elif kind == "torch object":
        torch.save(Foreign(), path)
    elif kind == "list":
        torch.save([1, 2], path)
    elif kind == "format only":
        torch.save({"format": payload["format"]}, path)
    elif kind == "edited kwargs":
        payload["nets"]["unet"]["kwargs"] = {"enc_channels": "eight"}
        torch.save(payload, path)
    elif kind == "wrong widths":
        payload["nets"]["unet"]["kwargs"] = {"enc_channels": 4, "dec_channels": 8}
        torch.save(payload, path)
    elif kind == "extra network":
        payload["nets"]["gan"] = {**payload["nets"]["unet"], "arch": "gan"}
        torch.save(payload, path)
    elif kind == "no state_dict":
        del payload["nets"]["unet"]["state_dict"]
        torch.save(payload, path)
    elif kind == "future format":
        payload["format"] = "sassid-model/9"
        torch.save(payload, path)
    elif kind == "not tensors":
        torch.save({"a": 1, "b": "x"}, path)
    elif kind == "nan weights":
        state = payload["nets"]["unet"]["state_dict"]
        next(iter(state.values())).fill_(float("nan"))
        torch.save(payload, path)
    else:
        raise AssertionError(kind)


KINDS = (
    "empty",
    "garbage",
    "truncated",
    "pickled object",
    "torch object",
    "list",
    "format only",
    "edited kwargs",
    "wrong widths",
    "extra network",
    "no state_dict",
    "future format",
    "not tensors",
    "nan weights",
)


@pytest.fixture(scope="module")
def good_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("m") / "model.pt")


@pytest.mark.parametrize("kind", KINDS)
def test_damaged_model_file(kind: str, good_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.pt"
    _damage(kind, path, good_model)
    with pytest.raises(CheckpointError) as info:
        load_networks(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "weights_only" not in message and "Unpickl" not in message
    if kind == "empty":
        assert message.endswith(": empty file")
    if kind == "nan weights":
        assert "NaN" in message


def test_stage_checkpoint_of_another_kind(good_model: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a sassid training checkpoint"):
        load_stage_checkpoint(good_model, "bnn")
    torch.save({"format": "sassid-checkpoint/1", "stage": "bnn"}, tmp_path / "c.pt")
    with pytest.raises(CheckpointError, match="not the bnn stage checkpoint"):
        load_stage_checkpoint(tmp_path / "c.pt", "bnn")


def test_non_finite_output_is_refused_not_written() -> None:
    class Broken(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * float("nan")

    denoiser = Denoiser({"unet": Broken()}, tile=0, overlap=0, source="m.pt")
    with pytest.raises(SassidError, match="m.pt: the unet network output holds NaN"):
        denoiser.pixels(np.zeros((8, 8, 3), np.uint8))


def test_lpips_weights_of_another_kind_are_skipped_in_one_line(tmp_path: Path) -> None:
    from sassid.lpips import load_lpips

    (tmp_path / "alex.pth").write_bytes(pickle.dumps(Foreign()))
    metric, reason = load_lpips(tmp_path / "alex.pth", tmp_path / "alex.pth")
    assert (
        metric is None
        and reason == f"LPIPS skipped: {tmp_path / 'alex.pth'}: not a PyTorch state_dict"
    )
