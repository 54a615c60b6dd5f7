"""`sassid denoise --backend/--precision/--calibrate` through the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sassid.backends import BACKEND_PRECISION, DEFAULT_BACKEND
from sassid.cli import main
from sassid.io import read_image
from tests.helpers import write_noisy_images, write_tiny_model

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _denoise(tmp_path: Path, *extra: str) -> int:
    data = tmp_path / "in"
    if not data.exists():
        write_noisy_images(data, count=2)
    model = tmp_path / "model.pt"
    if not model.exists():
        write_tiny_model(model)
    out = str(tmp_path / "out")  # reruns replace its photos
    argv = ["denoise", str(data), "-o", out, "-m", str(model), "-q", "--device", "cpu"]
    return main([*argv, "--overwrite", *extra])


@pytest.mark.parametrize(
    ("options", "line"),
    [
        # a small job: sassid.backends.FALLBACK, and why (where the default is int8)
        ((), "not the default" if DEFAULT_BACKEND == "onnxruntime" else None),
        (("--precision", "bf16"), "backend torch, precision bf16"),
        (
            ("--backend", "onnxruntime"),
            f"backend onnxruntime, precision {BACKEND_PRECISION['onnxruntime']}",
        ),
        (
            ("--backend", "onnxruntime", "--precision", "fp32"),
            "backend onnxruntime, precision fp32",
        ),
        (("--precision", "int8"), "backend onnxruntime, precision int8"),
    ],
)
def test_denoise_prints_backend_and_writes(tmp_path: Path, capsys, options, line) -> None:  # noqa: ANN001
    assert _denoise(tmp_path, *options) == 0
    out = capsys.readouterr().out
    assert "backend " in out and "precision " in out
    if line:
        assert line in out
    written = sorted((tmp_path / "out").glob("*.png"))
    assert len(written) == 4
    noisy = read_image(tmp_path / "in" / "img0_noisy.png").pixels
    assert read_image(tmp_path / "out" / "img0_noisy.png").pixels.shape == noisy.shape


def test_int8_calibrates_on_a_folder_given(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    write_noisy_images(tmp_path / "cal", count=1, size=(64, 64))
    assert _denoise(tmp_path, "--precision", "int8", "--calibrate", str(tmp_path / "cal")) == 0
    capsys.readouterr()
    empty = tmp_path / "empty"
    empty.mkdir()
    code = _denoise(tmp_path, "--precision", "int8", "--calibrate", str(empty))
    err = capsys.readouterr().err
    assert code == 2 and f"{empty}: no image to calibrate" in err and err.count("\n") == 1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n cut short")
    code = _denoise(tmp_path, "--precision", "int8", "--calibrate", str(broken))
    err = capsys.readouterr().err
    assert code == 2 and "no readable image to calibrate" in err and "shot.png" in err
    code = _denoise(tmp_path, "--precision", "bf16", "--calibrate", str(tmp_path / "cal"))
    assert code == 2 and "--calibrate is for --precision int8 only" in capsys.readouterr().err


def test_bf16_on_onnxruntime_is_refused_in_one_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code = _denoise(tmp_path, "--backend", "onnxruntime", "--precision", "bf16")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "bf16" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert np.all([p.suffix == ".png" for p in (tmp_path / "in").iterdir()])
