"""Weights move both ways between sassid's networks and the authors' state_dict layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sassid.nets import (
    BNN,
    LAN,
    ReferenceWeightsError,
    UNet,
    load_reference_weights,
    to_reference_state_dict,
)


def test_exported_keys_equal_the_authors(reference: dict) -> None:
    pairs = [(BNN(9), "bnn9_state"), (UNet(), "unet_state"), (LAN(3), "lan3_random_state")]
    pairs.append((LAN(5), "lan5_random_state"))
    for net, state in pairs:
        exported = to_reference_state_dict(net)
        assert set(exported) == set(reference[state])
        assert all(exported[k].shape == v.shape for k, v in reference[state].items())


@pytest.mark.parametrize("make", [lambda: BNN(9), UNet, lambda: LAN(3), lambda: LAN(7)])
def test_round_trip(make, tmp_path: Path) -> None:  # noqa: ANN001
    source, target = make(), make()
    path = tmp_path / "w.pth"
    torch.save(to_reference_state_dict(source), path)
    load_reference_weights(target, path)
    for (k, a), b in zip(source.state_dict().items(), target.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_wrong_network_names_the_key(reference: dict) -> None:
    with pytest.raises(
        ReferenceWeightsError, match=r"receptive_field=5 \(2 3x3 convs\); the network has 3"
    ):
        load_reference_weights(LAN(3), reference["lan5_random_state"])
    with pytest.raises(ReferenceWeightsError, match=r"key 'encode_block_1.0.weight': shape"):
        load_reference_weights(BNN(9, enc_channels=16), reference["bnn9_state"])


def test_missing_and_unexpected_keys(reference: dict) -> None:
    state = dict(reference["unet_state"])
    del state["decode_block_2.0.bias"]
    with pytest.raises(ReferenceWeightsError, match="missing key 'decode_block_2.0.bias'"):
        load_reference_weights(UNet(), state)
    with pytest.raises(ReferenceWeightsError, match="unexpected key 'output_block.0.bias'"):
        load_reference_weights(UNet(), reference["bnn9_state"])


def test_dataparallel_prefix_and_cuda_saved_file(reference: dict, official_lan_path: Path) -> None:
    prefixed = {f"module.{k}": v for k, v in reference["unet_state"].items()}
    net = load_reference_weights(UNet(), prefixed)
    assert torch.equal(net.head.weight, reference["unet_state"]["output_conv.weight"])
    load_reference_weights(LAN(3), official_lan_path)  # saved from CUDA tensors


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ReferenceWeightsError, match="no such file"):
        load_reference_weights(UNet(), tmp_path / "absent.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ReferenceWeightsError, match="junk.pth: not a PyTorch state_dict"):
        load_reference_weights(UNet(), junk)


def test_inconsistent_bnn_alias(reference: dict) -> None:
    state = dict(reference["bnn9_state"])
    state["output_conv.bias"] = state["output_conv.bias"] + 1
    with pytest.raises(ReferenceWeightsError, match="alias"):
        load_reference_weights(BNN(9), state)
