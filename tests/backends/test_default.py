"""The default backend/precision in the code is the one the benchmark measured to be best."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sassid.backends import DEFAULT_BACKEND, DEFAULT_PRECISION, resolve

RESULTS = Path(__file__).resolve().parents[2] / "results" / "speed_cpu.json"


def test_default_is_the_measured_choice() -> None:
    from benchmarks.backends_speed import choose_default

    payload = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if not payload.get("backends"):
        pytest.skip("no backends measurement in results/speed_cpu.json")
    assert choose_default(payload["backends"]) == f"{DEFAULT_BACKEND}/{DEFAULT_PRECISION}"


def test_resolve_fills_in_what_was_left_open() -> None:
    assert resolve(None, None) == (DEFAULT_BACKEND, DEFAULT_PRECISION)
    assert resolve(None, "int8") == ("onnxruntime", "int8")
    assert resolve(None, "bf16") == ("torch", "bf16")
    assert resolve("onnxruntime", None)[0] == "onnxruntime"
    assert resolve("torch", "fp32") == ("torch", "fp32")


def test_default_bf16_falls_back_to_fp32_without_native_bf16(monkeypatch) -> None:  # noqa: ANN001
    import sassid.backends as backends

    monkeypatch.setattr(backends, "bf16_native", lambda device="cpu": False)
    backend, precision = backends.resolve(None, None)
    assert precision == ("fp32" if DEFAULT_PRECISION == "bf16" else DEFAULT_PRECISION)
    assert backends.resolve(None, "bf16") == ("torch", "bf16")  # asked for: kept
