"""Wrong results with exit 0, now refused or correct: mixed bit depths, tiny SSIM, SIDD blocks
of every stored type, diverging training, metrics.jsonl after a resume."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from sassid.errors import SassidError, TrainingError
from sassid.evaluate import iter_pairs
from sassid.formats.sidd import read_blocks
from sassid.metrics import MetricError, psnr, ssim
from tests.faults.cases import pairs
from tests.helpers import tiny_config, write_noisy_images


def test_mixed_bit_depths_are_refused_by_metrics() -> None:
    deep = np.full((16, 16, 3), 257 * 100, np.uint16)
    flat = np.full((16, 16, 3), 100, np.uint8)
    for metric in (psnr, ssim):
        with pytest.raises(MetricError, match="bit depths differ"):
            metric(deep, flat)


def test_evaluate_scores_16_bit_against_8_bit_on_one_scale(tmp_path: Path) -> None:
    folder = pairs(tmp_path, deep_noisy=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        [(_, noisy, clean)] = list(iter_pairs(folder))
    assert noisy.dtype == clean.dtype == np.uint8
    assert any("16-bit" in str(w.message) for w in caught)
    assert psnr(noisy, clean) > 0


def test_tiny_ssim_is_an_error_not_nan() -> None:
    one = np.zeros((1, 1, 3), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MetricError, match="at least 11x11"):
            ssim(one, one)
        assert ssim(one, one, "matlab3d") == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (np.array([0.0, 0.5, 1.0]), [0, 128, 255]),
        (np.array([0, 257 * 200, 65535], np.uint16), [0, 200, 255]),
        (np.array([0, 7, 255], np.uint8), [0, 7, 255]),
    ],
)
def test_sidd_blocks_are_scaled_by_type(stored: np.ndarray, expected: list, tmp_path: Path) -> None:
    blocks = np.zeros((1, 1, 3, 4, 3), stored.dtype)
    blocks[0, 0] = stored[:, None, None]  # row i holds value i
    savemat(tmp_path / "b.mat", {"other": np.zeros(5), "BenchmarkNoisyBlocksSrgb": blocks})
    read = read_blocks(tmp_path / "b.mat")  # picks the known key, not the first array
    assert read.dtype == np.uint8 and read[0, 0, :, 0, 0].tolist() == expected


def test_float_blocks_outside_unit_range_are_refused(tmp_path: Path) -> None:
    savemat(tmp_path / "b.mat", {"x": np.full((1, 1, 2, 2, 3), 3.0)})
    with pytest.raises(SassidError, match=r"b\.mat: float blocks must lie in \[0, 1\]"):
        read_blocks(tmp_path / "b.mat")


@pytest.fixture()
def noisy(tmp_path: Path) -> Path:
    return write_noisy_images(tmp_path / "noisy", count=2)


def test_diverging_loss_stops_without_a_model(noisy: Path, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import sassid.stages
    from sassid.train import train

    monkeypatch.setattr(
        sassid.stages, "bnn_loss", lambda out, noisy, *_: (out * float("nan")).mean()
    )
    run = tmp_path / "run"
    with pytest.raises(TrainingError, match="bnn stage, step 1: the loss is nan"):
        train([noisy], run, tiny_config(), device="cpu", progress=False)
    assert not (run / "model.pt").exists()
    assert not (run / "checkpoints" / "bnn.pt").exists()


def test_resume_drops_metrics_past_the_checkpoint(tmp_path: Path) -> None:
    """As after a kill in stage 2 past its last checkpoint (LAN saved at step 2): the log holds
    LAN step 3, a U-Net line and a cut last line; a resumed run keeps the rest only."""
    from sassid.train import MetricsLog

    kept = [
        {"stage": "bnn", "step": 4, "loss": 1.0},
        {"stage": "bnn", "step": 4, "stage_seconds": 2.0, "steps_run": 4},
        {"stage": "lan", "step": 2, "loss": None},
    ]
    dropped = [{"stage": "lan", "step": 3, "loss": 0.5}, {"stage": "unet", "step": 1, "loss": 2}]
    path = tmp_path / "metrics.jsonl"
    lines = [json.dumps(r) for r in kept + dropped] + ['{"stage": "lan", "st']
    path.write_text("\n".join(lines) + "\n")
    log = MetricsLog(tmp_path, enabled=True)
    log.trim({"bnn": 4, "lan": 2})
    log.write({"stage": "lan", "step": 3, "loss": float("nan")})
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records == [*kept, {"stage": "lan", "step": 3, "loss": None}]
