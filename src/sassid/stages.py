"""The three training stages as data: which network learns, from which frozen teachers, with
which loss. One training loop (``sassid.train``) runs any of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sassid.adaptive import alpha_map
from sassid.config import TrainConfig
from sassid.losses import bnn_loss, denoiser_loss, lan_loss

__all__ = ["StageSpec", "stage_specs", "teacher_targets"]

Targets = dict[str, Tensor]


@dataclass(frozen=True)
class StageSpec:
    """One stage: the student's name, the teachers it needs, whether alpha is needed, the loss
    ``loss(student_out, noisy, targets)``."""

    name: str
    teachers: tuple[str, ...]
    needs_alpha: bool
    loss: Callable[[Tensor, Tensor, Targets], Tensor]


def _unet_spec(supervision: str) -> StageSpec:
    match supervision:
        case "adaptive":
            return StageSpec(
                "unet",
                ("bnn", "lan"),
                True,
                lambda out, _y, t: denoiser_loss(out, t["bnn"], t["lan"], t["alpha"]),
            )
        case "both":
            return StageSpec(
                "unet",
                ("bnn", "lan"),
                False,
                lambda out, _y, t: denoiser_loss(
                    out, t["bnn"], t["lan"], torch.full_like(out[:, :1], 0.5)
                ),
            )
        case "bnn":
            return StageSpec("unet", ("bnn",), False, lambda out, _y, t: F.l1_loss(out, t["bnn"]))
        case "lan":
            return StageSpec("unet", ("lan",), False, lambda out, _y, t: F.l1_loss(out, t["lan"]))
    raise ValueError(f"unknown supervision {supervision!r}")


def stage_specs(config: TrainConfig) -> list[StageSpec]:
    """BNN -> LAN -> U-Net, as configured."""
    weighted = config.lan.loss == "alpha"
    return [
        StageSpec("bnn", (), False, lambda out, noisy, _t: bnn_loss(out, noisy)),
        StageSpec(
            "lan",
            ("bnn",),
            weighted,
            lambda out, _y, t: lan_loss(out, t["bnn"], t.get("alpha")),
        ),
        _unet_spec(config.unet.supervision),
    ]


def teacher_targets(
    spec: StageSpec, noisy: Tensor, teachers: dict[str, nn.Module], config: TrainConfig
) -> Targets:
    """The frozen teachers' outputs on the student's exact input crop (the reference's way),
    plus alpha from the BNN output where the stage needs it. No gradient flows back."""
    with torch.no_grad():
        targets = {name: teachers[name](noisy) for name in spec.teachers}
        if spec.needs_alpha:
            a = config.alpha
            targets["alpha"] = alpha_map(targets["bnn"], a.lower, a.upper, a.window)
    return targets
