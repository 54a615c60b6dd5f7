"""ONNX export: checked graph, dynamic height/width, PyTorch round trip, atomic CLI output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from sassid.cli import main
from tests.helpers import write_tiny_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("net", ["unet", "bnn", "lan"])
def test_export_cli_writes_a_checked_dynamic_graph(tmp_path: Path, capsys, net: str) -> None:  # noqa: ANN001
    from sassid.models import load_networks

    model = write_tiny_model(tmp_path / "model.pt")
    out = tmp_path / "sub" / f"{net}.onnx"
    assert main(["export", "-m", str(model), "-o", str(out), "--net", net]) == 0
    assert "max abs difference" in capsys.readouterr().out
    graph = onnx.load(out)
    onnx.checker.check_model(graph)
    meta = {p.key: p.value for p in graph.metadata_props}
    multiple = int(meta["size_multiple"])
    assert meta["pad_mode"] == ("constant" if net == "bnn" else "reflect")
    assert (meta["lowpass_sigma"], meta["noise_gate"]) == ("0", "0")  # the tiny model's config
    # Run the file as a deployment would: pad per the metadata, run, crop; two sizes.
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    module = load_networks(model)[net].eval()
    for h, w in ((40, 70), (96, 33)):
        x = torch.rand(1, 3, h, w) * 255
        ph, pw = (-h) % multiple, (-w) % multiple
        mode = {"reflect": "reflect", "constant": "constant"}[meta["pad_mode"]]
        padded = np.pad(x.numpy(), ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)
        (y,) = session.run(None, {"noisy": padded})
        with torch.inference_mode():
            expected = module(x).numpy()
        assert np.abs(y[..., :h, :w] - expected).max() < 1e-2


def test_export_failure_leaves_no_file(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "model.onnx"
    code = main(["export", "-m", str(tmp_path / "missing"), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("sassid: error:") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_export_never_writes_over_its_model_or_into_a_file(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    model = write_tiny_model(tmp_path / "model.pt")
    before = model.read_bytes()
    for out, reason in (
        (model, "is the input"),
        (model / "x.onnx", "exists and is not a folder"),
        (tmp_path, "is a folder"),
        (tmp_path / "u.txt", "u.txt: an ONNX model is written to a .onnx file"),
    ):
        code = main(["export", "-m", str(model), "-o", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and reason in err and err.count("\n") == 1, err
    assert model.read_bytes() == before and sorted(tmp_path.iterdir()) == [model]


def test_export_onnx_api_returns_round_trip_error(tmp_path: Path) -> None:
    from sassid.export import export_onnx
    from sassid.nets import UNet

    diff = export_onnx(UNet(enc_channels=8, dec_channels=16), tmp_path / "u.onnx")
    assert diff is not None and 0 <= diff < 1e-2
    assert (tmp_path / "u.onnx").stat().st_size > 0
    assert [p.name for p in tmp_path.iterdir()] == ["u.onnx"]  # no temp file left


def test_readme_deploy_snippet_runs_and_matches_sassid(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from sassid.inference import Denoiser
    from sassid.models import load_networks

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    deploy = readme[readme.index("## Deploy") :]
    snippet = deploy[deploy.index("```python") + len("```python") : deploy.index("```\n", 10)]
    model = write_tiny_model(tmp_path / "model.pt")
    assert main(["export", "-m", str(model), "-o", str(tmp_path / "unet.onnx")]) == 0
    noisy = (np.random.default_rng(0).random((45, 70, 3)) * 255).astype(np.uint8)
    monkeypatch.chdir(tmp_path)
    scope: dict = {"noisy_rgb_uint8": noisy}
    exec(snippet, scope)  # noqa: S102 - the README's own code
    expected = Denoiser(load_networks(model), tile=0).pixels(noisy)
    assert scope["denoised"].shape == noisy.shape
    assert np.abs(scope["denoised"].astype(int) - expected).max() <= 1


def test_export_records_the_models_output_corrections(tmp_path: Path) -> None:
    import dataclasses

    from sassid.export import export_onnx
    from sassid.models import read_model, save_model
    from tests.helpers import tiny_config

    model = write_tiny_model(tmp_path / "model.pt")
    payload = torch.load(model, weights_only=True)
    config = dataclasses.replace(tiny_config(), lowpass_sigma=8.0, noise_gate=2.0)
    kwargs = {role: e["kwargs"] for role, e in payload["nets"].items()}
    save_model(model, read_model(model).networks(), kwargs, config.to_dict())
    export_onnx(model, tmp_path / "unet.onnx", verify=False)
    meta = {p.key: p.value for p in onnx.load(tmp_path / "unet.onnx").metadata_props}
    assert (meta["lowpass_sigma"], meta["noise_gate"]) == ("8", "2")
