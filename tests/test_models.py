"""One reader for every model source: format detection, old formats, inference settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from sassid.adaptive import alpha_map
from sassid.checkpoint import CheckpointError
from sassid.config import AlphaConfig
from sassid.inference import UNET_MAX_OVERLAP, Denoiser, default_overlap, default_tile
from sassid.models import load_weights_into, read_model, save_model
from sassid.nets import LAN, UNet, to_reference_state_dict
from sassid.nets.registry import build_net, infer_architecture
from tests.helpers import tiny_config, write_tiny_model


def _same_output(a: torch.nn.Module, b: torch.nn.Module) -> None:
    x = torch.rand(1, 3, 32, 40) * 255
    with torch.no_grad():
        torch.testing.assert_close(a.eval()(x), b.eval()(x))


def test_plain_sassid_state_dict_is_recognised(tmp_path: Path) -> None:
    net = UNet(enc_channels=8, dec_channels=16)
    torch.save(net.state_dict(), tmp_path / "unet.pt")
    source = read_model(tmp_path / "unet.pt")
    assert source.kind == "state_dict"
    assert source.nets["unet"].kwargs == {"enc_channels": 8, "dec_channels": 16}
    _same_output(source.networks()["unet"], net)


@pytest.mark.parametrize("kwargs", [{"receptive_field": 5, "width": 32, "num_blocks": 2}])
def test_lan_kwargs_read_back_from_shapes(kwargs: dict) -> None:
    state = LAN(**kwargs).state_dict()
    found = infer_architecture(state)
    assert found is not None and found[0] == "lan"
    assert {k: found[1][k] for k in kwargs} == kwargs
    build_net("lan", found[1]).load_state_dict(state)


def test_reference_layout_is_recognised_with_its_role(tmp_path: Path) -> None:
    net = LAN(5, width=32)
    torch.save(to_reference_state_dict(net), tmp_path / "lan_ref.pth")
    source = read_model(tmp_path / "lan_ref.pth")
    assert (source.kind, list(source.nets)) == ("reference", ["lan"])
    assert source.nets["lan"].kwargs["receptive_field"] == 5
    _same_output(source.networks()["lan"], net)


def test_version_1_model_file_still_loads(tmp_path: Path) -> None:
    net = UNet(enc_channels=8, dec_channels=16)
    payload = {  # sassid-model/1: no "arch", the stage name was the class
        "format": "sassid-model/1",
        "config": {},
        "nets": {
            "unet": {
                "kwargs": {"enc_channels": 8, "dec_channels": 16},
                "state_dict": net.state_dict(),
            }
        },
    }
    torch.save(payload, tmp_path / "model.pt")
    source = read_model(tmp_path)
    assert source.nets["unet"].arch == "unet"
    _same_output(source.networks()["unet"], net)


def test_version_2_model_file_records_arch_for_every_net(tmp_path: Path) -> None:
    write_tiny_model(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    assert payload["format"] == "sassid-model/2"
    assert {role: e["arch"] for role, e in payload["nets"].items()} == {
        "bnn": "bnn",
        "lan": "lan",
        "unet": "unet",
    }


def test_version_1_checkpoint_derives_specs_from_its_config(tmp_path: Path) -> None:
    config = tiny_config()
    net = build_net("unet", config.unet.net_kwargs())
    payload = {
        "format": "sassid-checkpoint/1",
        "stage": "unet",
        "step": 4,
        "config": config.to_dict(),
        "nets": {"unet": net.state_dict()},
    }
    torch.save(payload, tmp_path / "unet.pt")
    source = read_model(tmp_path / "unet.pt")
    assert source.kind == "checkpoint" and source.patch_size == 32
    _same_output(source.networks()["unet"], net)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2, 3], "holds a list"),
        ({"format": "other/1"}, "unknown format 'other/1'"),
        ({"w": torch.ones(2)}, "not a model file or state_dict that sassid knows"),
        ({"format": "sassid-model/2"}, "damaged sassid-model/2 file"),
    ],
)
def test_unknown_files_name_the_file_and_what_was_expected(
    tmp_path: Path, payload: object, message: str
) -> None:
    torch.save(payload, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match=message) as info:
        read_model(tmp_path / "odd.pt")
    assert str(tmp_path / "odd.pt") in str(info.value)
    assert "\n" not in str(info.value)


def test_init_from_a_single_network_file_of_the_same_arch(tmp_path: Path) -> None:
    net = UNet(enc_channels=8, dec_channels=16)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    fresh = UNet(enc_channels=8, dec_channels=16)
    load_weights_into(fresh, "unet", tmp_path / "w.pt")
    _same_output(fresh, net)
    with pytest.raises(CheckpointError, match="holds no lan network"):
        load_weights_into(LAN(3, width=16), "lan", tmp_path / "w.pt")


def test_fusion_uses_the_models_own_alpha_settings(tmp_path: Path) -> None:
    write_tiny_model(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    alpha = AlphaConfig(lower=0.0, upper=0.5, window=3)
    config = dataclasses.replace(tiny_config(), alpha=alpha)
    nets = read_model(tmp_path / "model.pt").networks()
    save_model(
        tmp_path / "model.pt",
        nets,
        {role: e["kwargs"] for role, e in payload["nets"].items()},
        config.to_dict(),
    )
    denoiser = Denoiser.from_model(tmp_path / "model.pt", net="fusion", tile=0, device="cpu")
    x = torch.rand(1, 3, 32, 32) * 255
    with torch.no_grad():
        bnn_out, lan_out = nets["bnn"](x), nets["lan"](x)
        expected = [
            (1 - a) * bnn_out + a * lan_out
            for a in (alpha_map(bnn_out, 0.0, 0.5, 3), alpha_map(bnn_out))
        ]
    got = denoiser.tensor(x)
    torch.testing.assert_close(got, expected[0])
    assert (got - expected[1]).abs().max() > 1e-3, "default thresholds would give another image"


def test_default_tile_rule() -> None:
    assert default_tile("unet", 64) == 512
    assert default_tile("bnn", 64) == 64 and default_tile("fusion", 96) == 96
    assert default_tile("lan", None) == 512


def test_default_overlap_caps_the_unet_only(tmp_path: Path) -> None:
    # the U-Net's 512 px tiles overlap by 64, not a quarter (128): 1.38 instead of 1.92
    # pixels computed per pixel of a 24 MP photo; the teachers keep a quarter of their tiles
    assert default_overlap(512, "unet") == UNET_MAX_OVERLAP == 64
    assert default_overlap(128, "unet") == 32 and default_overlap(1024, "unet") == 64
    assert default_overlap(64, "bnn") == 16 and default_overlap(512, "fusion") == 128
    write_tiny_model(tmp_path / "model.pt")
    assert Denoiser.from_model(tmp_path / "model.pt", device="cpu").overlap == 64
    teacher = Denoiser.from_model(tmp_path / "model.pt", net="lan", tile=96, device="cpu")
    assert teacher.overlap == 24


def test_edited_kwargs_give_one_line_naming_the_file(tmp_path: Path) -> None:
    write_tiny_model(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    payload["nets"]["unet"]["kwargs"]["enc_channels"] = 12
    payload["nets"]["lan"]["kwargs"]["colour"] = True
    torch.save(payload, tmp_path / "model.pt")
    source = read_model(tmp_path / "model.pt")
    with pytest.raises(CheckpointError, match=r"model\.pt: unet weights do not fit \(") as info:
        source.networks(("unet",))
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match=r"model\.pt: cannot build lan \(.*colour"):
        source.networks(("lan",))


def test_denoiser_takes_its_output_corrections_from_the_model(tmp_path: Path) -> None:
    write_tiny_model(tmp_path / "model.pt")
    assert Denoiser.from_model(tmp_path, device="cpu").noise_gate == 0.0  # the paper's output
    payload = torch.load(tmp_path / "model.pt", weights_only=True)
    config = dataclasses.replace(tiny_config(), lowpass_sigma=6.0, noise_gate=1.5)
    save_model(
        tmp_path / "model.pt",
        read_model(tmp_path / "model.pt").networks(),
        {role: e["kwargs"] for role, e in payload["nets"].items()},
        config.to_dict(),
    )
    assert Denoiser.from_model(tmp_path, device="cpu").lowpass_sigma == 6.0
    assert Denoiser.from_model(tmp_path, device="cpu", lowpass_sigma=0).lowpass_sigma == 0
    assert Denoiser.from_model(tmp_path, device="cpu").noise_gate == 1.5
    assert Denoiser.from_model(tmp_path, device="cpu", noise_gate=0).noise_gate == 0
