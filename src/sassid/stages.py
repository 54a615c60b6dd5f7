"""The three training stages as data: which network learns, from which frozen teachers, with
which loss. One training loop (``sassid.train``) runs any of them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from sassid.adaptive import alpha_map
from sassid.config import TrainConfig
from sassid.losses import (
    Distance,
    blended_target_loss,
    bnn_loss,
    denoiser_loss,
    lan_loss,
    pixel_loss,
)
from sassid.teachers import POSTERIOR
from sassid.tiling import run_tiled

__all__ = [
    "StageSpec",
    "stage_specs",
    "teacher_targets",
    "stage_loss",
    "train_step",
    "time_train_steps",
    "autocast",
    "with_alpha",
    "prepare_net",
    "memory_format",
    "prepare_batch",
]

Targets = dict[str, Tensor]


@dataclass(frozen=True)
class StageSpec:
    """One stage: the student's name, the teachers it needs, whether alpha is needed, the loss
    ``loss(student_out, noisy, targets)``."""

    name: str
    teachers: tuple[str, ...]
    needs_alpha: bool
    loss: Callable[[Tensor, Tensor, Targets], Tensor]
    needs_posterior: bool = False
    """Whether the loss reads ``targets[POSTERIOR]`` (the teacher cache's ``add_posterior``):
    set from ``UNetStageConfig.reads_posterior`` by ``stage_specs``."""


def _alpha_weighted(
    loss: Callable[[Tensor, Tensor, Tensor, Tensor, Distance], Tensor], distance: Distance
) -> StageSpec:
    """Stage 3 taught by both teachers through ``loss(out, bnn, lan, alpha, distance)``."""
    return StageSpec(
        "unet",
        ("bnn", "lan"),
        True,
        lambda out, _y, t: loss(out, t["bnn"], t["lan"], t["alpha"], distance),
    )


def _unet_spec(supervision: str, distance: Distance = "l1") -> StageSpec:
    match supervision:
        case "adaptive":
            return _alpha_weighted(denoiser_loss, distance)
        case "both":
            return StageSpec(
                "unet",
                ("bnn", "lan"),
                False,
                lambda out, _y, t: denoiser_loss(
                    out, t["bnn"], t["lan"], torch.full_like(out[:, :1], 0.5), distance
                ),
            )
        case "blend":
            return _alpha_weighted(blended_target_loss, distance)
        case "bnn":
            return StageSpec(
                "unet", ("bnn",), False, lambda out, _y, t: pixel_loss(out, t["bnn"], distance)
            )
        case "posterior":
            return StageSpec(
                "unet",
                ("bnn",),
                False,
                lambda out, _y, t: pixel_loss(out, t[POSTERIOR], distance),
            )
        case "blend_posterior":
            return StageSpec(
                "unet",
                ("bnn", "lan"),
                True,
                lambda out, _y, t: blended_target_loss(
                    out, t[POSTERIOR], t["lan"], t["alpha"], distance
                ),
            )
        case "lan":
            return StageSpec(
                "unet", ("lan",), False, lambda out, _y, t: pixel_loss(out, t["lan"], distance)
            )
    raise ValueError(f"unknown supervision {supervision!r}")


def stage_specs(config: TrainConfig) -> list[StageSpec]:
    """BNN -> LAN -> U-Net, as configured (each with its stage's ``distance``)."""
    weighted = config.lan.loss == "alpha"
    bnn_distance, lan_distance = config.bnn.distance, config.lan.distance
    return [
        StageSpec("bnn", (), False, lambda out, noisy, _t: bnn_loss(out, noisy, bnn_distance)),
        StageSpec(
            "lan",
            ("bnn",),
            weighted,
            lambda out, _y, t: lan_loss(out, t["bnn"], t.get("alpha"), lan_distance),
        ),
        replace(
            _unet_spec(config.unet.supervision, config.unet.distance),
            needs_posterior=config.unet.reads_posterior,
        ),
    ]


def autocast(config: TrainConfig, device: torch.device | str) -> torch.autocast:
    """bfloat16 autocast when ``config.precision == "bf16"``, a no-op context otherwise."""
    kind = torch.device(device).type
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=config.precision == "bf16")


def memory_format(net: nn.Module, channels_last: bool) -> nn.Module:
    """``net`` with its 4-D weights stored NHWC (``channels_last``) or NCHW, in place."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return net.to(memory_format=fmt)  # type: ignore[call-overload]


def prepare_net(net: nn.Module, config: TrainConfig) -> nn.Module:
    """The network in the configured memory format (NHWC with ``channels_last``)."""
    if config.channels_last:
        memory_format(net, True)
    return net


def prepare_batch(noisy: Tensor, config: TrainConfig) -> Tensor:
    """The batch in the configured memory format."""
    if config.channels_last:
        return noisy.contiguous(memory_format=torch.channels_last)
    return noisy


def teacher_targets(
    spec: StageSpec, noisy: Tensor, teachers: dict[str, nn.Module], config: TrainConfig
) -> Targets:
    """The frozen teachers' outputs on the student's exact input crop (the reference's way),
    plus alpha from the BNN output where the stage needs it. No gradient flows back.
    Teachers run under the configured autocast; targets and alpha are float32. A crop larger
    than the teachers' own (``[unet] patch_size``) goes through them in tiles of theirs,
    overlapping by a quarter, as the teacher cache does: a BNN degrades on larger inputs."""
    tile = config.patch_size
    with torch.no_grad():
        with autocast(config, noisy.device):
            outputs = {
                name: run_tiled(teachers[name], noisy, tile, tile // 4) for name in spec.teachers
            }
        targets = {name: out.float() for name, out in outputs.items()}
        if spec.needs_alpha:
            a = config.alpha
            targets["alpha"] = alpha_map(targets["bnn"], a.lower, a.upper, a.window)
    return targets


def with_alpha(spec: StageSpec, targets: Targets, config: TrainConfig) -> Targets:
    """``targets`` (e.g. cached teacher outputs) plus alpha from the BNN target if needed."""
    if spec.needs_alpha:
        a = config.alpha
        targets = {**targets, "alpha": alpha_map(targets["bnn"], a.lower, a.upper, a.window)}
    return targets


def stage_loss(
    spec: StageSpec,
    student: nn.Module,
    noisy: Tensor,
    teachers: dict[str, nn.Module],
    config: TrainConfig,
    targets: Targets | None = None,
) -> Tensor:
    """The stage's loss on one batch: the student under the configured autocast, the loss in
    float32 against the teachers' targets (computed here unless given)."""
    if targets is None:
        targets = teacher_targets(spec, noisy, teachers, config)
    with autocast(config, noisy.device):
        out = student(noisy)
    return spec.loss(out.float(), noisy, targets)


def train_step(
    spec: StageSpec,
    student: nn.Module,
    noisy: Tensor,
    teachers: dict[str, nn.Module],
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    targets: Targets | None = None,
) -> Tensor:
    """One optimisation step (loss, backward, Adam, schedule); returns the detached loss.
    ``targets``: precomputed teacher targets (a teacher cache); else the teachers run here."""
    loss = stage_loss(spec, student, noisy, teachers, config, targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.detach()


def time_train_steps(
    spec: StageSpec,
    student: nn.Module,
    noisy: Tensor,
    teachers: dict[str, nn.Module],
    config: TrainConfig,
    optimizer: torch.optim.Optimizer,
    steps: int,
    targets: Targets | None = None,
) -> tuple[float, float]:
    """Seconds per ``train_step`` over ``steps`` repeats on one batch, after one warm-up step,
    and the warm-up's seconds (compilation shows there). A CUDA device is synchronised before
    each clock read, so queued kernels are counted."""

    def sync() -> None:
        if noisy.device.type == "cuda":
            torch.cuda.synchronize(noisy.device)

    start = time.perf_counter()
    train_step(spec, student, noisy, teachers, config, optimizer, None, targets)
    sync()
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        train_step(spec, student, noisy, teachers, config, optimizer, None, targets)
    sync()
    return (time.perf_counter() - start) / steps, warmup
