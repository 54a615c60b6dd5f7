"""File primitives for checkpoints and model files: format tags, atomic save, safe load.

- Stage checkpoint ``RUN_DIR/checkpoints/<stage>.pt``: format, stage, step, config, the nets
  trained so far with their ``(arch, kwargs)``, optimizer, scheduler and RNG states.
- Model file ``RUN_DIR/model.pt``: each trained net with its architecture and constructor
  arguments, enough for ``sassid denoise`` alone (see ``sassid.models``).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from sassid.atomic import atomic_write_bytes
from sassid.errors import SassidError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMATS",
    "MODEL_FORMAT",
    "MODEL_FORMATS",
    "CheckpointError",
    "save_atomic",
    "load_file",
    "load_stage_checkpoint",
    "NOT_A_MODEL",
]

MODEL_FORMAT = "sassid-model/2"
"""Version 2 records ``arch`` for every network; version 1 (arch = the stage name) still loads."""
MODEL_FORMATS = ("sassid-model/1", MODEL_FORMAT)
CHECKPOINT_FORMAT = "sassid-checkpoint/2"
"""Version 2 adds ``specs: {name: {arch, kwargs}}``; version 1 derives them from its config."""
CHECKPOINT_FORMATS = ("sassid-checkpoint/1", CHECKPOINT_FORMAT)


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
    "`sassid train`, or weights saved with torch.save(net.state_dict()))"
)


def load_file(path: str | os.PathLike[str]) -> Any:
    """``torch.load`` on the CPU with ``weights_only=True``, with one-line errors.

    Files that need full unpickling are refused, never loaded: unpickling runs code (so
    torch's advice to retry with ``weights_only=False`` is never passed on).
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
    except Exception as exc:  # noqa: BLE001 - any other failure: a file of another kind
        if "PytorchStreamReader" in str(exc):  # torch's zip container, cut or damaged
            raise CheckpointError(
                f"{path}: truncated or damaged (PyTorch cannot read its zip archive)"
            ) from None
        raise CheckpointError(f"{path}: {NOT_A_MODEL}") from None


_STAGE_KEYS = ("step", "stage_steps", "nets", "optimizer", "scheduler", "rng")


def load_stage_checkpoint(path: str | os.PathLike[str], stage: str) -> dict[str, Any]:
    """A stage checkpoint written by ``sassid train`` for ``stage``, checked for every key
    resuming needs (a file of another kind gets one line, not a KeyError)."""
    payload = load_file(path)
    if not isinstance(payload, dict) or payload.get("format") not in CHECKPOINT_FORMATS:
        raise CheckpointError(f"{path}: not a sassid training checkpoint; move it away to restart")
    missing = [key for key in _STAGE_KEYS if key not in payload]
    nets = payload.get("nets")
    if payload.get("stage") != stage or missing or not isinstance(nets, dict) or stage not in nets:
        raise CheckpointError(
            f"{path}: not the {stage} stage checkpoint of a run (stage "
            f"{payload.get('stage')!r}, missing {', '.join(missing) or stage + ' weights'})"
        )
    if not isinstance(payload["step"], int) or not isinstance(payload["stage_steps"], int):
        raise CheckpointError(f"{path}: step counts are not integers")
    return payload
