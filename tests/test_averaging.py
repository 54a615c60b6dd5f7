"""The weight average: its decay, its update rule, and a training stage that ends on it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import sassid.train as train_module
from sassid.averaging import WeightAverage, ema_decay
from sassid.checkpoint import load_file
from sassid.errors import ConfigError
from sassid.models import load_model
from sassid.train import train
from tests.helpers import tiny_config, write_noisy_images


def test_decay_warms_up_then_spans_the_window() -> None:
    assert ema_decay(0, 1000, 0.1) == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    assert ema_decay(10**6, 1000, 0.1) == pytest.approx(1 - 1 / 100)
    assert ema_decay(10**6, 1000, 0.0001) == 0.0  # a window under one step: the last weights


def test_update_is_the_exponential_average_and_copies_back() -> None:
    torch.manual_seed(0)
    net = nn.Conv2d(2, 3, 3)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    average = WeightAverage(net)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    average.update(net, decay=0.75)
    for k, v in average.state_dict().items():
        torch.testing.assert_close(v, 0.75 * start[k] + 0.25 * (start[k] + 1.0))
    average.copy_to(net)
    torch.testing.assert_close(net.weight, 0.75 * start["weight"] + 0.25 * (start["weight"] + 1))
    with pytest.raises(KeyError, match="mismatched"):
        average.load_state_dict({"weight": net.weight})


def test_ema_window_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"\[bnn\] ema_window"):
        tiny_config(bnn={"ema_window": 1.5})


def test_a_stage_ends_on_its_average_and_resumes_it(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    data = write_noisy_images(tmp_path / "data")
    plain = train([data], tmp_path / "plain", tiny_config(), device="cpu", progress=False)
    config = tiny_config(bnn={"ema_window": 0.5})
    averaged = train([data], tmp_path / "whole", config, device="cpu", progress=False)
    bnn_plain, bnn_avg = load_model(plain)["bnn"], load_model(averaged)["bnn"]
    pairs = zip(bnn_plain.parameters(), bnn_avg.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs), "the average changed the result"
    last = load_file(tmp_path / "whole" / "checkpoints" / "bnn.pt")
    for k, v in last["weight_average"].items():  # the stage's result is its average
        torch.testing.assert_close(last["nets"]["bnn"][k], v)
    assert "weight_average" not in load_file(tmp_path / "whole" / "checkpoints" / "lan.pt")

    real_save = train_module.save_atomic

    def save_then_die(payload, path):  # noqa: ANN001, ANN202
        real_save(payload, path)
        if (payload.get("stage"), payload.get("step")) == ("bnn", 2) and "optimizer" in payload:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "save_atomic", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train([data], tmp_path / "split", config, device="cpu", progress=False)
    monkeypatch.undo()
    resumed = train([data], tmp_path / "split", config, device="cpu", progress=False, resume=True)
    for name, net in load_model(averaged).items():
        for k, v in net.state_dict().items():
            torch.testing.assert_close(load_model(resumed)[name].state_dict()[k], v)
