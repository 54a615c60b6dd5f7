"""Small fabricated inputs for fast CPU tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from sassid.config import TrainConfig, config_from_dict

TINY = {
    "batch_size": 2,
    "patch_size": 32,
    "log_every": 1,
    "checkpoint_every": 2,
    "val_every": 2,
    "bnn": {"steps": 4, "enc_channels": 8, "dec_channels": 16},
    "lan": {"steps": 4, "width": 16},
    "unet": {"steps": 4, "enc_channels": 8, "dec_channels": 16},
}


def tiny_config(**changes: object) -> TrainConfig:
    data: dict[str, object] = dict(TINY)
    for key, value in changes.items():
        base = data.get(key)
        data[key] = (
            {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
        )
    return config_from_dict(data)


def write_noisy_images(folder: Path, count: int = 3, size: tuple[int, int] = (48, 64)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        clean = np.linspace(40, 200, size[1])[None, :, None] * np.ones((size[0], 1, 3))
        noisy = np.clip(clean + rng.normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"img{i}_noisy.png")
        Image.fromarray(clean.astype(np.uint8)).save(folder / f"img{i}_clean.png")
    return folder


def write_tiny_model(path: Path, config: dict | None = None) -> Path:
    """A model file with narrow random networks (fast to run); ``config``: its run settings."""
    import torch

    from sassid.models import save_model
    from sassid.nets.registry import build_net

    kwargs = {
        "bnn": {"blind_size": 9, "enc_channels": 8, "dec_channels": 16},
        "lan": {"receptive_field": 3, "width": 16},
        "unet": {"enc_channels": 8, "dec_channels": 16},
    }
    torch.manual_seed(0)
    nets = {name: build_net(name, kw) for name, kw in kwargs.items()}
    save_model(path, nets, kwargs, config)
    return path


def evaluate_json(model: Path, data: Path, out: Path, *extra: str) -> dict:
    """Run ``sassid evaluate`` on the CPU, quietly, and return its JSON summary."""
    import json

    from sassid.cli import main

    args = ["evaluate", "-m", str(model), str(data), "-q", "--device", "cpu", "--json", str(out)]
    assert main([*args, *extra]) == 0
    return json.loads(out.read_text())
