"""An exponential moving average of a network's weights (Polyak averaging), for a stage's end.

A stage trained to the end of its cosine schedule still ends at one point of a noisy
trajectory: on SIDD the BNN's final PSNR moved by 1.24 dB between seeds
(``results/bnn_length.md``). Averaging the weights over the last part of the stage is the usual
remedy. The average spans about ``window`` of the stage's steps:

    w_avg <- d * w_avg + (1 - d) * w,    d = min(1 - 1 / (window * total), (1 + t) / (10 + t))

the second term a warm-up, so that the random initial weights are forgotten quickly (step t).
Only floating-point tensors are averaged (parameters and float buffers). Measured on the
``laptop`` BNN (1200 steps, window 0.25; results/bnn_crop_ema.md): no change on either real set
(-0.02, -0.01 dB), so no preset turns it on.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["WeightAverage", "ema_decay"]


def ema_decay(step: int, total: int, window: float) -> float:
    """The decay at ``step`` of a ``total``-step stage for an average spanning ``window`` of it."""
    span = max(1.0, window * total)
    return min(1.0 - 1.0 / span, (1.0 + step) / (10.0 + step))


def _float_tensors(net: nn.Module) -> dict[str, Tensor]:
    return {k: v for k, v in net.state_dict().items() if v.is_floating_point()}


class WeightAverage:
    """The running average of ``net``'s float weights, held apart from the network."""

    def __init__(self, net: nn.Module) -> None:
        self.average = {k: v.detach().clone() for k, v in _float_tensors(net).items()}

    @torch.no_grad()
    def update(self, net: nn.Module, decay: float) -> None:
        """``average <- decay * average + (1 - decay) * net``."""
        current = _float_tensors(net)
        names = list(self.average)
        torch._foreach_lerp_(
            [self.average[k] for k in names], [current[k].detach() for k in names], 1.0 - decay
        )

    @torch.no_grad()
    def copy_to(self, net: nn.Module) -> None:
        """Put the average into ``net`` (its other tensors stay)."""
        state = net.state_dict()
        for k, v in self.average.items():
            state[k].copy_(v)

    def state_dict(self) -> dict[str, Tensor]:
        return dict(self.average)

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        missing = set(self.average) ^ set(state)
        if missing:
            raise KeyError(f"weight average: mismatched tensors {sorted(missing)[:3]}")
        for k, v in state.items():
            self.average[k].copy_(v)
