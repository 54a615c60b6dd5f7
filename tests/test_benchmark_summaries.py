"""The benchmark scripts that only gather earlier results: their arithmetic."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import levers
from benchmarks.bnn_crop import arm_config, run_overrides
from benchmarks.bnn_length import gather, summary
from benchmarks.plateau_replay import replay, window_means
from benchmarks.unet_crop import parse_crop
from sassid.config import preset


def _run_file(
    path: Path,
    steps: int,
    seed: int,
    final: float,
    ema: float = 0.0,
    blind: str = "auto",
    lr: float | None = None,
) -> None:
    row = {"bnn_tile_crop": final, "curve": [[steps, final]]}
    sets = {"sidd_samples": {"noisy": 22.0, "images": 3, "rows": {"64x8": row}}}
    payload = {"meta": {"cuda": None}, "steps": steps, "seed": seed, "sets": sets}
    payload |= {"ema_window": ema, "blind_size": blind, "lr": lr}
    path.write_text(json.dumps(payload))


def test_bnn_length_means_spreads_and_skips_other_levers(tmp_path: Path) -> None:
    _run_file(tmp_path / "bnn_crop.json", 1200, 0, 32.0)
    _run_file(tmp_path / "bnn_crop_seed1.json", 1200, 1, 33.0)
    _run_file(tmp_path / "bnn_steps.json", 4800, 0, 31.0)
    _run_file(tmp_path / "bnn_crop_ema.json", 1200, 0, 40.0, ema=0.25)
    _run_file(tmp_path / "bnn_crop_blind9.json", 1200, 0, 40.0, blind="9")
    _run_file(tmp_path / "bnn_crop_lr.json", 1200, 0, 40.0, lr=3e-4)
    runs = gather(tmp_path)
    assert [r["file"] for r in runs["sidd_samples"]] == [
        "bnn_crop.json",
        "bnn_crop_seed1.json",
        "bnn_steps.json",
    ]
    s = summary(runs["sidd_samples"])
    assert s["per_steps"][1200] == {"mean": 32.5, "spread": 1.0, "runs": 2}
    assert s["change"] == pytest.approx(31.0 - 32.5)


def test_plateau_replay_finds_where_the_rule_fires() -> None:
    curve = [(s, 10.0 if s <= 200 else 5.0) for s in range(20, 1001, 20)]
    # window 100: the recent mean (s-100, s] is 5.0 and the earlier (s-300, s-200] is 5.0
    # from s = 500 on; before that the earlier window still holds 10.0
    assert replay(curve, 0.01, 100) == 500
    assert replay([(s, 100.0 / s) for s in range(20, 1001, 20)], 0.01, 100) is None
    assert window_means(curve, 500) == [(500, pytest.approx((10 * 10 + 15 * 5) / 25)), (1000, 5.0)]


def _arm(
    crop: int, batch: int, psnr: float, channels: list[int] | None = None, blind: int = 5
) -> dict[str, Any]:
    row: dict[str, Any] = {"crop": crop, "batch": batch, "train_seconds": 60.0 * batch}
    row.update(bnn_tile_crop=psnr, curve=[], blind_size=blind)
    return row | ({"channels": channels} if channels else {})


def _sets(rows: dict[str, Any]) -> dict[str, Any]:
    return {"sidd_samples": {"noisy": 22.0, "images": 3, "rows": rows}}


def test_levers_compare_each_arm_with_its_own_baseline(tmp_path: Path) -> None:
    def write(name: str, payload: dict[str, Any]) -> None:
        (tmp_path / name).write_text(json.dumps({"meta": {"cuda": None}, **payload}))

    crop = {"64x8": _arm(64, 8, 32.0), "96x4": _arm(96, 4, 32.5)}
    write("bnn_crop.json", {"steps": 1200, "seed": 0, "sets": _sets(crop)})
    write(
        "bnn_crop_seed1.json",
        {"steps": 1200, "seed": 1, "sets": _sets({"64x8": _arm(64, 8, 31.0)})},
    )
    wide = {"64x8:48/96": _arm(64, 8, 31.75, [48, 96])}
    write("bnn_width_seed1.json", {"steps": 1200, "seed": 1, "sets": _sets(wide)})
    blind9 = {"steps": 1200, "seed": 0, "blind_size": "9"}  # its 64x8 arm is the lever
    write("bnn_blind9.json", blind9 | {"sets": _sets({"64x8": _arm(64, 8, 32.25, blind=9)})})
    slow = {"steps": 1200, "seed": 0, "lr": 3e-4, "sets": _sets({"64x8": _arm(64, 8, 32.75)})}
    write("bnn_lr3e-4.json", slow)
    squared = {
        "steps": 1200,
        "seed": 0,
        "distance": "l2",
        "sets": _sets({"64x8": _arm(64, 8, 31.0)}),
    }
    write("bnn_distance_l2.json", squared)
    rows = [
        {"name": "unet_no_alpha", "psnr": 34.3},
        {"name": "unet_blend", "psnr": 99.0},  # what `unet` itself trained: no lever
        {"name": "unet", "psnr": 34.0},
    ]
    one_hour = {"set": "sidd_samples", "minutes": 60, "steps": {"bnn": 9, "unet": 500}}
    write("real_photos_sidd_samples.json", {**one_hour, "rows": rows, "unet_supervision": "blend"})
    before = [{"name": "unet_blend", "psnr": 33.5}, {"name": "unet", "psnr": 33.6}]
    write("real_photos_sidd_samples_before_cache_augment.json", {**one_hour, "rows": before})
    write("real_photos_fixed.json", {**one_hour, "rows": rows, "minutes": None})  # not budgeted
    arms = {
        "64x8:blend": {"patch": 64, "batch": 8, "supervision": "blend", "unet": 33.0},
        "64x8:both": {"patch": 64, "batch": 8, "supervision": "both", "unet": 33.2},
    }
    write("unet_supervision_sidd_samples.json", {"steps": 300, "rows": arms})
    narrow = {
        "64x8": {"patch": 64, "batch": 8, "supervision": "blend", "widths": [48, 96], "unet": 27.0},
        "64x8@32/64": {
            "patch": 64,
            "batch": 8,
            "supervision": "blend",
            "widths": [32, 64],
            "unet": 26.9,
        },
    }
    write("unet_width_demo.json", {"steps": 300, "rows": narrow})  # a demo study: its own set
    l2_arm = {"patch": 64, "batch": 8, "supervision": "blend", "distance": "l2", "unet": 33.4}
    distance = {"64x8": {**l2_arm, "distance": "l1", "unet": 33.1}, "64x8+l2": l2_arm}
    write("unet_distance_sidd_samples.json", {"steps": 300, "rows": distance})
    snapshots = {"2500": {"psnr_denoise": 33.6}, "5000": {}, "10000": {"psnr_denoise": 33.5}}
    narrow_row = {"snapshots": snapshots, "widths": [32, 64], "train_seconds": 540.0}
    write("unet_length_sidd_samples_64.json", {"steps": 10000, "rows": {"64x8@32/64": narrow_row}})
    wide_row = {"snapshots": {"5000": {"psnr_denoise": 33.7}}, "widths": [48, 96]}
    wide_length = {"steps": 5000, "rows": {"64x8@48/96": {**wide_row, "train_seconds": 600.0}}}
    write("unet_length_sidd_samples_64_w48.json", wide_length)  # one snapshot: no length row
    one = {"steps": 10000, "rows": {"64x8": {"snapshots": {"10000": {"psnr_denoise": 1.0}}}}}
    write("unet_length_sidd_samples_one.json", one)  # a single snapshot: no row
    laptop = dataclasses.replace(preset("laptop"), patch_size=96)

    gathered = levers.gather(tmp_path, laptop)
    found = {lever.lever.split(",")[0]: lever for lever in gathered}
    assert len(found) == len(gathered)  # no two rows under one label

    assert sorted(found) == [
        "BNN blind size 9 (not the measured 5)",
        "BNN crop 96 px x 4 (not 64 x 8)",
        "BNN learning rate 0.0003 (not the preset's)",
        "BNN loss distance l2 (not l1)",
        "BNN width 48/96 (not 24/48)",
        "U-Net at the end of one 10000-step schedule (not its step-2500 snapshot",
        "U-Net loss distance l2 (not l1)",
        "U-Net supervision `both` (not `blend`)",
        "U-Net width 32/64 (not 48/96)",
        "U-Net width 32/64 for 10000 steps (not 48/96 for 5000)",
        "cached targets turned with their crops (blend in both)",
        "stage 3 supervision `blend` (not `adaptive`)",
        "stage 3 supervision `both` (not `blend`)",
    ]
    crop_lever = found["BNN crop 96 px x 4 (not 64 x 8)"]
    assert (crop_lever.base_db, crop_lever.delta_db) == (32.0, pytest.approx(0.5))
    assert crop_lever.laptop == "96 px x 8"  # read from the config, not typed
    blind = found["BNN blind size 9 (not the measured 5)"]
    assert (blind.base_db, blind.variant_db, blind.laptop) == (32.0, 32.25, "measured")
    assert blind.source == "bnn_blind9.json, bnn_crop.json"  # the measured-size arm
    slow_lever = found["BNN learning rate 0.0003 (not the preset's)"]
    assert (slow_lever.delta_db, slow_lever.laptop) == (pytest.approx(0.75), "lr 0.001")
    squared_lever = found["BNN loss distance l2 (not l1)"]
    assert (squared_lever.delta_db, squared_lever.laptop) == (pytest.approx(-1.0), "distance l1")
    unet_squared = found["U-Net loss distance l2 (not l1)"]
    assert (unet_squared.delta_db, unet_squared.laptop) == (pytest.approx(0.3), "distance l1")
    width = found["BNN width 48/96 (not 24/48)"]  # its narrow arm is in another file, seed 1
    assert (width.base_db, width.delta_db, width.source) == (
        31.0,
        pytest.approx(0.75),
        "bnn_width_seed1.json, bnn_crop_seed1.json",
    )
    assert found["stage 3 supervision `both` (not `blend`)"].delta_db == pytest.approx(0.3)
    turned = found["cached targets turned with their crops (blend in both)"]
    assert (turned.base_db, turned.variant_db) == (33.5, 34.0)  # blend row against blend row
    frozen = found["U-Net supervision `both` (not `blend`)"]
    assert (frozen.delta_db, frozen.laptop) == (pytest.approx(0.2), "blend")
    thin = found["U-Net width 32/64 (not 48/96)"]
    assert (thin.set, thin.delta_db, thin.laptop) == ("demo", pytest.approx(-0.1), "32/64")
    longer = found["U-Net at the end of one 10000-step schedule (not its step-2500 snapshot"]
    assert (longer.base_db, longer.delta_db, longer.source) == (
        33.6,
        pytest.approx(-0.1),
        "unet_length_sidd_samples_64.json",
    )
    same_time = found["U-Net width 32/64 for 10000 steps (not 48/96 for 5000)"]
    assert (same_time.base_db, same_time.delta_db) == (33.7, pytest.approx(-0.2))
    assert (same_time.base_minutes, same_time.variant_minutes) == (10.0, 9.0)
    assert (
        same_time.source == "unet_length_sidd_samples_64_w48.json, unet_length_sidd_samples_64.json"
    )
    # the same pair when the later run trained another U-Net width (a file without the key:
    # 48/96): refused, not mixed
    narrower = {**one_hour, "rows": rows, "unet_supervision": "blend", "unet_channels": [32, 64]}
    write("real_photos_sidd_samples.json", narrower)
    with pytest.raises(ValueError, match="other U-Net widths"):
        levers.gather(tmp_path, laptop)
    # the same pair when the later run's `unet` row trained another loss: refused, not mixed
    write("real_photos_sidd_samples.json", {**one_hour, "rows": rows})  # no key: Eq. 5
    with pytest.raises(ValueError, match="other losses"):
        levers.gather(tmp_path, laptop)
    meta = {"date": "d", "machine": "m", "torch": "t", "threads": 1, "commit": "c", "command": "x"}
    assert "| 32.00 | 32.50 | +0.50 |" in levers.markdown(list(found.values()), meta)


def test_unet_crop_arms_parse_and_refuse_an_unknown_loss() -> None:
    assert parse_crop("128x2") == (128, 2, None, None, None)
    assert parse_crop("64x8:both") == (64, 8, "both", None, None)
    assert parse_crop("64x8@32/64") == (64, 8, None, (32, 64), None)
    assert parse_crop("64x8:blend_posterior@24/48") == (64, 8, "blend_posterior", (24, 48), None)
    assert parse_crop("64x8:blend@32/64+l2") == (64, 8, "blend", (32, 64), "l2")
    with pytest.raises(SystemExit, match="64x8:bothh"):
        parse_crop("64x8:bothh")
    with pytest.raises(SystemExit, match=r"64x8\+l3: distance"):
        parse_crop("64x8+l3")


def test_bnn_crop_arm_config_sets_blind_size_and_rate_for_every_arm() -> None:
    fixed = arm_config(64, 8, 100, blind_size="9", lr=3e-4)
    assert (fixed.bnn.blind_size, fixed.bnn.auto_blind_size, fixed.bnn.lr) == (9, False, 3e-4)
    default = arm_config(64, 8, 100)
    assert default.bnn.auto_blind_size and default.bnn.lr == preset("laptop").bnn.lr
    changed = run_overrides({"blind_size": "9", "lr": 3e-4})
    assert changed == ["blind size 9", "learning rate 0.0003"]
    assert run_overrides({"blind_size": "auto", "lr": None}) == []


def test_cpu_features_name_the_speed_setting_instruction_sets(tmp_path: Path) -> None:
    from benchmarks.common import cpu_features

    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert cpu_features(cpuinfo) == ["avx512_bf16", "amx_bf16"]
    assert cpu_features(tmp_path / "absent") == []


def test_unet_length_finds_snapshots_by_step(tmp_path: Path) -> None:
    from benchmarks.unet_length import snapshots

    (tmp_path / "checkpoints").mkdir()
    for name in ("unet_step10.pt", "unet_step2.pt", "unet.pt", "bnn_step2.pt", "unet_step3.pt.tmp"):
        (tmp_path / "checkpoints" / name).write_bytes(b"")
    assert [(s, p.name) for s, p in snapshots(tmp_path)] == [
        (2, "unet_step2.pt"),
        (10, "unet_step10.pt"),
    ]
