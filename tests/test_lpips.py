"""LPIPS runs from local weight files only; absent files give a one-line note, never numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from sassid.lpips import ALEXNET_FILE, load_lpips
from tests.helpers import evaluate_json, write_noisy_images, write_tiny_model


def _fake_weights(tmp_path: Path) -> tuple[Path, Path]:
    """Random stand-ins in the real files' key layouts (torchvision AlexNet, lpips v0.1 heads)."""
    torch.manual_seed(0)
    shapes = {
        0: (64, 3, 11),
        3: (192, 64, 5),
        6: (384, 192, 3),
        8: (256, 384, 3),
        10: (256, 256, 3),
    }
    backbone = {}
    for index, (out, inp, k) in shapes.items():
        backbone[f"features.{index}.weight"] = torch.randn(out, inp, k, k) * 0.05
        backbone[f"features.{index}.bias"] = torch.zeros(out)
    heads = {
        f"lin{i}.model.1.weight": torch.rand(1, out, 1, 1)
        for i, (out, _, _) in enumerate(shapes.values())
    }
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(backbone, tmp_path / "hub" / "checkpoints" / ALEXNET_FILE)
    torch.save(heads, tmp_path / "alex.pth")
    return tmp_path / "hub" / "checkpoints" / ALEXNET_FILE, tmp_path / "alex.pth"


def test_metric_properties(tmp_path: Path) -> None:
    backbone, heads = _fake_weights(tmp_path)
    metric, reason = load_lpips(backbone, heads)
    assert metric is not None and reason == ""
    rng = np.random.default_rng(0)
    clean = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    mild = np.clip(clean + rng.normal(0, 5, clean.shape), 0, 255).astype(np.uint8)
    strong = np.clip(clean + rng.normal(0, 40, clean.shape), 0, 255).astype(np.uint8)
    assert metric.distance(clean, clean) == pytest.approx(0.0, abs=1e-7)
    assert 0 < metric.distance(mild, clean) < metric.distance(strong, clean)


def test_missing_weights_skip_with_a_note(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    metric, reason = load_lpips()
    assert metric is None and reason.startswith("LPIPS skipped: no AlexNet backbone")


def test_evaluate_cli_with_local_weights(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    backbone, heads = _fake_weights(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    data = write_noisy_images(tmp_path / "pairs", count=2)
    model = write_tiny_model(tmp_path / "model.pt")
    summary = evaluate_json(
        model,
        data,
        tmp_path / "r.json",
        "--lpips-heads",  # naming the weights asks for LPIPS: no --lpips needed
        str(heads),
        "--save-images",
        str(tmp_path / "img"),
    )
    assert "LPIPS" in capsys.readouterr().out
    # the metric of each saved (denoised, clean) pair, then the mean
    metric, _ = load_lpips(backbone, heads)
    assert metric is not None
    distances = []
    for name in ("img0", "img1"):
        strip = np.asarray(Image.open(tmp_path / "img" / f"{name}.png"))
        _, denoised, clean = np.split(strip, 3, axis=1)
        distances.append(metric.distance(denoised, clean))
    assert [r["lpips"] for r in summary["per_image"]] == pytest.approx(distances, rel=1e-5)
    assert summary["lpips"] == pytest.approx(np.mean(distances), rel=1e-5) and summary["lpips"] > 0
