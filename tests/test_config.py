from __future__ import annotations

from pathlib import Path

import pytest

from sassid.config import (
    PAPER_BNN_CHANNELS,
    TrainConfig,
    config_from_dict,
    load_config,
    preset,
    with_steps,
)
from sassid.errors import ConfigError


def test_paper_preset_is_the_authors_schedule() -> None:
    c = preset("paper")
    assert (c.batch_size, c.patch_size) == (8, 256)
    for stage in (c.bnn, c.lan, c.unet):
        assert stage.steps == 400_000 and stage.lr == 3e-4
    assert (c.bnn.blind_size, c.lan.receptive_field, c.lan.loss) == (9, 3, "unweighted")
    assert (c.alpha.lower, c.alpha.upper, c.alpha.window) == (1.0, 5.0, 7)


def test_toml_overrides_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('preset = "quick"\nseed = 3\n[lan]\nloss = "alpha"\n[unet]\nlr = 1\n')
    c = load_config(path)
    assert c.preset == "quick" and c.seed == 3 and c.lan.loss == "alpha" and c.unet.lr == 1.0
    assert c.bnn == preset("quick").bnn
    assert config_from_dict(c.to_dict(), TrainConfig()) == c
    assert with_steps(c, 7).unet.steps == 7


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[bnn]\nsteps = 5\ncolour = 1\n", r"unknown key '\[bnn\] colour'"),
        ("batch = 3\n", "unknown key 'batch'"),
        ("[lan]\nloss = 'l2'\n", r"\[lan\] loss must be one of"),
        ("[unet]\ndistance = 'l3'\n", r"\[unet\] distance must be one of 'l1', 'l2'"),
        ("patch_size = 100\n", "patch_size must be a multiple of 32"),
        ("[bnn]\nblind_size = 4\n", "blind_size must be odd"),
        ("[bnn]\nsteps = 'many'\n", r"\[bnn\] steps must be an integer"),
        ("[unet]\nskip = true\n", "skip = true needs init"),
        ("[alpha]\nlower = 6.0\n", "lower <= upper"),
        ("seed = true\n", "seed must be an integer"),
        ("bnn = 3\n", "bnn must be a table"),
        ("[bnn\n", "not valid TOML"),
        ("[unet]\npatch_size = 48\n", r"\[unet\] patch_size must be 0 \(the run's\) or a"),
        ("[unet]\nbatch_size = -1\n", r"\[unet\] batch_size must be between 0"),
        ("preset = 'huge'\n", "unknown preset 'huge'"),
    ],
)
def test_bad_values_rejected_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_unknown_preset() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'fast'"):
        preset("fast")


def test_laptop_preset_and_new_switches() -> None:
    c = preset("laptop")
    assert (c.precision, c.channels_last, c.cache_teachers) == ("bf16", True, True)
    assert sum(s.time_share for s in (c.bnn, c.lan, c.unet)) == pytest.approx(1.0)
    paper = preset("paper")
    assert (paper.precision, paper.channels_last, paper.cache_teachers) == ("fp32", False, False)
    assert (c.unet.supervision, paper.unet.supervision) == ("blend", "adaptive")  # paper: Eq. 5
    assert (c.unet.max_steps, paper.unet.max_steps) == (12_000, 0)  # paper: its full schedule
    with pytest.raises(ConfigError, match="cache_transforms"):
        config_from_dict({"cache_transforms": 3})
    with pytest.raises(ConfigError, match="precision"):
        config_from_dict({"precision": "fp16"})
    with pytest.raises(ConfigError, match="time_share"):
        config_from_dict({"unet": {"time_share": 0}})


def test_laptop_u_net_is_narrower_than_the_papers() -> None:
    laptop, paper = preset("laptop").unet, preset("paper").unet
    assert (laptop.enc_channels, laptop.dec_channels) == (32, 64)
    assert (paper.enc_channels, paper.dec_channels) == (48, 96)


def test_bnn_takes_the_paper_width_from_a_number_of_steps() -> None:
    bnn = preset("laptop").bnn
    assert (bnn.enc_channels, bnn.dec_channels) == (24, 48) and bnn.paper_width_from_steps > 0
    assert bnn.widened(bnn.paper_width_from_steps - 1) == bnn
    wide = bnn.widened(bnn.paper_width_from_steps)
    assert (wide.enc_channels, wide.dec_channels) == PAPER_BNN_CHANNELS == (48, 96)
    assert wide.blind_size == bnn.blind_size and wide.lr == bnn.lr
    never = preset("paper").bnn
    assert never.paper_width_from_steps == 0 and never.widened(10**9) == never
    with pytest.raises(ConfigError, match="paper_width_from_steps"):
        config_from_dict({"bnn": {"paper_width_from_steps": -1}})


def test_the_unet_may_train_on_its_own_crop() -> None:
    c = config_from_dict({"patch_size": 64, "batch_size": 8})
    assert [c.crop(n) for n in ("bnn", "lan", "unet")] == [(64, 8)] * 3
    assert c.largest_crop == 64
    c = config_from_dict({"patch_size": 64, "batch_size": 8, "unet": {"patch_size": 128}})
    assert [c.crop(n) for n in ("bnn", "lan", "unet")] == [(64, 8), (64, 8), (128, 8)]
    assert c.largest_crop == 128
    c = config_from_dict({"patch_size": 64, "unet": {"patch_size": 32, "batch_size": 3}})
    assert c.crop("unet") == (32, 3) and c.largest_crop == 64
