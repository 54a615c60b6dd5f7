"""Self-describing checkpoints and model files, written atomically (temp file + rename).

- Stage checkpoint ``RUN_DIR/checkpoints/<stage>.pt``: format, stage, step, config, the nets
  trained so far (student included, no ``module.`` prefix), optimizer, scheduler and RNG states.
- Model file ``RUN_DIR/model.pt``: each trained net with its constructor arguments, enough for
  ``sassid denoise`` alone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sassid.errors import SassidError
from sassid.io import atomic_path
from sassid.nets import BNN, LAN, UNet, load_reference_weights

__all__ = [
    "CHECKPOINT_FORMAT",
    "MODEL_FORMAT",
    "CheckpointError",
    "save_atomic",
    "load_file",
    "build_net",
    "net_kwargs",
    "save_model",
    "load_model",
    "model_file",
]

CHECKPOINT_FORMAT = "sassid-checkpoint/1"
MODEL_FORMAT = "sassid-model/1"


class CheckpointError(SassidError):
    """A checkpoint or model file is missing, corrupt or of another kind."""


def save_atomic(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it onto ``path``."""
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_file(path: str | os.PathLike[str]) -> Any:
    """``torch.load`` on the CPU with ``weights_only=True``, with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(f"{path}: unreadable checkpoint ({exc})") from None


def net_kwargs(name: str, config: Any) -> dict[str, Any]:
    """Constructor arguments of stage ``name``'s network, from a TrainConfig."""
    stage = config.stage(name)
    if name == "bnn":
        return {
            "blind_size": stage.blind_size,
            "enc_channels": stage.enc_channels,
            "dec_channels": stage.dec_channels,
        }
    if name == "lan":
        return {"receptive_field": stage.receptive_field, "width": stage.width}
    return {"enc_channels": stage.enc_channels, "dec_channels": stage.dec_channels}


def build_net(name: str, kwargs: dict[str, Any]) -> nn.Module:
    """An explicit switch from stage name to network class."""
    match name:
        case "bnn":
            return BNN(**kwargs)
        case "lan":
            return LAN(**kwargs)
        case "unet":
            return UNet(**kwargs)
    raise ValueError(f"unknown network {name!r}")


def load_weights_into(net: nn.Module, name: str, path: str | os.PathLike[str]) -> nn.Module:
    """Load ``path`` into ``net``: a sassid model file, a stage checkpoint or reference weights."""
    payload = load_file(path)
    if isinstance(payload, dict) and payload.get("format") == MODEL_FORMAT:
        if name not in payload["nets"]:
            raise CheckpointError(f"{path}: holds no {name} network")
        state = payload["nets"][name]["state_dict"]
    elif isinstance(payload, dict) and payload.get("format") == CHECKPOINT_FORMAT:
        if name not in payload["nets"]:
            raise CheckpointError(f"{path}: holds no {name} network")
        state = payload["nets"][name]
    else:
        return load_reference_weights(net, payload)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise CheckpointError(f"{path}: {name} weights do not fit ({first})") from None
    return net


def save_model(
    path: str | os.PathLike[str],
    nets: dict[str, nn.Module],
    kwargs: dict[str, dict[str, Any]],
    config: dict[str, Any] | None = None,
) -> None:
    """Write the model file: ``{format, config, nets: {name: {kwargs, state_dict}}}``."""
    payload = {
        "format": MODEL_FORMAT,
        "config": config or {},
        "nets": {
            name: {"kwargs": kwargs[name], "state_dict": net.state_dict()}
            for name, net in nets.items()
        },
    }
    save_atomic(payload, path)


def model_file(path: str | os.PathLike[str]) -> Path:
    """``path`` itself, or a run directory's ``model.pt``."""
    path = Path(path)
    if path.is_dir():
        if not (path / "model.pt").exists():
            raise CheckpointError(f"{path}: no model.pt (has training finished?)")
        return path / "model.pt"
    return path


def load_model(path: str | os.PathLike[str]) -> dict[str, nn.Module]:
    """Networks of a model file (or of a run directory's ``model.pt``), in eval mode."""
    path = model_file(path)
    payload = load_file(path)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise CheckpointError(f"{path}: not a sassid model file")
    return nets_from_model_payload(payload)


def nets_from_model_payload(payload: dict[str, Any]) -> dict[str, nn.Module]:
    """Build and load each ``{kwargs, state_dict}`` entry of ``payload["nets"]``, eval mode."""
    nets = {}
    for name, entry in payload["nets"].items():
        net = build_net(name, dict(entry["kwargs"]))
        net.load_state_dict(entry["state_dict"])
        nets[name] = net.eval()
    return nets
