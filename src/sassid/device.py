"""Where tensors run: ``auto`` means CUDA when available, else the CPU."""

from __future__ import annotations

import torch

from sassid.errors import SassidError

__all__ = ["DEVICE_CHOICES", "resolve_device"]

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device, local_rank: int = 0) -> torch.device:
    """The torch device for ``auto``, ``cpu`` or ``cuda`` (``local_rank`` picks the GPU)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SassidError("--device cuda: no CUDA device is available")
        return torch.device("cuda", local_rank)
    if device != "cpu":
        raise SassidError(f"unknown device {device!r} (use {', '.join(DEVICE_CHOICES)})")
    return torch.device("cpu")
