"""File primitives for checkpoints and model files: format tags, atomic save, safe load.

- Stage checkpoint ``RUN_DIR/checkpoints/<stage>.pt``: format, stage, step, config, the nets
  trained so far with their ``(arch, kwargs)``, optimizer, scheduler and RNG states.
- Model file ``RUN_DIR/model.pt``: each trained net with its architecture and constructor
  arguments, enough for ``sassid denoise`` alone (see ``sassid.models``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from sassid.errors import SassidError
from sassid.io import atomic_path

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_FORMATS",
    "MODEL_FORMAT",
    "MODEL_FORMATS",
    "CheckpointError",
    "save_atomic",
    "load_file",
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
