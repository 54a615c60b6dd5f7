"""Model sources: one reader that recognises every supported file and builds its networks.

``read_model(path)`` is the only place that decides what a file holds:

- a sassid model file (``model.pt``, formats 1 and 2),
- a sassid stage checkpoint (``checkpoints/<stage>.pt``, formats 1 and 2),
- a plain sassid state_dict (``torch.save(UNet().state_dict(), f)``; widths read from shapes),
- a state_dict in the authors' key layout (one BNN, LAN or U-Net).

Each becomes a ``ModelFile``: networks by role (``bnn``, ``lan``, ``unet``) as
``NetEntry(arch, kwargs, state_dict)``, plus the training configuration when the file has one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from sassid.checkpoint import (
    CHECKPOINT_FORMATS,
    MODEL_FORMAT,
    MODEL_FORMATS,
    CheckpointError,
    load_file,
    save_atomic,
)
from sassid.config import AlphaConfig, TrainConfig, config_from_dict
from sassid.errors import ConfigError
from sassid.nets import load_reference_weights
from sassid.nets.reference_format import ReferenceWeightsError, _lan_receptive_field
from sassid.nets.registry import arch_of, build_net, infer_architecture

__all__ = [
    "NetEntry",
    "ModelFile",
    "model_file",
    "read_model",
    "load_networks",
    "load_model",
    "load_weights_into",
    "init_entry",
    "save_model",
    "net_entries",
    "build_stage_net",
]

EXPECTED = (
    "expected a sassid model file (model.pt), a stage checkpoint, or a BNN/LAN/U-Net state_dict "
    "in sassid's or the authors' key layout"
)


@dataclass(frozen=True)
class NetEntry:
    """One network of a model source: its architecture, constructor arguments and weights."""

    arch: str
    kwargs: dict[str, Any]
    state_dict: Mapping[str, Tensor]

    def build(self, where: Path | str = "") -> nn.Module:
        """The network with these weights, in eval mode."""
        try:
            net = build_net(self.arch, self.kwargs)
        except (TypeError, ValueError, KeyError, RuntimeError) as exc:
            raise CheckpointError(f"{where}: cannot build {self.arch} ({exc})") from None
        return _load_state(net, self.state_dict, f"{where}: {self.arch}").eval()


def _load_state(net: nn.Module, state: Mapping[str, Tensor], what: str) -> nn.Module:
    """``net.load_state_dict(state)`` with torch's first mismatch line as a one-line error;
    weights holding NaN or inf are refused (they would write black or NaN images)."""
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{what} entry holds no state_dict")
    try:
        net.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        lines = str(exc).splitlines() or [type(exc).__name__]
        first = lines[1].strip() if len(lines) > 1 else lines[0]
        raise CheckpointError(f"{what} weights do not fit ({first})") from None
    for key, tensor in net.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{what} weights hold NaN or infinite values ({key})")
    return net


@dataclass(frozen=True)
class ModelFile:
    """What a model source holds. ``kind``: model, checkpoint, state_dict or reference."""

    path: Path
    kind: str
    nets: dict[str, NetEntry]
    config: TrainConfig | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def patch_size(self) -> int | None:
        """The crop size the networks were trained on (None when the file does not say)."""
        return self.config.patch_size if self.config is not None else None

    @property
    def lowpass_sigma(self) -> float:
        """The run's ``lowpass_sigma`` (``sassid.corrections.restore_low_frequencies``); 0, off,
        when the file does not say."""
        return self.config.lowpass_sigma if self.config is not None else 0.0

    @property
    def noise_gate(self) -> float:
        """The run's ``noise_gate`` (``sassid.corrections.gate_to_noise``); 0, off, when the
        file does not say."""
        return self.config.noise_gate if self.config is not None else 0.0

    @property
    def alpha(self) -> AlphaConfig:
        """The run's alpha settings (Eq. 3), the paper's defaults when the file has none."""
        return self.config.alpha if self.config is not None else AlphaConfig()

    def entry(self, role: str) -> NetEntry:
        if role not in self.nets:
            held = ", ".join(self.nets) or "none"
            raise CheckpointError(f"{self.path}: holds no {role} network (holds: {held})")
        return self.nets[role]

    def networks(self, roles: tuple[str, ...] | None = None) -> dict[str, nn.Module]:
        """Built networks by role, in eval mode (all of them by default)."""
        return {role: self.entry(role).build(self.path) for role in roles or tuple(self.nets)}


def model_file(path: str | os.PathLike[str]) -> Path:
    """``path`` itself, or a run directory's ``model.pt``."""
    path = Path(path)
    if path.is_dir():
        if not (path / "model.pt").exists():
            raise CheckpointError(f"{path}: no model.pt (has training finished?)")
        return path / "model.pt"
    return path


def net_entries(config: TrainConfig, roles: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{role: {arch, kwargs}}`` for ``roles``, from the run's configuration."""
    return {
        role: {"arch": config.stage(role).arch, "kwargs": config.stage(role).net_kwargs()}
        for role in roles
    }


def build_stage_net(config: TrainConfig, role: str) -> nn.Module:
    """A fresh network for stage ``role`` as ``config`` describes it (architecture and widths)."""
    stage = config.stage(role)
    return build_net(stage.arch, stage.net_kwargs())


def _config(data: Any, path: Path) -> TrainConfig | None:
    if not data:
        return None
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its training configuration is invalid ({exc})") from None


def _from_model(payload: dict[str, Any], path: Path) -> ModelFile:
    nets = {}
    for role, entry in payload["nets"].items():
        nets[role] = NetEntry(entry.get("arch", role), dict(entry["kwargs"]), entry["state_dict"])
    return ModelFile(path, "model", nets, _config(payload.get("config"), path))


def _from_checkpoint(payload: dict[str, Any], path: Path) -> ModelFile:
    config = _config(payload.get("config"), path)
    if config is None:  # a *_best.pt file holds weights only: the run's own config says the rest
        run_config = path.parent.parent / "config.json"
        if run_config.is_file():
            import json

            config = _config(json.loads(run_config.read_text()), path)
    specs = payload.get("specs")
    if specs is None:
        if config is None:
            raise CheckpointError(f"{path}: a stage checkpoint without its configuration")
        specs = net_entries(config, payload["nets"])
    nets = {
        role: NetEntry(specs[role]["arch"], dict(specs[role]["kwargs"]), state)
        for role, state in payload["nets"].items()
    }
    return ModelFile(path, "checkpoint", nets, config, {"stage": payload.get("stage")})


def _reference_kwargs(state: Mapping[str, Tensor]) -> tuple[str, dict[str, Any]] | None:
    """Role and constructor arguments of a state_dict in the authors' layout, from its shapes."""
    s = {k.removeprefix("module."): v for k, v in state.items()}
    if "conv.0.weight" in s:
        blocks = {k.split(".")[3] for k in s if re.fullmatch(r"conv\.\d+\.body\.\d+\..*", k)}
        return "lan", {
            "receptive_field": _lan_receptive_field(s) or 1,
            "width": int(s["conv.0.weight"].shape[0]),
            "num_blocks": len(blocks),
        }
    if "encode_block_1.0.weight" in s:
        enc = int(s["encode_block_1.0.weight"].shape[0])
        if "output_block.0.weight" in s:
            dec = int(s["output_block.4.weight"].shape[1]) if "output_block.4.weight" in s else 96
            return "bnn", {"blind_size": 9, "enc_channels": enc, "dec_channels": dec}
        if "output_conv.weight" in s:
            return "unet", {
                "enc_channels": enc,
                "dec_channels": int(s["output_conv.weight"].shape[1]),
            }
    return None


def _from_state_dict(state: Mapping[str, Tensor], path: Path) -> ModelFile:
    found = infer_architecture(state)
    if found is not None:
        arch, kwargs = found
        return ModelFile(path, "state_dict", {arch: NetEntry(arch, kwargs, state)})
    reference = _reference_kwargs(state)
    if reference is None:
        raise CheckpointError(
            f"{path}: not a model file or state_dict that sassid knows ({EXPECTED})"
        )
    role, kwargs = reference
    try:
        module = load_reference_weights(build_net(role, kwargs), state)
    except (ReferenceWeightsError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    entry = NetEntry(arch_of(module), kwargs, module.state_dict())
    return ModelFile(path, "reference", {role: entry})


def read_model(path: str | os.PathLike[str] | ModelFile) -> ModelFile:
    """Recognise and read any supported model source (a run directory means its model.pt)."""
    if isinstance(path, ModelFile):
        return path
    resolved = model_file(path)
    payload = load_file(resolved)
    if not isinstance(payload, dict):
        raise CheckpointError(f"{resolved}: holds a {type(payload).__name__} ({EXPECTED})")
    tag = payload.get("format")
    try:
        if tag in MODEL_FORMATS:
            return _from_model(payload, resolved)
        if tag in CHECKPOINT_FORMATS:
            return _from_checkpoint(payload, resolved)
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{resolved}: damaged {tag} file (missing {exc})") from None
    if tag is not None:
        raise CheckpointError(f"{resolved}: unknown format {tag!r} ({EXPECTED})")
    if not all(isinstance(v, Tensor) for v in payload.values()):
        raise CheckpointError(f"{resolved}: not a model file or state_dict ({EXPECTED})")
    return _from_state_dict(payload, resolved)


def load_networks(path: str | os.PathLike[str] | ModelFile) -> dict[str, nn.Module]:
    """Every network of a model source by role, in eval mode."""
    return read_model(path).networks()


def load_model(path: str | os.PathLike[str]) -> dict[str, nn.Module]:
    """Networks of a sassid model file (or of a run directory's ``model.pt``), in eval mode."""
    source = read_model(path)
    if source.kind != "model":
        raise CheckpointError(f"{source.path}: not a sassid model file (a {source.kind})")
    return source.networks()


def init_entry(path: str | os.PathLike[str], role: str, arch: str) -> tuple[Path, NetEntry]:
    """The network a stage's ``init`` names: the source's ``role`` network, or its one network
    of architecture ``arch`` whatever its role; with the source's path, for messages."""
    source = read_model(path)
    if role in source.nets:
        return source.path, source.nets[role]
    fitting = [e for e in source.nets.values() if e.arch == arch]
    if len(fitting) != 1:
        raise CheckpointError(f"{source.path}: holds no {role} network")
    return source.path, fitting[0]


def load_weights_into(net: nn.Module, role: str, path: str | os.PathLike[str]) -> nn.Module:
    """Load the ``role`` network of any model source into ``net`` (a stage's ``init``)."""
    where, entry = init_entry(path, role, arch_of(net))
    return _load_state(net, entry.state_dict, f"{where}: {role}")


def save_model(
    path: str | os.PathLike[str],
    nets: dict[str, nn.Module],
    kwargs: dict[str, dict[str, Any]],
    config: dict[str, Any] | None = None,
) -> None:
    """Write the model file: ``{format, config, nets: {role: {arch, kwargs, state_dict}}}``."""
    payload = {
        "format": MODEL_FORMAT,
        "config": config or {},
        "nets": {
            role: {"arch": arch_of(net), "kwargs": kwargs[role], "state_dict": net.state_dict()}
            for role, net in nets.items()
        },
    }
    save_atomic(payload, path)
