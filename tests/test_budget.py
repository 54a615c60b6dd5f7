"""Time budgets: the planner's arithmetic, a tiny run that ends on time, resume inside a budget."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
import torch

import sassid.train as train_module
from sassid.budget import (
    CAP_SETUP_SECONDS,
    CAP_SLACK,
    MAX_MINUTES,
    RESERVE_FRACTION,
    Budget,
    LossPlateau,
    ProgressCosine,
    cache_decision,
    describe_budget,
    revised_total,
    split_seconds,
    stage_steps,
)
from sassid.checkpoint import load_file
from sassid.config import load_config
from sassid.errors import ConfigError, TrainingError
from sassid.models import load_model, read_model
from sassid.train import train
from tests.helpers import tiny_config, write_noisy_images


def test_split_and_steps_arithmetic() -> None:
    split = split_seconds(100.0, {"bnn": 0.5, "lan": 0.15, "unet": 0.35})
    assert split == pytest.approx({"bnn": 50.0, "lan": 15.0, "unet": 35.0})
    assert split_seconds(-5.0, {"a": 1.0}) == {"a": 0.0}
    shares = {"bnn": 0.5, "lan": 0.15, "unet": 0.35}
    assert split_seconds(100.0, shares, {"unet": 50.0}) == pytest.approx(split)
    capped = split_seconds(100.0, shares, {"unet": 22.0})
    assert capped["unet"] == 22.0 and sum(capped.values()) == pytest.approx(100.0)
    assert capped["bnn"] / capped["lan"] == pytest.approx(0.5 / 0.15), "the rest by share"
    # water-filling: the LAN passes its limit only once the U-Net's surplus is shared out
    assert split_seconds(100.0, shares, {"unet": 22.0, "lan": 15.0}) == pytest.approx(
        {"bnn": 63.0, "lan": 15.0, "unet": 22.0}
    )
    assert split_seconds(100.0, {"a": 1.0}, {"a": 30.0}) == {"a": 30.0}, "all capped: unused"
    assert stage_steps(50.0, 0.2) == 250
    assert stage_steps(0.01, 0.2) == 1, "a stage always gets one step"
    # 10 steps took 5 s, 15 s allotted: 20 more fit
    assert revised_total(10, 5.0, 15.0) == 30
    assert revised_total(10, 20.0, 15.0) == 11, "over time: stop at the next step"


def test_limits_are_the_cap_at_the_probed_pace_with_slack(tmp_path: Path) -> None:
    budget = Budget(
        600.0, tmp_path, seconds_per_step={"lan": 0.1, "unet": 0.2, "unet_per_crop": 0.5}
    )
    config = tiny_config(unet={"max_steps": 100})
    names = ["bnn", "lan", "unet"]
    assert budget.limits(config, names, cached=True) == {
        "unet": pytest.approx(CAP_SLACK * 100 * 0.2 + CAP_SETUP_SECONDS)
    }, "uncapped stages have no limit"
    per_crop = budget.limits(config, names, cached=False, setup={"unet": 7.0, "lan": 5.0})
    assert per_crop == {"unet": pytest.approx(CAP_SLACK * 100 * 0.5 + CAP_SETUP_SECONDS + 7.0)}


def test_progress_cosine_is_cosine_annealing_until_revised() -> None:
    net = torch.nn.Linear(1, 1)
    a = torch.optim.SGD(net.parameters(), lr=1.0)
    b = torch.optim.SGD(net.parameters(), lr=1.0)
    reference = torch.optim.lr_scheduler.CosineAnnealingLR(a, T_max=20)
    ours = torch.optim.lr_scheduler.LambdaLR(b, ProgressCosine(20))
    for _ in range(20):
        a.step(), b.step(), reference.step(), ours.step()
        assert ours.get_last_lr()[0] == pytest.approx(reference.get_last_lr()[0], abs=1e-9)


def test_progress_cosine_revision_is_continuous_and_ends_at_zero() -> None:
    cosine = ProgressCosine(100)
    before = cosine(40)
    cosine.revise(40, 60)
    assert cosine(40) == pytest.approx(before)
    assert cosine(41) < before and cosine(60) == pytest.approx(0.0, abs=1e-12)
    p40, p50 = cosine.progress(40), cosine.progress(50)
    assert p50 == pytest.approx(p40 + (1 - p40) * 0.5)
    cosine.revise(50, 10)
    assert cosine.total == 51, "never ends before the current step"
    assert math.isfinite(cosine(51))


@pytest.fixture(autouse=True)
def one_thread():  # noqa: ANN201
    """Tiny steps on a busy 2-core machine: one thread keeps their time steady."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _budget(run: Path) -> dict:
    return json.loads((run / "budget.json").read_text())


def test_tiny_run_ends_on_time(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(log_every=5, checkpoint_every=50, val_every=10**6)
    minutes = 0.15
    t = time.perf_counter()
    model = train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=minutes)
    elapsed = time.perf_counter() - t
    assert abs(elapsed - minutes * 60) <= 0.05 * minutes * 60, elapsed
    plan = _budget(tmp_path / "run")
    assert set(plan["stages"]) == {"bnn", "lan", "unet"}
    assert set(plan["probe_seconds_per_step"]) == {"bnn", "lan", "unet"}
    steps = {s: v["steps"] for s, v in plan["stages"].items()}
    assert all(v > 4 for v in steps.values()), "the plan replaced the configured 4 steps"
    used = sum(v["used_seconds"] for v in plan["stages"].values())
    assert used <= (1 - RESERVE_FRACTION) * minutes * 60 * 1.02
    assert set(load_model(model)) == {"bnn", "lan", "unet"}
    text = (tmp_path / "run" / "metrics.jsonl").read_text()
    records = [json.loads(x) for x in text.splitlines()]
    last_lr = [r["lr"] for r in records if "lr" in r and r["step"] == steps[r["stage"]]]
    assert last_lr == pytest.approx([0.0] * 3, abs=1e-12), "each schedule ran to its end"


def test_a_capped_stage_ends_early_and_leaves_its_time_to_the_next(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(log_every=2, checkpoint_every=50, val_every=10**6, bnn={"max_steps": 3})
    minutes = 0.1
    t = time.perf_counter()
    train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=minutes)
    elapsed = time.perf_counter() - t
    plan = _budget(tmp_path / "run")
    assert plan["stages"]["bnn"]["steps"] == plan["stages"]["bnn"]["planned_steps"] == 3
    assert plan["stages"]["bnn"]["used_seconds"] < 0.5 * plan["stages"]["bnn"]["allotted_seconds"]
    # equal shares: uncapped, the later two would get twice the BNN's time; they also got
    # what it left
    bnn = plan["stages"]["bnn"]["allotted_seconds"]
    later = sum(plan["stages"][s]["allotted_seconds"] for s in ("lan", "unet"))
    assert later > 2.5 * bnn, plan["stages"]
    assert abs(elapsed - minutes * 60) <= 0.05 * minutes * 60, elapsed
    with pytest.raises(ConfigError, match="max_steps"):
        tiny_config(bnn={"max_steps": -1})


def test_a_capped_later_stage_gives_its_surplus_to_the_earlier_ones(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    """A U-Net capped by ``max_steps`` needs less than its share: the BNN and LAN are planned
    with the surplus from the start, and the run ends on time but for the cap's slack (before,
    it ended early by half the time left at the LAN's start)."""
    monkeypatch.setattr("sassid.budget.CAP_SETUP_SECONDS", 0.2)  # a tiny run: a small slack
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(log_every=2, checkpoint_every=50, val_every=10**6, unet={"max_steps": 3})
    minutes = 0.2
    t = time.perf_counter()
    train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=minutes)
    elapsed = time.perf_counter() - t
    plan = _budget(tmp_path / "run")
    stages = plan["stages"]
    assert stages["unet"]["steps"] == 3, "the U-Net is not held below its cap by its own limit"
    # equal shares, uncapped: the LAN and the U-Net would split the time left at the LAN's
    # start in halves; the LAN was planned with all of it but the U-Net's limit
    unet_limit = CAP_SLACK * 3 * plan["probe_seconds_per_step"]["unet"] + 0.2
    lan, unet = stages["lan"]["allotted_seconds"], stages["unet"]["allotted_seconds"]
    assert lan > 3 * unet and lan > 3 * unet_limit, (stages, unet_limit)
    # it ends at most the U-Net's unused slack early, and never late
    slack = 0.05 * minutes * 60
    assert minutes * 60 - slack - unet_limit <= elapsed <= minutes * 60 + slack, elapsed


def test_resume_inside_a_budget(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(log_every=5, checkpoint_every=20, val_every=10**6)
    real_save = train_module.save_atomic

    def save_then_die(payload, path):  # noqa: ANN001, ANN202
        real_save(payload, path)
        if payload.get("stage") == "lan" and payload.get("step") == 20:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "save_atomic", save_then_die)
    t = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.15)
    first = time.perf_counter() - t
    monkeypatch.undo()
    probe = _budget(tmp_path / "run")["probe_seconds_per_step"]
    spent = _budget(tmp_path / "run")["spent_seconds"]
    assert spent == pytest.approx(first, abs=1.0)
    with pytest.raises(TrainingError, match="planned for 0.15"):
        train(
            [data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.3, resume=True
        )
    t = time.perf_counter()
    train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.15, resume=True)
    second = time.perf_counter() - t
    plan = _budget(tmp_path / "run")
    assert plan["probe_seconds_per_step"] == probe, "the plan is kept, not re-probed"
    assert first + second <= 0.15 * 60 * 1.05 + 0.5
    assert plan["spent_seconds"] == pytest.approx(first + second, abs=1.5)
    lan = [
        json.loads(x)
        for x in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n")
        if x and '"lan"' in x and '"loss"' in x
    ]
    assert [r["step"] for r in lan] == sorted({r["step"] for r in lan}), "lan resumed at 20"


def test_a_budgeted_run_resumes_only_inside_its_budget(tmp_path: Path) -> None:
    """Without --minutes a resumed run would train its configured steps, out of its budget;
    a damaged budget.json is named; a budget past MAX_MINUTES is refused before the run's
    folder is made."""
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(log_every=5, checkpoint_every=20, val_every=10**6)
    train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.05)
    with pytest.raises(TrainingError, match=r"planned for --minutes 0.05 \(budget.json\)"):
        train([data], tmp_path / "run", config, device="cpu", progress=False, resume=True)
    budget = tmp_path / "run" / "budget.json"
    for damage in (budget.read_text()[:40], json.dumps({"minutes": 0.05})):
        budget.write_text(damage)
        with pytest.raises(TrainingError, match="budget.json: unreadable or damaged") as info:
            train(
                [data],
                tmp_path / "run",
                config,
                device="cpu",
                progress=False,
                minutes=0.05,
                resume=True,
            )
        assert "\n" not in str(info.value)
    for minutes in (1e308, MAX_MINUTES * 2):
        with pytest.raises(TrainingError, match="at most"):
            train([data], tmp_path / "new", config, device="cpu", progress=False, minutes=minutes)
    assert not (tmp_path / "new").exists()


def test_cache_is_built_only_where_it_pays() -> None:
    config = tiny_config(batch_size=8, patch_size=64, cache_transforms=1)
    pace = {"lan": 0.1, "lan_per_crop": 0.3, "unet": 0.2, "unet_per_crop": 0.5}
    seconds = {"lan": 10.0, "unet": 20.0}
    small = cache_decision(pace, seconds, config, pixels=100_000)
    # saved: 10 s x 0.2/0.3 + 20 s x 0.3/0.5; build: pixels x 16/9 x 0.3 s / (8 x 64^2)
    assert small["saved_seconds"] == pytest.approx(10 * 0.2 / 0.3 + 20 * 0.3 / 0.5)
    assert small["build_seconds"] == pytest.approx(100_000 * 16 / 9 * 0.3 / (8 * 64**2))
    assert small["cache"]
    assert not cache_decision(pace, seconds, config, pixels=2_000_000)["cache"]
    eight = tiny_config(batch_size=8, patch_size=64, cache_transforms=8)
    assert cache_decision(pace, seconds, eight, 100_000)["build_seconds"] == pytest.approx(
        8 * small["build_seconds"]
    )


def test_budgeted_run_records_its_cache_decision(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(log_every=5, checkpoint_every=50, val_every=10**6, cache_teachers=True)
    train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.1)
    plan = _budget(tmp_path / "run")
    assert set(plan["cache"]) == {"cache", "build_seconds", "saved_seconds"}
    assert {"lan_per_crop", "unet_per_crop"} <= set(plan["probe_seconds_per_step"])
    text = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert ("teacher_cache_bytes" in text) == plan["cache"]["cache"]


def test_loss_plateau_fires_on_a_flat_loss_only() -> None:
    steps = range(20, 1001, 20)
    falling = LossPlateau(0.01, 100)
    assert not any(falling.add(s, 10.0 * 0.98 ** (s / 100)) for s in steps), "2% per 100 steps"
    flat = LossPlateau(0.01, 100)
    losses = [10.0 - s / 100 if s < 400 else 6.0 + 0.01 * (-1) ** (s // 20) for s in steps]
    fired = [s for s, v in zip(steps, losses, strict=True) if flat.add(s, v)]
    # at 660 the earlier window (360, 460] holds one falling point (6.2) and four flat ones:
    # mean 6.04, and the recent 6.0 is within 1% of it; at 640 it held two (mean 6.12)
    assert fired and fired[0] == 660, fired
    assert not LossPlateau(0.01, 100).add(200, 1.0), "too early: fewer than three windows"


def test_a_flat_loss_ends_the_stage_and_gives_its_time_away(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(
        log_every=2,
        checkpoint_every=4,
        val_every=10**6,
        bnn={"plateau_gain": 0.01, "plateau_window": 3},
    )
    monkeypatch.setattr(LossPlateau, "add", lambda self, step, loss: step >= 6)
    train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.1)
    plan = _budget(tmp_path / "run")
    assert plan["stages"]["bnn"]["steps"] == 9, plan["stages"]["bnn"]  # fired at 6, + window
    assert plan["stages"]["bnn"]["planned_steps"] > 9
    records = [
        json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n") if x
    ]
    assert {"stage": "bnn", "step": 6, "loss_plateau": True, "ends_at": 9} in records
    lrs = [r["lr"] for r in records if r.get("stage") == "bnn" and "lr" in r]
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12), "the rate still decays to 0"
    lan_time = (
        plan["stages"]["lan"]["allotted_seconds"] + plan["stages"]["unet"]["allotted_seconds"]
    )
    assert lan_time > 1.5 * plan["stages"]["bnn"]["allotted_seconds"]
    checkpoint = load_file(tmp_path / "run" / "checkpoints" / "bnn.pt")
    assert checkpoint["stage_cap"] == 9, "a resume keeps the plateau's end"
    with pytest.raises(ConfigError, match="plateau_gain"):
        tiny_config(bnn={"plateau_gain": 2.0})


@pytest.mark.parametrize("distance", ["l1", "l2"])
def test_the_plateau_judges_the_error_scale_under_either_distance(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
    distance: str,
) -> None:
    """Under ``l2`` the logged loss is a square: the plateau gets its root, so that
    ``plateau_gain`` means the same fall of the error under both distances."""
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(
        log_every=1,
        checkpoint_every=100,
        val_every=10**6,
        bnn={"plateau_gain": 0.01, "plateau_window": 50, "distance": distance},
    )
    fed: list[tuple[int, float]] = []
    monkeypatch.setattr(LossPlateau, "add", lambda self, step, loss: fed.append((step, loss)))
    train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.1)
    records = [
        json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n") if x
    ]
    logged = {r["step"]: r["loss"] for r in records if r.get("stage") == "bnn" and "loss" in r}
    assert fed, "the plateau was consulted"
    for step, value in fed:
        expected = math.sqrt(logged[step]) if distance == "l2" else logged[step]
        assert value == pytest.approx(expected), (step, value, logged[step])
    assert load_config(tmp_path / "run" / "config.json").bnn.distance == distance


@pytest.mark.parametrize("rule, wide", [(1, True), (10**6, False)])
def test_bnn_width_follows_the_steps_the_budget_gives_it(
    tmp_path: Path, rule: int, wide: bool
) -> None:
    """``[bnn] paper_width_from_steps``: the paper's 48/96 channels when the plan gives a
    paper-width BNN that many steps; the run records the widths it chose, and resumes with them
    from a configuration that names the narrow ones."""
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(
        log_every=5, checkpoint_every=50, val_every=10**6, bnn={"paper_width_from_steps": rule}
    )
    model = train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.1)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["bnn"]
    channels = (48, 96) if wide else (8, 16)
    assert (recorded["enc_channels"], recorded["dec_channels"]) == channels
    convs = [m for m in load_model(model)["bnn"].modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].out_channels == channels[0]
    train([data], tmp_path / "run", config, device="cpu", progress=False, minutes=0.1, resume=True)


@pytest.mark.parametrize("rule, wide", [(4, True), (5, False)])
def test_bnn_width_without_a_budget_follows_the_configured_steps(
    tmp_path: Path, rule: int, wide: bool
) -> None:
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(bnn={"steps": 4, "paper_width_from_steps": rule})
    train([data], tmp_path / "run", config, device="cpu", progress=False)
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())["bnn"]
    assert recorded["enc_channels"] == (48 if wide else 8)


def test_bnn_init_brings_its_own_widths_and_blind_size(tmp_path: Path) -> None:
    """A BNN taken from ``[bnn] init`` keeps that model's widths under the width rule (whatever
    it would plan: the weights fit no others) and its blind size where the size is measured
    (these photos measure 5; the model was trained at 9)."""
    data = write_noisy_images(tmp_path / "data")
    wide_config = tiny_config(bnn={"steps": 4, "paper_width_from_steps": 4})
    wide = train([data], tmp_path / "wide", wide_config, device="cpu", progress=False)
    reuse = {"steps": 4, "paper_width_from_steps": 10**6, "init": str(wide), "skip": True}
    reuse_config = tiny_config(bnn={**reuse, "auto_blind_size": True})
    model = train([data], tmp_path / "reuse", reuse_config, device="cpu", progress=False)
    recorded = json.loads((tmp_path / "reuse" / "config.json").read_text())["bnn"]
    assert (recorded["enc_channels"], recorded["dec_channels"]) == (48, 96)
    assert recorded["blind_size"] == read_model(model).nets["bnn"].kwargs["blind_size"] == 9
    assert json.loads((tmp_path / "reuse" / "noise.json").read_text())["auto_blind_size"] == 5
    train([data], tmp_path / "reuse", reuse_config, device="cpu", progress=False, resume=True)
    before, after = (load_model(m)["bnn"].state_dict() for m in (wide, model))
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_describe_budget_names_the_steps_and_the_capped_stages() -> None:
    saved = {
        "minutes": 60.0,
        "spent_seconds": 2460.0,
        "stages": {
            "bnn": {"planned_steps": 4552, "steps": 1860},
            "lan": {"planned_steps": 9000, "steps": 9000},
            "unet": {"planned_steps": 10000, "steps": 10000},
        },
    }
    line = describe_budget(saved, {"bnn": 0, "lan": 0, "unet": 10000})
    assert line.startswith("trained in 41.0 of 60 minutes; steps: BNN 1860, LAN 9000, U-Net 10000")
    assert "stopped at unet max_steps 10000" in line and "lan max_steps" not in line
    uncapped = describe_budget(saved, {"unet": 20000})
    assert "stopped" not in uncapped
    unfinished = {**saved, "stages": {"bnn": {"planned_steps": 5}, "lan": {"steps": 3}}}
    assert describe_budget(unfinished, {}).endswith("steps: LAN 3")
