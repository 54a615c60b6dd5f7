from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sassid.checkpoint import CheckpointError, load_file, save_atomic
from sassid.models import load_model, save_model
from sassid.nets import UNet


def test_kill_during_write_keeps_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    path = tmp_path / "bnn.pt"
    save_atomic({"step": 1, "w": torch.ones(3)}, path)

    import sassid.atomic

    def dying_sync(tmp, directory=False):  # noqa: ANN001, ANN202
        with open(tmp, "r+b") as handle:  # half-written file, then the process "dies"
            handle.truncate(40)
        raise KeyboardInterrupt

    monkeypatch.setattr(sassid.atomic, "_fsync", dying_sync)
    with pytest.raises(KeyboardInterrupt):
        save_atomic({"step": 2, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert load_file(path)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["bnn.pt"], "no temp file left behind"


def test_model_file_round_trip(tmp_path: Path) -> None:
    net = UNet(enc_channels=8, dec_channels=16)
    save_model(
        tmp_path / "model.pt", {"unet": net}, {"unet": {"enc_channels": 8, "dec_channels": 16}}
    )
    loaded = load_model(tmp_path)["unet"]
    x = torch.rand(1, 3, 20, 30) * 255
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net.eval()(x))


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such file"):
        load_file(tmp_path / "x.pt")
    (tmp_path / "x.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="not a sassid model file or PyTorch state_dict"):
        load_file(tmp_path / "x.pt")
    torch.save({"a": torch.ones(1)}, tmp_path / "y.pt")
    with pytest.raises(CheckpointError, match=r"y\.pt: not a model file .*expected"):
        load_model(tmp_path / "y.pt")
    whole = (tmp_path / "y.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[: len(whole) // 2])  # a copy cut short
    with pytest.raises(CheckpointError, match=r"cut\.pt: truncated or damaged"):
        load_file(tmp_path / "cut.pt")
