"""Load networks for inference from a run directory, a model file, a stage checkpoint, or
weights in the authors' format."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from sassid.checkpoint import (
    CHECKPOINT_FORMAT,
    MODEL_FORMAT,
    NOT_A_MODEL,
    CheckpointError,
    check_finite,
    load_file,
    model_file,
    nets_from_model_payload,
)
from sassid.errors import ConfigError
from sassid.nets import BNN, LAN, UNet, load_reference_weights
from sassid.nets.reference_format import ReferenceWeightsError, _lan_receptive_field

__all__ = ["load_networks", "networks_from_payload", "read_model_source", "training_patch_size"]


def read_model_source(path: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """The resolved file (a run directory means its ``model.pt``) and its loaded contents."""
    resolved = model_file(path)
    payload = load_file(resolved)
    if not isinstance(payload, dict):
        raise CheckpointError(f"{resolved}: {NOT_A_MODEL}")
    return resolved, payload


def training_patch_size(payload: dict[str, Any]) -> int | None:
    """The crop size a sassid model or checkpoint was trained on (None for reference files)."""
    if payload.get("format") in (MODEL_FORMAT, CHECKPOINT_FORMAT):
        config = payload.get("config")
        size = config.get("patch_size") if isinstance(config, dict) else None
        return size if isinstance(size, int) and size > 0 else None
    return None


def load_networks(path: str | os.PathLike[str], net: str = "unet") -> dict[str, nn.Module]:
    """Networks by name, in eval mode, from any supported model source."""
    return networks_from_payload(*read_model_source(path), net)


def networks_from_payload(
    path: Path, payload: dict[str, Any], net: str = "unet"
) -> dict[str, nn.Module]:
    """Networks by name, in eval mode, from the contents of a model source at ``path``.

    Reference-format files hold one network: ``net`` says which (``unet``; ``bnn`` with the
    paper's blind size 9; ``lan`` with the receptive field read from the weights).
    """
    fmt = payload.get("format")
    if fmt == MODEL_FORMAT:
        return nets_from_model_payload(payload, path)
    if fmt == CHECKPOINT_FORMAT:
        from sassid.checkpoint import net_kwargs
        from sassid.config import config_from_dict

        if not isinstance(payload.get("config"), dict) or not isinstance(payload.get("nets"), dict):
            raise CheckpointError(f"{path}: checkpoint without its config or networks")
        try:
            config = config_from_dict(payload["config"])
        except ConfigError as exc:
            raise CheckpointError(f"{path}: its config does not load ({exc})") from None
        entries = {
            name: {"kwargs": net_kwargs(name, config), "state_dict": state}
            for name, state in payload["nets"].items()
            if name in ("bnn", "lan", "unet")
        }
        return nets_from_model_payload({"nets": entries}, path)
    if fmt is not None:
        raise CheckpointError(
            f"{path}: unknown format {fmt!r} (this sassid reads {MODEL_FORMAT} and "
            f"{CHECKPOINT_FORMAT})"
        )
    if not payload or not all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in payload.items()
    ):
        raise CheckpointError(f"{path}: {NOT_A_MODEL}")
    module: nn.Module
    if net == "bnn":
        module = BNN(9)
    elif net == "lan":
        module = LAN(_lan_receptive_field(payload) or 3)
    elif net == "unet":
        module = UNet()
    else:
        raise CheckpointError(
            f"{path}: reference-format weights hold one network; --net {net} needs a model file"
        )
    try:
        load_reference_weights(module, payload)
    except ReferenceWeightsError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return {net: check_finite(path, net, module).eval()}
