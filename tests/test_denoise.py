"""denoise_files: every written photo is judged against its input (the per-photo check)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter

from sassid.denoise import denoise_files
from sassid.inference import Denoiser
from tests.helpers import write_tiny_model


def _photos(folder: Path) -> Path:
    """Two 96 x 128 photos: a flat top (noise std 8) over stripes."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:128]
    clean = 90 + 60 * (np.sin(xx / 3.0) > 0) * (yy > 48)
    for i in range(2):
        noisy = clean[..., None] + 10 * i + rng.normal(0, 8, (96, 128, 3))
        Image.fromarray(np.clip(np.round(noisy), 0, 255).astype(np.uint8)).save(
            folder / f"p{i}.png"
        )
    return folder


def _tint(_self: Denoiser, y: np.ndarray, on_tile: object = None) -> np.ndarray:
    """A stand-in for ``Denoiser.pixels`` that casts every photo 20 levels blue."""
    return np.clip(y.astype(int) + [0, 0, 20], 0, 255).astype(np.uint8)


@pytest.mark.parametrize(
    ("spoil", "doubtful"),
    [
        (lambda y: gaussian_filter(y.astype(float), (2, 2, 0)), []),  # removes about the noise
        (lambda y: gaussian_filter(y.astype(float), (2, 2, 0)) + [0, 0, 15], ["p0.png", "p1.png"]),
    ],
)
def test_each_photo_is_judged(tmp_path: Path, monkeypatch, capsys, spoil, doubtful) -> None:  # noqa: ANN001
    monkeypatch.setattr(
        Denoiser,
        "pixels",
        lambda self, y, on_tile=None: np.clip(np.round(spoil(y)), 0, 255).astype(np.uint8),
    )
    model = write_tiny_model(tmp_path / "model.pt")
    inputs = _photos(tmp_path / "in")
    report = denoise_files([inputs], tmp_path / "out", model, device="cpu", progress=False)
    assert len(report.written) == 2  # a doubtful photo is still written
    assert sorted(p.name for p, _ in report.doubtful) == doubtful
    err = capsys.readouterr().err
    assert err.count("sassid: warning:") == len(doubtful)
    if doubtful:
        assert "/+15.0 levels" in report.doubtful[0][1] and "p0.png" in err
    unchecked = denoise_files(
        [inputs], tmp_path / "out2", model, device="cpu", progress=False, check=False
    )
    assert unchecked.doubtful == []


def test_cli_counts_doubtful_photos(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    from sassid.cli import main

    monkeypatch.setattr(Denoiser, "pixels", _tint)
    model = write_tiny_model(tmp_path / "model.pt")
    inputs = _photos(tmp_path / "in")
    args = ["denoise", str(inputs), "-m", str(model), "-q", "--device", "cpu"]
    assert main([*args, "-o", str(tmp_path / "a")]) == 0  # written: a warning, not a failure
    assert "2 written, 0 failed, 2 doubtful (see warnings)" in capsys.readouterr().out
    assert main([*args, "-o", str(tmp_path / "b"), "--no-check"]) == 0
    captured = capsys.readouterr()
    assert "doubtful" not in captured.out and "warning" not in captured.err


def test_report_reuses_the_verdict_of_denoise(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """With --report, each photo is judged once and the report prints that verdict."""
    import sassid.denoise
    import sassid.report.build
    from sassid.cli import main
    from sassid.reliability import judge_photo

    monkeypatch.setattr(Denoiser, "pixels", _tint)
    calls: list[str] = []

    def counted(name: str, noisy: np.ndarray, denoised: np.ndarray):  # noqa: ANN202
        calls.append(name)
        return judge_photo(name, noisy, denoised)

    monkeypatch.setattr(sassid.denoise, "judge_photo", counted)
    monkeypatch.setattr(sassid.report.build, "judge_photo", counted)
    model = write_tiny_model(tmp_path / "model.pt")
    inputs = _photos(tmp_path / "in")
    html = tmp_path / "report.html"
    args = ["denoise", str(inputs), "-m", str(model), "-q", "--device", "cpu"]
    assert main([*args, "-o", str(tmp_path / "out"), "--report", str(html)]) == 0
    assert sorted(calls) == ["p0.png", "p1.png"]
    assert html.read_text().count("Doubtful: the output departs from the input") == 2


def test_a_photo_whose_gate_the_guard_lowers_is_noted(tmp_path: Path, monkeypatch, capsys) -> None:  # noqa: ANN001
    """A model that smooths the stripes away: the guard lowers its gate and says so."""
    import torch

    def smear(_self: Denoiser, x: torch.Tensor, on_tile: object = None) -> torch.Tensor:
        return torch.from_numpy(gaussian_filter(x.numpy(), (0, 0, 3, 3)))

    monkeypatch.setattr(Denoiser, "tensor", smear)
    monkeypatch.setattr(Denoiser, "_plain_output", lambda self, y: gaussian_filter(y, (0, 3, 3)))
    model = write_tiny_model(tmp_path / "model.pt", config={"noise_gate": 2.0})
    inputs = _photos(tmp_path / "in")
    report = denoise_files([inputs], tmp_path / "out", model, device="cpu", progress=False)
    assert "p1.png" in {p.name for p, _ in report.guarded}  # p0's stripes read as noise
    assert capsys.readouterr().err.count("worse than the input here") == len(report.guarded)
    plain = denoise_files(
        [inputs], tmp_path / "out2", model, device="cpu", progress=False, guard=False
    )
    assert plain.guarded == []
    from sassid.cli import main

    args = ["denoise", str(inputs), "-m", str(model), "-q", "--device", "cpu"]
    html = tmp_path / "report.html"
    assert main([*args, "-o", str(tmp_path / "out3"), "--report", str(html)]) == 0
    summary = capsys.readouterr().out
    assert f"2 written, 0 failed, {len(report.guarded)} with a lower noise gate" in summary
    assert html.read_text().count("Guard: the model&#x27;s output is estimated worse") == len(
        report.guarded
    )
    assert main([*args, "-o", str(tmp_path / "out4"), "--no-guard"]) == 0
    assert "noise gate" not in capsys.readouterr().out.splitlines()[-1]


def test_wrong_arrays_are_named_not_run(tmp_path: Path) -> None:
    """The Python API says what it needs instead of failing inside torch, and a NaN pixel is
    the input's fault, not the network's."""
    import torch

    denoiser = Denoiser.from_model(write_tiny_model(tmp_path / "m.pt"), device="cpu")
    for bad in (np.zeros((8, 9), np.uint8), np.zeros((8, 9, 4), np.uint8), [[0]]):
        with pytest.raises(ValueError, match=r"need \(H, W, 3\) uint8 or uint16 pixels"):
            denoiser.pixels(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one pixel"):
        denoiser.pixels(np.zeros((0, 5, 3), np.uint8))
    x = torch.full((1, 3, 8, 8), 100.0)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="the input holds NaN"):
        denoiser.tensor(x)
    with pytest.raises(ValueError, match=r"need a \(N, 3, H, W\) float tensor"):
        denoiser.tensor(torch.zeros((3, 8, 8)))


def test_one_path_given_as_a_string_is_one_source(tmp_path: Path) -> None:
    data = _photos(tmp_path / "in")
    model = write_tiny_model(tmp_path / "m.pt")
    report = denoise_files(str(data), tmp_path / "out", model, device="cpu", progress=False)
    assert sorted(p.name for p in report.written) == sorted(p.name for p in data.iterdir())
