from __future__ import annotations

import json
from pathlib import Path

from sassid.constants import DEMO_ISO
from sassid.demo import run_demo
from tests.helpers import tiny_config
from tests.report.page import check_self_contained


def test_demo_runs_end_to_end_and_reports(tmp_path: Path) -> None:
    config = tiny_config(patch_size=64, bnn={"steps": 2}, lan={"steps": 2}, unet={"steps": 2})
    result = run_demo(tmp_path, config=config, device="cpu", progress=False, eval_tile=96)
    assert [r["row"] for r in result.rows] == ["noisy", "bnn", "lan", "fusion", "unet"]
    assert result.picture is not None and result.picture.exists()
    report = (tmp_path / "report.md").read_text()
    assert "| U-Net (stage 3, the method) |" in report and "comparison.png" in report
    assert "mean - reference, R/G/B" in report
    assert all(len(r["mean_shift"]) == 3 for r in result.rows)
    summary = json.loads((tmp_path / "demo.json").read_text())
    assert 15 < summary["rows"][0]["psnr"] < 30  # the synthesized noise is in a realistic range
    assert (summary["iso_like"], summary["seed"]) == (DEMO_ISO, 0)  # what made that noise
    # The HTML report: every photo against its reference, and the real run's training story.
    assert result.html == tmp_path / "report.html"
    page = check_self_contained(result.html)
    assert len(page.find("section", "photo")) == 4
    assert len(page.find("img", "px", "photo-1")) == 8  # with clean, alpha and both teachers
    assert len(page.find("svg", "chart", "training")) == 3  # one loss curve per stage


def test_bad_budget_fails_before_anything_is_written(tmp_path: Path) -> None:
    import pytest

    from sassid.errors import TrainingError

    for minutes in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(TrainingError, match="--minutes must be a finite number > 0"):
            run_demo(tmp_path / "out", minutes=minutes, device="cpu", progress=False)
        assert not (tmp_path / "out").exists()


class _Stop(Exception):
    """Raised by the fake trainer: the test needs only what training was asked to do."""


def test_demo_trains_laptop_under_its_budget_from_python_and_cli(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    import pytest

    import sassid.train
    from sassid.cli import main
    from sassid.constants import DEMO_MINUTES

    asked: list[tuple[str, int, float | None]] = []

    def fake_train(inputs, run_dir, config, **options):  # noqa: ANN001, ANN003, ANN202
        asked.append((config.preset, config.seed, options["minutes"]))
        raise _Stop

    monkeypatch.setattr(sassid.train, "train", fake_train)
    with pytest.raises(_Stop):
        run_demo(tmp_path / "api", seed=3, device="cpu", progress=False)
    with pytest.raises(_Stop):
        main(["demo", "-o", str(tmp_path / "cli"), "-q", "--seed", "3", "--device", "cpu"])
    with pytest.raises(_Stop):
        main(["demo", "-o", str(tmp_path / "steps"), "-q", "--steps", "5", "--device", "cpu"])
    assert asked == [("laptop", 3, DEMO_MINUTES), ("laptop", 3, DEMO_MINUTES), ("quick", 0, None)]


def test_a_finished_demo_reruns_in_its_folder_and_other_settings_are_refused(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    """The same settings resume (or redo) a demo, even once its demo.json holds the scores;
    another budget, noise level or seed is refused before any work, in the demo's options."""
    import pytest

    import sassid.train
    from sassid.errors import SassidError

    trained: list[float | None] = []

    def fake_train(inputs, run_dir, config, **options):  # noqa: ANN001, ANN003, ANN202
        trained.append(options["minutes"])
        raise _Stop

    monkeypatch.setattr(sassid.train, "train", fake_train)
    out = tmp_path / "demo"
    with pytest.raises(_Stop):
        run_demo(out, minutes=2.5, device="cpu", progress=False)
    settings = json.loads((out / "demo.json").read_text())
    assert settings == {"iso_like": DEMO_ISO, "seed": 0, "training": "--minutes 2.5"}
    finished = {"rows": [{"row": "noisy", "psnr": 20.0}], "total_seconds": 150.0, **settings}
    (out / "demo.json").write_text(json.dumps(finished))
    with pytest.raises(_Stop):  # a finished demo's folder: the same demo again
        run_demo(out, minutes=2.5, device="cpu", progress=False)
    assert trained == [2.5, 2.5]
    before = (out / "demo.json").read_bytes()
    made = f"made with --iso-like {DEMO_ISO:g}, --seed 0, --minutes 2.5"
    for changed, this in (
        ({"minutes": 3.0}, "--minutes 3"),
        ({"seed": 1, "minutes": 2.5}, "--seed 1"),
        (
            {"config": tiny_config(bnn={"steps": 2}), "minutes": None},
            r"steps 2/4/4 \(BNN/LAN/U-Net\)",
        ),
    ):
        with pytest.raises(SassidError, match=rf"{made} \(this one: .*{this}.*\); use another -o"):
            run_demo(out, device="cpu", progress=False, **changed)  # type: ignore[arg-type]
    assert trained == [2.5, 2.5]  # refused before training
    assert (out / "demo.json").read_bytes() == before


def test_a_folder_whose_run_has_other_settings_is_refused_before_demo_json_changes(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    """A demo.json too old to say how it trained, or damaged: the run's own config.json
    decides, and a refusal leaves demo.json as it was."""
    import pytest

    import sassid.train
    from sassid.atomic import to_json
    from sassid.errors import SassidError

    def fake_train(inputs, run_dir, config, **options):  # noqa: ANN001, ANN003, ANN202
        raise _Stop

    monkeypatch.setattr(sassid.train, "train", fake_train)
    out, trained = tmp_path / "demo", tiny_config()
    with pytest.raises(_Stop):
        run_demo(out, config=trained, device="cpu", progress=False)
    (out / "run").mkdir()
    (out / "run" / "config.json").write_text(to_json(trained.to_dict()))
    old = {"iso_like": DEMO_ISO, "seed": 0, "rows": []}  # no "training": an older demo.json
    (out / "demo.json").write_text(json.dumps(old))
    other = tiny_config(lan={"lr": 5e-4})  # the same steps, another configuration
    with pytest.raises(SassidError, match=r"holds a demo trained with another configuration"):
        run_demo(out, config=other, device="cpu", progress=False)
    assert json.loads((out / "demo.json").read_text()) == old
    with pytest.raises(_Stop):  # its own configuration still resumes
        run_demo(out, config=trained, device="cpu", progress=False)
    (out / "demo.json").write_text('{"iso_like": 64')  # cut short
    with pytest.raises(SassidError, match=r"holds a demo's run but no readable demo.json"):
        run_demo(out, config=trained, device="cpu", progress=False)
