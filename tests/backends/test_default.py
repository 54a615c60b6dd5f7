"""The default backend/precision in the code is the one the benchmark measured to be best."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sassid.backends as backends
from sassid.backends import DEFAULT_BACKEND, DEFAULT_PRECISION, FALLBACK, resolve

RESULTS = Path(__file__).resolve().parents[2] / "results" / "speed_cpu.json"


def test_default_is_the_measured_choice() -> None:
    from benchmarks.backends_speed import choose_default

    assert choose_default(_measured()) == f"{DEFAULT_BACKEND}/{DEFAULT_PRECISION}"


def _measured() -> dict:
    payload = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not payload.get("backends"):
        pytest.skip("no backends measurement in results/speed_cpu.json")
    return dict(payload["backends"])


def test_int8_threshold_is_where_its_setup_pays() -> None:
    speed = _measured()["speed"]
    int8, bf16 = speed["onnxruntime/int8"], speed["torch/bf16"]
    # megapixels m where setup + m / int8 = m / bf16 (tiled photos: 2048²)
    break_even = int8["setup_s"] / (1 / bf16["2048"] - 1 / int8["2048"])
    assert 0.5 < backends.INT8_MIN_MEGAPIXELS / break_even < 2.0


@pytest.fixture
def native(monkeypatch):  # noqa: ANN001, ANN201
    """onnxruntime installed and native bf16 that computes right, whatever this machine has."""
    monkeypatch.setattr(backends, "onnxruntime_available", lambda: True)
    monkeypatch.setattr(backends, "bf16_native", lambda device="cpu": True)
    monkeypatch.setattr(backends, "bf16_problem", lambda device="cpu": None)


def test_resolve_fills_in_what_was_left_open(native) -> None:  # noqa: ANN001
    assert resolve(None, None) == (DEFAULT_BACKEND, DEFAULT_PRECISION)
    assert resolve(None, "int8") == ("onnxruntime", "int8")
    assert resolve(None, "bf16") == ("torch", "bf16")
    assert resolve("onnxruntime", None) == (
        "onnxruntime",
        backends.BACKEND_PRECISION["onnxruntime"],
    )
    assert resolve("torch", None) == ("torch", backends.BACKEND_PRECISION["torch"])
    assert resolve("torch", "fp32") == ("torch", "fp32")


def test_default_int8_only_where_it_pays(native, monkeypatch) -> None:  # noqa: ANN001
    """Where a measurement makes int8 the default, it runs only where its setup pays."""
    monkeypatch.setattr(backends, "DEFAULT_BACKEND", "onnxruntime")
    monkeypatch.setattr(backends, "DEFAULT_PRECISION", "int8")
    big, small = 2 * backends.INT8_MIN_MEGAPIXELS, 0.5 * backends.INT8_MIN_MEGAPIXELS
    assert resolve(None, None, megapixels=big) == ("onnxruntime", "int8")
    assert resolve(None, None, megapixels=None) == ("onnxruntime", "int8")  # unknown: large
    assert resolve(None, None, megapixels=small) == FALLBACK
    assert resolve(None, None, net="fusion", megapixels=big) == FALLBACK
    assert resolve(None, None, device="cuda", megapixels=big) == FALLBACK
    assert resolve("onnxruntime", "int8", megapixels=small) == ("onnxruntime", "int8")  # asked
    assert backends.why_not_default("cpu", "unet", big) is None
    assert "megapixels" in str(backends.why_not_default("cpu", "unet", small))
    assert "U-Net" in str(backends.why_not_default("cpu", "bnn", big))
    assert "CPU" in str(backends.why_not_default("cuda", "unet", big))


def test_default_bf16_falls_back_to_fp32_without_native_bf16(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(backends, "bf16_native", lambda device="cpu": False)
    monkeypatch.setattr(backends, "onnxruntime_available", lambda: False)
    assert backends.resolve(None, None) == (FALLBACK[0], "fp32")
    assert backends.resolve(None, "bf16") == ("torch", "bf16")  # asked for: kept


def test_default_falls_back_to_torch_without_onnxruntime(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(backends, "onnxruntime_available", lambda: False)
    assert backends.resolve(None, None)[0] == "torch"
    assert backends.resolve(None, None, device="cuda")[0] == "torch"
