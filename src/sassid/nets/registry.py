"""One registry from an architecture name to its network class.

A model file records, for every network, ``(arch, kwargs)``; ``build_net(arch, kwargs)`` makes
it again. A new network (say a cheaper stage-1 teacher) is one ``register`` call: nothing else
in the package switches on architecture names.

Plain sassid state_dicts (``torch.save(UNet().state_dict(), f)``) carry no architecture, so each
entry also says how to recognise its own keys and read its constructor arguments back from the
weight shapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from sassid.errors import OptionError
from sassid.nets.bnn import BNN
from sassid.nets.lan import LAN
from sassid.nets.unet import UNet

__all__ = [
    "Architecture",
    "ARCHITECTURES",
    "register",
    "build_net",
    "arch_of",
    "infer_architecture",
]

StateDict = Mapping[str, Tensor]


@dataclass(frozen=True)
class Architecture:
    """A network class, how to spot its state_dict, and how to read kwargs from the shapes."""

    name: str
    cls: type[nn.Module]
    matches: Callable[[StateDict], bool]
    kwargs_from_state_dict: Callable[[StateDict], dict[str, Any]]


ARCHITECTURES: dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    """Add ``arch`` to the registry (names are unique)."""
    if arch.name in ARCHITECTURES:
        raise ValueError(f"architecture {arch.name!r} is already registered")
    ARCHITECTURES[arch.name] = arch
    return arch


def build_net(arch: str, kwargs: Mapping[str, Any]) -> nn.Module:
    """A fresh network of architecture ``arch`` built with ``kwargs``."""
    if arch not in ARCHITECTURES:
        raise OptionError(f"unknown architecture {arch!r} (known: {', '.join(ARCHITECTURES)})")
    return ARCHITECTURES[arch].cls(**dict(kwargs))


def arch_of(net: nn.Module) -> str:
    """The registered name of ``net``'s class."""
    for arch in ARCHITECTURES.values():
        if type(net) is arch.cls:
            return arch.name
    raise ValueError(f"{type(net).__name__} is not a registered architecture")


def infer_architecture(state: StateDict) -> tuple[str, dict[str, Any]] | None:
    """``(arch, kwargs)`` of a plain sassid state_dict, or None when no architecture matches.

    The BNN's blind size leaves no trace in its weights: the paper's 9 is assumed.
    """
    for arch in ARCHITECTURES.values():
        if arch.matches(state):
            return arch.name, arch.kwargs_from_state_dict(state)
    return None


def _count(state: StateDict, prefix: str) -> int:
    """How many ``prefix<i>.`` indices the keys hold."""
    indices = {key[len(prefix) :].split(".")[0] for key in state if key.startswith(prefix)}
    return len(indices)


register(
    Architecture(
        "bnn",
        BNN,
        lambda s: "trunk.encoder.0.0.weight" in s and "head.4.weight" in s,
        lambda s: {
            "blind_size": 9,
            "enc_channels": int(s["trunk.encoder.0.0.weight"].shape[0]),
            "dec_channels": int(s["head.4.weight"].shape[1]),
        },
    )
)
register(
    Architecture(
        "lan",
        LAN,
        lambda s: "entry.weight" in s and "exit.weight" in s,
        lambda s: {
            "receptive_field": 2 * _count(s, "local.") + 1,
            "width": int(s["entry.weight"].shape[0]),
            "num_blocks": _count(s, "blocks."),
            "reduction": int(s["entry.weight"].shape[0])
            // int(s.get("blocks.0.attention.squeeze.weight", s["entry.weight"]).shape[0]),
        },
    )
)
register(
    Architecture(
        "unet",
        UNet,
        lambda s: "trunk.encoder.0.0.weight" in s and "head.weight" in s,
        lambda s: {
            "enc_channels": int(s["trunk.encoder.0.0.weight"].shape[0]),
            "dec_channels": int(s["head.weight"].shape[1]),
        },
    )
)
