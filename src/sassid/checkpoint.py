"""Self-describing checkpoints and model files, written atomically (temp file + rename).

- Stage checkpoint ``RUN_DIR/checkpoints/<stage>.pt``: format, stage, step, config, the nets
  trained so far (student included, no ``module.`` prefix), optimizer, scheduler and RNG states.
- Model file ``RUN_DIR/model.pt``: each trained net with its constructor arguments, enough for
  ``sassid denoise`` alone.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sassid.atomic import atomic_write_bytes
from sassid.errors import SassidError
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
    "load_stage_checkpoint",
    "check_finite",
]

CHECKPOINT_FORMAT = "sassid-checkpoint/1"
MODEL_FORMAT = "sassid-model/1"


class CheckpointError(SassidError):
    """A checkpoint or model file is missing, corrupt or of another kind."""


def save_atomic(payload: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """``torch.save`` into memory, then :func:`sassid.atomic.atomic_write_bytes` (temp file,
    size check, fsync, rename): a full disk raises OutputError and leaves the old file."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    atomic_write_bytes(path, buffer.getvalue())


NOT_A_MODEL = (
    "not a sassid model file or PyTorch state_dict (expected model.pt or a checkpoint from "
    "`sassid train`, or reference weights saved with torch.save(net.state_dict()))"
)


def load_file(path: str | os.PathLike[str]) -> Any:
    """``torch.load`` on the CPU with ``weights_only=True``, with one-line errors.

    Files that need full unpickling are refused, never loaded: unpickling runs code.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder without model.pt")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file")
    try:
        with warnings.catch_warnings():  # torch's notes on pickle protocols are not for users
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except MemoryError:
        raise CheckpointError(f"{path}: too large to load (out of memory)") from None
    except Exception:  # noqa: BLE001 - any unpickling failure means a file of another kind
        raise CheckpointError(f"{path}: {NOT_A_MODEL}") from None


def check_finite(path: str | os.PathLike[str], name: str, net: nn.Module) -> nn.Module:
    """Refuse weights holding NaN or inf: they would write black or NaN images."""
    for key, tensor in net.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path}: {name} weights hold NaN or infinite values ({key})")
    return net


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
    raise CheckpointError(f"unknown network {name!r} (known: bnn, lan, unet)")


def load_weights_into(net: nn.Module, name: str, path: str | os.PathLike[str]) -> nn.Module:
    """Load ``path`` into ``net``: a sassid model file, a stage checkpoint or reference weights."""
    payload = load_file(path)
    if not isinstance(payload, dict):
        raise CheckpointError(f"{path}: {NOT_A_MODEL}")
    if payload.get("format") in (MODEL_FORMAT, CHECKPOINT_FORMAT):
        nets = payload.get("nets")
        if not isinstance(nets, dict) or name not in nets:
            raise CheckpointError(f"{path}: holds no {name} network")
        entry = nets[name]
        state = entry.get("state_dict") if payload["format"] == MODEL_FORMAT else entry
        _load_state(path, name, net, state)
    else:
        load_reference_weights(net, payload)
    return check_finite(path, name, net)


def _load_state(path: str | os.PathLike[str], name: str, net: nn.Module, state: Any) -> None:
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: {name} entry holds no state_dict")
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        text = str(exc)
        first = text.splitlines()[1].strip() if "\n" in text else text
        raise CheckpointError(f"{path}: {name} weights do not fit ({first})") from None


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
    return nets_from_model_payload(payload, path)


def nets_from_model_payload(
    payload: dict[str, Any], path: str | os.PathLike[str] = "model"
) -> dict[str, nn.Module]:
    """Build and load each ``{kwargs, state_dict}`` entry of ``payload["nets"]``, eval mode.

    Raises:
        CheckpointError: no networks, an unknown one, arguments or weights that do not fit,
            or weights holding NaN/inf; one line naming ``path`` and the network.
    """
    entries = payload.get("nets")
    if not isinstance(entries, dict) or not entries:
        raise CheckpointError(f"{path}: holds no networks")
    nets = {}
    for name, entry in entries.items():
        if name not in ("bnn", "lan", "unet"):
            raise CheckpointError(f"{path}: unknown network {name!r} (known: bnn, lan, unet)")
        if not isinstance(entry, dict) or not isinstance(entry.get("kwargs"), dict):
            raise CheckpointError(f"{path}: {name} entry lacks its constructor arguments")
        try:
            net = build_net(name, dict(entry["kwargs"]))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"{path}: {name} arguments {entry['kwargs']} do not build the network ({exc})"
            ) from None
        _load_state(path, name, net, entry.get("state_dict"))
        nets[name] = check_finite(path, name, net).eval()
    return nets


_STAGE_KEYS = ("step", "stage_steps", "nets", "optimizer", "scheduler", "rng")


def load_stage_checkpoint(path: str | os.PathLike[str], stage: str) -> dict[str, Any]:
    """A stage checkpoint written by ``sassid train`` for ``stage``, checked for every key
    resuming needs (a file of another kind gets one line, not a KeyError)."""
    payload = load_file(path)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a sassid training checkpoint; move it away to restart")
    missing = [key for key in _STAGE_KEYS if key not in payload]
    if payload.get("stage") != stage or missing or stage not in payload["nets"]:
        raise CheckpointError(
            f"{path}: not the {stage} stage checkpoint of a run (stage "
            f"{payload.get('stage')!r}, missing {', '.join(missing) or stage + ' weights'})"
        )
    if not isinstance(payload["step"], int) or not isinstance(payload["stage_steps"], int):
        raise CheckpointError(f"{path}: step counts are not integers")
    return payload
