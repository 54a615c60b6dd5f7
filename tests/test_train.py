"""Training on tiny images on the CPU: stages, resume equality, DDP, bad input."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sassid.train as train_module
from sassid.checkpoint import CheckpointError, load_file
from sassid.errors import ConfigError, SassidError, TrainingError
from sassid.models import load_model, read_model
from sassid.train import train
from tests.helpers import tiny_config, write_noisy_images


def _losses(run_dir: Path) -> list[tuple[str, int, float]]:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["stage"], r["step"], r["loss"]) for r in lines if "loss" in r]


def test_three_stages_write_checkpoints_and_model(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    model = train([data], tmp_path / "run", tiny_config(), device="cpu", progress=False, val=data)
    nets = load_model(model)
    assert set(nets) == {"bnn", "lan", "unet"}
    for stage in ("bnn", "lan", "unet"):
        payload = load_file(tmp_path / "run" / "checkpoints" / f"{stage}.pt")
        assert payload["step"] == 4 and payload["stage"] == stage
        assert {"optimizer", "scheduler", "rng", "config", "nets"} <= set(payload)
        assert (tmp_path / "run" / "checkpoints" / f"{stage}_best.pt").exists()
    assert [s for s, _, _ in _losses(tmp_path / "run")] == ["bnn"] * 4 + ["lan"] * 4 + ["unet"] * 4
    records = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert '"val_psnr"' in records
    assert json.loads((tmp_path / "run" / "config.json").read_text())["bnn"]["steps"] == 4


def test_keep_every_keeps_snapshots_that_load_as_models(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(checkpoint_every=3, keep_every=2, unet={"steps": 5})
    train([data], tmp_path / "run", config, device="cpu", progress=False)
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("unet_step*.pt"))
    assert kept == ["unet_step2.pt", "unet_step4.pt"]
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("bnn_step*.pt")) == [
        "bnn_step2.pt",
        "bnn_step4.pt",
    ]
    first = read_model(tmp_path / "run" / "checkpoints" / "unet_step2.pt").nets["unet"].state_dict
    last = read_model(tmp_path / "run" / "checkpoints" / "unet.pt").nets["unet"].state_dict
    assert load_file(tmp_path / "run" / "checkpoints" / "unet_step4.pt")["step"] == 4
    assert any(not torch.equal(first[k], last[k]) for k in first)  # a snapshot, not the end


def test_keep_every_must_not_be_negative() -> None:
    with pytest.raises(ConfigError, match="keep_every"):
        tiny_config(keep_every=-1)


def test_teachers_stay_frozen(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    train([data], tmp_path / "run", tiny_config(), device="cpu", progress=False)
    bnn_stage = load_file(tmp_path / "run" / "checkpoints" / "bnn.pt")["nets"]["bnn"]
    unet_stage = load_file(tmp_path / "run" / "checkpoints" / "unet.pt")["nets"]["bnn"]
    for key, value in bnn_stage.items():
        assert torch.equal(value, unet_stage[key]), key


@pytest.mark.parametrize("kill_at", [("bnn", 2), ("lan", 2), ("unet", 2)])
def test_resume_gives_the_same_losses(tmp_path: Path, monkeypatch, kill_at) -> None:  # noqa: ANN001
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config()
    train([data], tmp_path / "whole", config, device="cpu", progress=False)

    real_save = train_module.save_atomic

    def save_then_die(payload, path):  # noqa: ANN001, ANN202
        real_save(payload, path)
        if (payload.get("stage"), payload.get("step")) == kill_at and "optimizer" in payload:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "save_atomic", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train([data], tmp_path / "split", config, device="cpu", progress=False)
    monkeypatch.undo()
    drawn: list[int] = []  # one training batch drawn per step: the resumed call's steps
    real_batch = train_module.PatchSampler.batch

    def batch(self, count: int) -> torch.Tensor:  # noqa: ANN001
        drawn.append(count)
        return real_batch(self, count)

    monkeypatch.setattr(train_module.PatchSampler, "batch", batch)
    train([data], tmp_path / "split", config, device="cpu", progress=False, resume=True)
    assert _losses(tmp_path / "split") == _losses(tmp_path / "whole")
    stage, step = kill_at  # 4 steps a stage: only those after the checkpoint run again
    assert len(drawn) == 3 * 4 - (4 * ("bnn", "lan", "unet").index(stage) + step)


def test_resume_with_another_config_is_refused(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    train([data], tmp_path / "run", tiny_config(), device="cpu", progress=False)
    with pytest.raises(TrainingError, match="--resume with another configuration.*seed"):
        train(
            [data], tmp_path / "run", tiny_config(seed=5), device="cpu", progress=False, resume=True
        )
    with pytest.raises(TrainingError, match="already holds a run"):
        train([data], tmp_path / "run", tiny_config(), device="cpu", progress=False)


def test_resume_on_other_photos_says_so(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    train([data], tmp_path / "run", tiny_config(), device="cpu", progress=False)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        train([data], tmp_path / "run", tiny_config(), device="cpu", progress=False, resume=True)
    assert not [w for w in said if "other photos" in str(w.message)]  # the same photos: no word
    other = write_noisy_images(tmp_path / "other", count=1)
    with pytest.warns(UserWarning, match=r"resumed on other photos.*1 of 1 the same, 2 of its 3"):
        train([other], tmp_path / "run", tiny_config(), device="cpu", progress=False, resume=True)


@pytest.mark.parametrize("bnn", [None, {"blind_size": "x"}, {"steps": -3}])
def test_resume_with_a_damaged_config_json_is_one_line(tmp_path: Path, bnn: object) -> None:
    data = write_noisy_images(tmp_path / "data")
    train([data], tmp_path / "run", tiny_config(), device="cpu", progress=False)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    (tmp_path / "run" / "config.json").write_text(json.dumps({**saved, "bnn": bnn}))
    config = tiny_config(bnn={"auto_blind_size": True})
    with pytest.raises(TrainingError, match=r"config.json: .*bnn.*records the run's config"):
        train([data], tmp_path / "run", config, device="cpu", progress=False, resume=True)


def test_resume_of_a_folder_that_holds_no_run_makes_nothing_there(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    (tmp_path / "photos").mkdir()
    with pytest.raises(TrainingError, match="nothing to resume"):
        train([data], tmp_path / "photos", tiny_config(), device="cpu", progress=False, resume=True)
    assert list((tmp_path / "photos").iterdir()) == []


def test_an_init_that_does_not_fit_fails_before_any_stage_trains(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    other = train([data], tmp_path / "a", tiny_config(), device="cpu", progress=False)
    config = tiny_config(unet={"init": str(other), "enc_channels": 16})
    with pytest.raises(CheckpointError, match="unet"):
        train([data], tmp_path / "b", config, device="cpu", progress=False)
    assert not (tmp_path / "b").exists(), "no stage trained: the folder it made is removed"


def test_skip_stage_with_given_weights(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    first = train([data], tmp_path / "a", tiny_config(), device="cpu", progress=False)
    config = tiny_config(bnn={"init": str(first), "skip": True})
    train([data], tmp_path / "b", config, device="cpu", progress=False)
    assert [s for s, _, _ in _losses(tmp_path / "b")] == ["lan"] * 4 + ["unet"] * 4
    a, b = load_model(first)["bnn"], load_model(tmp_path / "b")["bnn"]
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_bad_inputs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrainingError, match="no images"):
        train([tmp_path / "empty"], tmp_path / "r1", tiny_config(), device="cpu")
    with pytest.raises(TrainingError, match="no such file or folder"):
        train([tmp_path / "absent"], tmp_path / "r2", tiny_config(), device="cpu")
    small = write_noisy_images(tmp_path / "small", count=1, size=(16, 16))
    (small / "broken_noisy.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.warns(UserWarning, match="skipped"), pytest.raises(TrainingError, match="none of"):
        train([small], tmp_path / "r3", tiny_config(), device="cpu")
    # a run that never began leaves no folder (.lock, checkpoints/) under the name to retry with
    assert not any((tmp_path / r).exists() for r in ("r1", "r2", "r3"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(TrainingError, match="no images"):
        train([tmp_path / "empty"], tmp_path / "mine", tiny_config(), device="cpu")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"  # a folder it did not make
    bad_val = write_noisy_images(tmp_path / "val", count=1)
    Image.new("RGB", (60, 48)).save(bad_val / "img0_clean.png")  # the noisy one is 64 x 48
    data = write_noisy_images(tmp_path / "data")
    with pytest.raises(SassidError, match="differs from"):
        train([data], tmp_path / "r4", tiny_config(), device="cpu", val=bad_val)
    assert not (tmp_path / "r4").exists()  # the validation pairs are read before it begins


def test_a_run_that_loses_the_lock_removes_nothing(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Two starts of one command: the second makes the folder and takes its lock just after
    the first begins; the first fails on the lock and must leave the second's files alone."""
    import contextlib

    import sassid.train as train_module
    from sassid.outputs import run_lock

    run, other = tmp_path / "run", contextlib.ExitStack()
    real = train_module.resolve_device

    def second_start(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        (run / "checkpoints").mkdir(parents=True)
        other.enter_context(run_lock(run))
        (run / "its_work.txt").write_text("x")
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "resolve_device", second_start)
    with other, pytest.raises(TrainingError, match="in use by another sassid run"):
        train([write_noisy_images(tmp_path / "d")], run, tiny_config(), device="cpu")
    assert (run / "its_work.txt").exists()


def test_unwritable_run_dir(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    data = write_noisy_images(tmp_path / "d")
    real_write = Path.write_text

    def refuse_probe(self: Path, *args, **kwargs) -> int:  # noqa: ANN002, ANN003
        if self.name == ".write_test":  # as a read-only folder answers (root can write anywhere)
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", refuse_probe)
    with pytest.raises(TrainingError, match=r"run: cannot write there \(Permission denied\)"):
        train([data], tmp_path / "run", tiny_config(), device="cpu")
    assert not (tmp_path / "run" / "config.json").exists()


def test_unwritable_run_dir_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(TrainingError, match="cannot write there"):
        train([write_noisy_images(tmp_path / "d")], tmp_path / "file", tiny_config(), device="cpu")


@pytest.mark.slow
def test_two_process_gloo_run(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    config = tmp_path / "tiny.toml"
    config.write_text(
        "batch_size = 2\npatch_size = 32\nlog_every = 1\ncheckpoint_every = 2\n"
        "[bnn]\nsteps = 3\nenc_channels = 8\ndec_channels = 16\n"
        "[lan]\nsteps = 3\nwidth = 16\n[unet]\nsteps = 3\nenc_channels = 8\ndec_channels = 16\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "sassid",
            "train",
            str(data),
            "-o",
            str(tmp_path / "run"),
            "--config",
            str(config),
            "--device",
            "cpu",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("model written") == 1, "only rank 0 reports"
    assert len(_losses(tmp_path / "run")) == 9, "only rank 0 logs, once per step"
    assert set(load_model(tmp_path / "run")) == {"bnn", "lan", "unet"}


def test_denoiser_tiles_teachers_at_the_training_crop(tmp_path: Path) -> None:
    from sassid.inference import Denoiser

    data = write_noisy_images(tmp_path / "data")
    model = train([data], tmp_path / "run", tiny_config(), device="cpu", progress=False)
    assert Denoiser.from_model(model, net="bnn", device="cpu").tile == 32
    assert Denoiser.from_model(model, net="fusion", device="cpu").overlap == 8
    assert Denoiser.from_model(model, net="unet", device="cpu").tile == 512


def test_cached_teachers_bf16_channels_last_run(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(
        cache_teachers=True, cache_transforms=2, precision="bf16", channels_last=True
    )
    model = train([data], tmp_path / "run", config, device="cpu", progress=False)
    assert set(load_model(model)) == {"bnn", "lan", "unet"}
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    sizes = [r["teacher_cache_bytes"] for r in records if "teacher_cache_bytes" in r]
    # 3 images of 48 x 64, 2 transforms, float16 RGB: BNN alone, then BNN + LAN
    assert sizes == [3 * 48 * 64 * 3 * 2 * 2, 2 * 3 * 48 * 64 * 3 * 2 * 2]
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == 12 and all(np.isfinite(losses))
    noise = json.loads((tmp_path / "run" / "noise.json").read_text())
    assert noise["blind_size"] == 9 and noise["auto_blind_size"] >= 3  # measured, not used
    verdict = json.loads((tmp_path / "run" / "reliability.json").read_text())
    assert isinstance(verdict["reliable"], bool)
    # every training photo (the 3 noisy ones of the pairs: under 16, all) judged alone, by name
    assert [c["name"] for c in verdict["images"]] == [f"img{i}_noisy.png" for i in range(3)]


@pytest.mark.parametrize("cache", [False, True])
def test_the_unet_trains_on_its_own_crop(tmp_path: Path, monkeypatch, cache: bool) -> None:  # noqa: ANN001
    drawn: list[tuple[int, int]] = []
    real = train_module.PatchSampler.batch

    def batch(self, count: int) -> torch.Tensor:  # noqa: ANN001
        out = real(self, count)
        drawn.append((out.shape[0], out.shape[-1]))
        return out

    monkeypatch.setattr(train_module.PatchSampler, "batch", batch)
    data = write_noisy_images(tmp_path / "data", size=(64, 80))
    config = tiny_config(cache_teachers=cache, unet={"patch_size": 64, "batch_size": 1})
    train([data], tmp_path / "run", config, device="cpu", progress=False)
    assert drawn == [(2, 32)] * 8 + [(1, 64)] * 4
    small = write_noisy_images(tmp_path / "small")  # 48 x 64: no room for a 64 px crop
    with pytest.raises(TrainingError, match="smaller than the 64px crop"):
        train([small], tmp_path / "run2", config, device="cpu", progress=False)


def test_stage_seeds_do_not_collide() -> None:
    seeds = {
        train_module.stage_seed(s, i, r) for s in range(3) for i in range(3) for r in range(40)
    }
    assert len(seeds) == 3 * 3 * 40


def test_auto_blind_size_is_measured_recorded_and_kept_on_resume(tmp_path: Path) -> None:
    data = write_noisy_images(tmp_path / "data")  # white noise: the smallest auto size, 5
    config = tiny_config(bnn={"auto_blind_size": True})
    assert config.bnn.blind_size == 9
    model = train([data], tmp_path / "run", config, device="cpu", progress=False)
    noise = json.loads((tmp_path / "run" / "noise.json").read_text())
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert noise["auto_blind_size"] == noise["blind_size"] == saved["bnn"]["blind_size"] == 5
    assert read_model(model).nets["bnn"].kwargs["blind_size"] == 5
    # Resuming with the same (auto) configuration keeps the recorded size, measured or not.
    train([data], tmp_path / "run", config, device="cpu", progress=False, resume=True)
    fixed = tiny_config(bnn={"auto_blind_size": False})
    with pytest.raises(TrainingError, match="differs in: bnn"):
        train([data], tmp_path / "run", fixed, device="cpu", progress=False, resume=True)


def test_reliability_check_names_photos_the_guard_holds_back(tmp_path: Path) -> None:
    """A U-Net that smooths the texture away: the end-of-training check names the photos on
    which its gated output is estimated worse than the noisy input."""
    from sassid.config import TrainConfig

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    texture = np.where(xx < 64, 40 * np.sin(xx / 1.5) * np.cos(yy / 2.0), 0.0) + 100 + 0.3 * yy
    images = [
        np.clip(np.round(texture[..., None] + rng.normal(0, 5, (128, 128, 3))), 0, 255).astype(
            np.uint8
        )
        for _ in range(2)
    ]
    smear = torch.nn.AvgPool2d(7, stride=1, padding=3, count_include_pad=False)
    paths = [Path("a.png"), Path("b.png")]
    with pytest.warns(UserWarning) as caught:
        train_module.check_reliability(smear, images, paths, tmp_path, TrainConfig(noise_gate=2))
    notes = [str(w.message) for w in caught if "estimated worse" in str(w.message)]
    assert len(notes) == 1 and notes[0].startswith("on 2 of 2 checked photos (a.png, b.png)")
    verdict = json.loads((tmp_path / "reliability.json").read_text())
    assert verdict["guard_lowered"] == ["a.png", "b.png"]
    judged = train_module.judge_reliability(
        smear, images, ["a.png", "b.png"], TrainConfig(noise_gate=2)
    )
    assert json.loads(json.dumps(judged)) == verdict, "the benchmarks' recheck is the same check"


def test_posterior_supervision_trains_from_the_cache_and_says_it_needs_one(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    added: list[int] = []
    real = train_module.TeacherCache.add_posterior

    def add_posterior(self, images, **kwargs):  # noqa: ANN001, ANN003, ANN202
        added.append(len(images))
        return real(self, images, **kwargs)

    monkeypatch.setattr(train_module.TeacherCache, "add_posterior", add_posterior)
    data = write_noisy_images(tmp_path / "data")
    config = tiny_config(cache_teachers=True, unet={"supervision": "posterior"})
    model = train([data], tmp_path / "run", config, device="cpu", progress=False)
    assert set(load_model(model)) == {"bnn", "lan", "unet"}
    assert added == [3], "built once, over the three training photos"
    with pytest.raises(ConfigError, match="posterior .* needs cache_teachers = true"):
        tiny_config(unet={"supervision": "posterior"})
