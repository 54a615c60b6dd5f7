"""Move weights between sassid's networks and the authors' state_dict layout, both ways.

The authors' checkpoints are plain state_dicts (``torch.save(net.state_dict())``), possibly with a
``module.`` prefix from DataParallel. Their key layout (see shared/reference/README.md):

- BNN and U-Net trunk: ``encode_block_{1..6}.{0,2}``, ``decode_block_{5..1}.{0,2}``;
- U-Net output: ``output_conv``; BNN head: ``output_block.{0,2,4}``, plus ``output_conv`` as an
  alias of ``output_block.4`` (the same tensors listed twice);
- LAN: ``conv.0`` (1x1 in), ``conv.2``, ``conv.4``, ... (3x3s), then ``conv.N.body.{b}.{conv1,
  conv2,cuca.conv_du.{0,2}}``, ``conv.N.tail``, and ``conv.{N+1}`` (1x1 out).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from sassid.errors import SassidError
from sassid.nets.bnn import BNN
from sassid.nets.lan import LAN
from sassid.nets.unet import UNet

__all__ = [
    "ReferenceWeightsError",
    "reference_key_map",
    "load_reference_weights",
    "to_reference_state_dict",
]

_BNN_ALIAS = ("output_conv", "output_block.4")


class ReferenceWeightsError(SassidError, ValueError):
    """A state_dict does not fit the network it is loaded into."""


def _trunk_name(name: str) -> str | None:
    m = re.fullmatch(r"trunk\.encoder\.(\d)\.(\d)\.(weight|bias)", name)
    if m:
        return f"encode_block_{int(m[1]) + 1}.{m[2]}.{m[3]}"
    m = re.fullmatch(r"trunk\.decoder\.(\d)\.(\d)\.(weight|bias)", name)
    if m:
        return f"decode_block_{5 - int(m[1])}.{m[2]}.{m[3]}"
    return None


def _lan_name(name: str, n_local: int) -> str:
    body = 2 + 2 * n_local
    rules = [
        (r"entry\.(\w+)", lambda m: f"conv.0.{m[1]}"),
        (r"local\.(\d+)\.(\w+)", lambda m: f"conv.{2 + 2 * int(m[1])}.{m[2]}"),
        (r"blocks\.(\d+)\.(conv[12])\.(\w+)", lambda m: f"conv.{body}.body.{m[1]}.{m[2]}.{m[3]}"),
        (
            r"blocks\.(\d+)\.attention\.(squeeze|excite)\.(\w+)",
            lambda m: (
                f"conv.{body}.body.{m[1]}.cuca.conv_du.{0 if m[2] == 'squeeze' else 2}.{m[3]}"
            ),
        ),
        (r"tail\.(\w+)", lambda m: f"conv.{body}.tail.{m[1]}"),
        (r"exit\.(\w+)", lambda m: f"conv.{body + 1}.{m[1]}"),
    ]
    for pattern, rename in rules:
        m = re.fullmatch(pattern, name)
        if m:
            return rename(m)
    raise KeyError(name)


def reference_key_map(net: nn.Module) -> dict[str, str]:
    """Map each of ``net``'s state_dict keys to the authors' key for the same tensor."""
    mapping: dict[str, str] = {}
    for name in net.state_dict():
        ref: str | None
        if isinstance(net, LAN):
            ref = _lan_name(name, len(net.local))
        else:
            ref = _trunk_name(name)
            if ref is None and isinstance(net, BNN):
                ref = re.sub(r"^head\.", "output_block.", name)
            elif ref is None and isinstance(net, UNet):
                ref = re.sub(r"^head\.", "output_conv.", name)
        if ref is None or ref == name and not isinstance(net, LAN):
            raise TypeError(f"no reference layout for {type(net).__name__} key {name!r}")
        mapping[name] = ref
    return mapping


def _read_state_dict(source: Mapping[str, Tensor] | str | os.PathLike[str]) -> dict[str, Tensor]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            with warnings.catch_warnings():  # torch's notes on pickle protocols
                warnings.simplefilter("ignore")
                loaded = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise ReferenceWeightsError(f"{path}: no such file") from None
        except Exception:  # noqa: BLE001 - any unpickling failure is a bad file
            # (never torch's advice to unpickle with weights_only=False: that runs code)
            raise ReferenceWeightsError(f"{path}: not a PyTorch state_dict") from None
        if not isinstance(loaded, Mapping):
            raise ReferenceWeightsError(
                f"{path}: holds a {type(loaded).__name__}, not a state_dict"
            )
        source = loaded
    if not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in source.items()):
        raise ReferenceWeightsError("not a state_dict (names mapped to tensors)")
    return {k.removeprefix("module."): v for k, v in source.items()}


def _lan_receptive_field(state: Mapping[str, Tensor]) -> int | None:
    """The receptive field a LAN state_dict was built with, from its count of 3x3 convs."""
    spatial = [
        k
        for k, v in state.items()
        if re.fullmatch(r"conv\.\d+\.weight", k) and v.ndim == 4 and v.shape[-1] == 3
    ]
    return 2 * len(spatial) + 1 if spatial else None


def load_reference_weights(
    net: nn.Module, state_dict_or_path: Mapping[str, Tensor] | str | os.PathLike[str]
) -> nn.Module:
    """Load a state_dict in the authors' layout into ``net`` (a BNN, LAN or UNet) and return it.

    Raises:
        ReferenceWeightsError: naming the first key that is missing, unexpected, or of another
            shape; nothing is loaded in that case.
    """
    theirs = _read_state_dict(state_dict_or_path)
    if isinstance(net, BNN):
        alias, target = _BNN_ALIAS
        for suffix in ("weight", "bias"):
            a, t = f"{alias}.{suffix}", f"{target}.{suffix}"
            if a in theirs:
                value = theirs.pop(a)
                if t not in theirs:
                    theirs[t] = value
                elif not torch.equal(theirs[t], value):
                    raise ReferenceWeightsError(f"{a} differs from its alias {t}")
    if isinstance(net, LAN):
        found = _lan_receptive_field(theirs)
        if found is not None and found != net.receptive_field:
            raise ReferenceWeightsError(
                f"these are LAN weights with receptive_field={found} "
                f"({(found - 1) // 2} 3x3 convs); the network has {net.receptive_field}"
            )
    mapping = reference_key_map(net)
    own = net.state_dict()
    loaded: dict[str, Tensor] = {}
    for ours, ref in mapping.items():
        if ref not in theirs:
            raise ReferenceWeightsError(
                f"missing key {ref!r} for {type(net).__name__} (expected shape "
                f"{tuple(own[ours].shape)})"
            )
        if theirs[ref].shape != own[ours].shape:
            raise ReferenceWeightsError(
                f"key {ref!r}: shape {tuple(theirs[ref].shape)} does not fit "
                f"{type(net).__name__}'s {tuple(own[ours].shape)}"
            )
        loaded[ours] = theirs[ref]
    extra = sorted(set(theirs) - set(mapping.values()))
    if extra:
        raise ReferenceWeightsError(
            f"unexpected key {extra[0]!r} for {type(net).__name__} ({len(extra)} unexpected)"
        )
    net.load_state_dict(loaded, strict=True)
    return net


def to_reference_state_dict(net: nn.Module) -> dict[str, Tensor]:
    """``net``'s weights in the authors' layout (a BNN also gets the ``output_conv`` alias)."""
    own = net.state_dict()
    theirs = {ref: own[ours].detach().clone() for ours, ref in reference_key_map(net).items()}
    if isinstance(net, BNN):
        alias, target = _BNN_ALIAS
        for suffix in ("weight", "bias"):
            theirs[f"{alias}.{suffix}"] = theirs[f"{target}.{suffix}"]
    return theirs
