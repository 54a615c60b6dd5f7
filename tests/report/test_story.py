from __future__ import annotations

import json
from pathlib import Path

import pytest

from sassid.report.story import read_story


def _write(run: Path, records: list[dict]) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run / "config.json").write_text(json.dumps({"preset": "quick", "patch_size": 64}))
    (run / "model.pt").write_bytes(b"")


def test_story_per_stage_with_a_resume(tmp_path: Path) -> None:
    records = [
        {"stage": "bnn", "step": 1, "loss": 9.0, "lr": 1e-3, "steps_per_s": 2.0},
        {"stage": "bnn", "step": 2, "loss": 8.0, "lr": 1e-3, "steps_per_s": 4.0},
        {"stage": "bnn", "step": 2, "val_psnr": 25.5},
        {"stage": "bnn", "step": 2, "stage_seconds": 3.0, "steps_run": 2},
        {"stage": "lan", "step": 1, "loss": 5.0, "lr": 1e-3, "steps_per_s": 3.0},
        # interrupted, resumed from step 1: step 2 is logged again, a second time segment
        {"stage": "lan", "step": 2, "loss": 4.5, "lr": 1e-3, "steps_per_s": 3.0},
        {"stage": "lan", "step": 2, "loss": 4.0, "lr": 1e-3, "steps_per_s": 3.0},
        {"stage": "lan", "step": 2, "stage_seconds": 1.5, "steps_run": 1},
        {"stage": "lan", "step": 3, "stage_seconds": 0.5, "steps_run": 1},
    ]
    _write(tmp_path / "run", records)
    (tmp_path / "run" / "metrics.jsonl").open("a").write("{broken\n")
    story = read_story(tmp_path / "run" / "model.pt")
    assert [s.name for s in story.stages] == ["bnn", "lan"]
    bnn, lan = story.stages
    assert bnn.loss == {1: 9.0, 2: 8.0} and bnn.val_psnr == {2: 25.5}
    assert bnn.seconds == 3.0 and bnn.steps_run == 2
    assert lan.loss == {1: 5.0, 2: 4.0}  # the last record of a step wins
    assert lan.seconds == pytest.approx(2.0) and lan.steps_run == 2 and lan.last_step == 3
    assert story.total_seconds == pytest.approx(5.0)
    assert story.config["preset"] == "quick"
    assert any("line 10" in n for n in story.notes)


def test_a_model_without_run_directory_gets_a_note(tmp_path: Path) -> None:
    (tmp_path / "weights.pth").write_bytes(b"")
    story = read_story(tmp_path / "weights.pth", {"preset": "paper"})
    assert story.stages == [] and story.run_dir is None
    assert story.config == {"preset": "paper"}
    assert "metrics.jsonl" in story.notes[0]


@pytest.mark.parametrize(
    "config_bytes, metrics_line",
    [
        (b"[1, 2]", b'{"stage": "bnn", "step": null, "loss": 1}'),
        (b"\xff\xfe not utf-8", b'{"stage": "bnn", "step": "x", "loss": 1}'),
        (b"{}", b'{"stage": "bnn", "step": 1e400, "loss": 1}'),
    ],
)
def test_a_damaged_run_folder_gives_notes_not_a_traceback(
    tmp_path: Path, config_bytes: bytes, metrics_line: bytes
) -> None:
    (tmp_path / "config.json").write_bytes(config_bytes)
    good = b'{"stage": "bnn", "step": 20, "loss": 3.0}'
    (tmp_path / "metrics.jsonl").write_bytes(good + b"\n" + metrics_line + b"\n")
    story = read_story(tmp_path / "model.pt")
    assert [s.name for s in story.stages] == ["bnn"] and story.stages[0].loss == {20: 3.0}
    (tmp_path / "metrics.jsonl").write_bytes(b"\xff\xfe")
    assert any("unreadable" in n for n in read_story(tmp_path / "model.pt").notes)
