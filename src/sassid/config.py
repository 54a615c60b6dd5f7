"""Training configuration: frozen dataclasses, validated once at load.

A TOML file sets any subset of the keys below; unknown keys and bad values are rejected with
one line naming the key. Presets give the defaults: ``paper`` is the authors' schedule
(reference-implementation.md section 6), ``quick`` a CPU-sized run.

```toml
batch_size = 8          # global batch (split across processes under torchrun)
patch_size = 256        # random square crops, multiple of 32
keep_every = 0          # also keep checkpoints/<stage>_step<N>.pt every N steps (0: off)
[bnn]
steps = 400000
lr = 3e-4
blind_size = 9
max_steps = 1500        # with --minutes: plan at most this many steps; the time its share
                        # holds beyond them goes to the other stages (0, the default: no cap)
ema_window = 0.1        # end on the weights averaged over ~the last 10% of steps (0: off)
plateau_gain = 0.01     # with --minutes: stop once the loss falls < 1% per 800 steps (0: off)
[lan]
loss = "unweighted"     # or "alpha": the paper's Eq. 4
[unet]
init = "UNet.pth"       # start from these weights (sassid or reference format)
skip = true             # ... and do not train this stage
time_share = 0.35       # with --minutes: this stage's share of the time budget
patch_size = 128        # the U-Net's own crop and batch (0, the default: the run's); the
batch_size = 2          # teachers keep theirs (their targets are tiled at the run's crop)
```

``precision = "bf16"`` runs every forward pass under bfloat16 autocast (losses, alpha and Adam
stay float32); ``channels_last = true`` stores activations NHWC. ``cache_teachers = true`` runs
the frozen teachers once over the training images (in ``cache_transforms`` of the 8 dihedral
transforms, which the sampler is then restricted to unless ``cache_augment = true`` turns the
cached targets with their crops) instead of on every crop (sassid.teachers). All three are off
in ``paper``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sassid.constants import Distance
from sassid.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "BNNStageConfig",
    "LANStageConfig",
    "UNetStageConfig",
    "AlphaConfig",
    "TrainConfig",
    "PRESETS",
    "preset",
    "load_config",
    "config_from_dict",
    "with_steps",
    "with_blind_size",
]

STAGES = ("bnn", "lan", "unet")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


# Upper bounds: far above any sensible run, low enough that a typo (batch_size = 1e20 as an
# integer, lr = inf) fails at load instead of exhausting memory or writing NaN weights.
MAX_STEPS = 100_000_000
MAX_BATCH = 4096
MAX_PATCH = 4096
MAX_CHANNELS = 1024
MAX_LR = 1.0
MAX_EVERY = MAX_STEPS


def _in_range(value: float, low: float, high: float, where: str) -> None:
    _check(
        math.isfinite(value) and low <= value <= high,
        f"{where} must be between {low:g} and {high:g}, got {value}",
    )


@dataclass(frozen=True, kw_only=True)
class _StageCommon:
    arch: str = ""
    steps: int = 400_000
    lr: float = 3e-4
    init: str | None = None
    skip: bool = False
    time_share: float = 1.0
    max_steps: int = 0
    """With --minutes: the most steps the stage may plan (0: no cap). The stages planned before
    it get the time its share holds beyond the cap (``budget.split_seconds``), and what it
    leaves unused goes to the stages after it. A knob, not a default: from 1200 to 4800 steps
    the BNN lost 0.90 dB on SIDD and gained 1.93 dB on PolyU (results/bnn_length.md)."""
    plateau_gain: float = 0.0
    """With --minutes: end the stage once its training loss over the last ``plateau_window``
    steps is less than this fraction below its loss two windows earlier (sassid.budget
    .LossPlateau); the learning rate then decays to 0 over one more window and the time left
    goes to the later stages. 0: off (train for the whole share)."""
    plateau_window: int = 400
    distance: Distance = "l1"
    """The stage loss's per-pixel distance (``sassid.losses.pixel_loss``): ``l1``, the paper's
    (a median), or ``l2``, squared error (a mean). Under ``l2`` the loss plateau is judged on
    the loss's square root, so ``plateau_gain`` keeps meaning a fall of the error's scale."""
    ema_window: float = 0.0
    """Average the weights over about this fraction of the stage's steps (sassid.averaging);
    the average becomes the stage's result. 0: off, the reference's last weights."""

    def net_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of this stage's network (``sassid.nets.registry``)."""
        raise NotImplementedError

    def _validate(self, name: str) -> None:
        from sassid.nets.registry import ARCHITECTURES

        _check(
            self.arch in ARCHITECTURES,
            f"[{name}] arch must be one of {', '.join(map(repr, ARCHITECTURES))}, "
            f"got {self.arch!r}",
        )
        _in_range(self.steps, 1, MAX_STEPS, f"[{name}] steps")
        _check(
            math.isfinite(self.lr) and 0 < self.lr <= MAX_LR,
            f"[{name}] lr must be > 0 and <= {MAX_LR:g}, got {self.lr}",
        )
        _check(
            math.isfinite(self.time_share) and self.time_share > 0,
            f"[{name}] time_share must be > 0, got {self.time_share}",
        )
        _in_range(self.max_steps, 0, MAX_STEPS, f"[{name}] max_steps")
        _in_range(self.ema_window, 0, 1, f"[{name}] ema_window")
        _in_range(self.plateau_gain, 0, 1, f"[{name}] plateau_gain")
        _in_range(self.plateau_window, 1, MAX_STEPS, f"[{name}] plateau_window")
        _check(not self.skip or self.init is not None, f"[{name}] skip = true needs init = PATH")


PAPER_BNN_CHANNELS = (48, 96)
"""The BNN's encoder and decoder widths in the paper (and ``BNNStageConfig``'s defaults)."""


@dataclass(frozen=True, kw_only=True)
class BNNStageConfig(_StageCommon):
    """Stage 1: the blind-neighbourhood network learns to reconstruct its noisy input."""

    arch: str = "bnn"
    blind_size: int = 9
    auto_blind_size: bool = False
    """Replace ``blind_size`` by the one measured from the training images before training
    (``sassid.noise.auto_blind_size``: the smallest that hides the noise's correlation)."""
    enc_channels: int = PAPER_BNN_CHANNELS[0]
    dec_channels: int = PAPER_BNN_CHANNELS[1]
    paper_width_from_steps: int = 0
    """Train at the paper's widths (``PAPER_BNN_CHANNELS``) instead of ``enc_channels`` and
    ``dec_channels`` when the BNN will train at least this many steps: planned from the time
    budget under ``--minutes``, else ``steps`` (``max_steps`` if lower); 0: never. Step for step
    the wider BNN is better, but each step costs about 3x, so on a short budget the narrow one's
    extra steps win (``widened``). With ``init`` the BNN takes that model's widths instead."""

    def at_paper_width(self) -> BNNStageConfig:
        """This stage with ``PAPER_BNN_CHANNELS``."""
        enc, dec = PAPER_BNN_CHANNELS
        return dataclasses.replace(self, enc_channels=enc, dec_channels=dec)

    def widened(self, planned_steps: int) -> BNNStageConfig:
        """This stage at the paper's widths if ``planned_steps`` reaches
        ``paper_width_from_steps`` (and that rule is on), else unchanged."""
        rule = self.paper_width_from_steps
        return self.at_paper_width() if rule and planned_steps >= rule else self

    def net_kwargs(self) -> dict[str, Any]:
        return {
            "blind_size": self.blind_size,
            "enc_channels": self.enc_channels,
            "dec_channels": self.dec_channels,
        }

    def __post_init__(self) -> None:
        self._validate("bnn")
        _check(self.blind_size >= 1 and self.blind_size % 2 == 1, "[bnn] blind_size must be odd")
        _in_range(self.blind_size, 1, 63, "[bnn] blind_size")
        _in_range(self.enc_channels, 1, MAX_CHANNELS, "[bnn] enc_channels")
        _in_range(self.dec_channels, 1, MAX_CHANNELS, "[bnn] dec_channels")
        _in_range(self.paper_width_from_steps, 0, MAX_STEPS, "[bnn] paper_width_from_steps")


@dataclass(frozen=True, kw_only=True)
class LANStageConfig(_StageCommon):
    """Stage 2: the locally aware network learns from the frozen BNN."""

    arch: str = "lan"
    receptive_field: int = 3
    width: int = 64
    loss: Literal["unweighted", "alpha"] = "unweighted"

    def net_kwargs(self) -> dict[str, Any]:
        return {"receptive_field": self.receptive_field, "width": self.width}

    def __post_init__(self) -> None:
        self._validate("lan")
        _check(
            self.receptive_field >= 1 and self.receptive_field % 2 == 1,
            "[lan] receptive_field must be odd",
        )
        _check(self.width >= 16, "[lan] width must be >= 16 (attention reduces it by 16)")
        _in_range(self.width, 16, MAX_CHANNELS, "[lan] width")
        _in_range(self.receptive_field, 1, 63, "[lan] receptive_field")


@dataclass(frozen=True, kw_only=True)
class UNetStageConfig(_StageCommon):
    """Stage 3: the U-Net learns from the frozen BNN and LAN, weighted by alpha.

    ``supervision`` selects the paper's ablations (Table 2): ``adaptive`` is the method (Eq. 5),
    ``both`` drops alpha (0.5 each), ``bnn`` and ``lan`` use one teacher alone; ``blend`` (not
    in the paper) is L1 to the alpha-blended target (``losses.blended_target_loss``).
    """

    arch: str = "unet"
    enc_channels: int = 48
    dec_channels: int = 96
    supervision: Literal[
        "adaptive", "both", "bnn", "lan", "blend", "posterior", "blend_posterior"
    ] = "adaptive"
    patch_size: int = 0
    """The U-Net's own training crop (px, a multiple of 32; 0: the run's ``patch_size``). The
    teachers keep theirs: their cached targets are tiled at the run's crop, and per-crop
    teachers run on tiles of it (``stages.teacher_targets``)."""
    batch_size: int = 0
    """The U-Net's own batch (0: the run's ``batch_size``): with a larger crop, a smaller batch
    keeps the pixels, and so the time, of a step."""

    @property
    def reads_posterior(self) -> bool:
        """Whether ``supervision`` learns from the BNN's posterior, which only the teacher
        cache holds (``TeacherCache.add_posterior``)."""
        return self.supervision in ("posterior", "blend_posterior")

    def net_kwargs(self) -> dict[str, Any]:
        return {"enc_channels": self.enc_channels, "dec_channels": self.dec_channels}

    def __post_init__(self) -> None:
        self._validate("unet")
        _check(
            self.patch_size == 0 or (self.patch_size >= 32 and self.patch_size % 32 == 0),
            f"[unet] patch_size must be 0 (the run's) or a multiple of 32, got {self.patch_size}",
        )
        _in_range(self.patch_size, 0, MAX_PATCH, "[unet] patch_size")
        _in_range(self.batch_size, 0, MAX_BATCH, "[unet] batch_size")
        _in_range(self.enc_channels, 1, MAX_CHANNELS, "[unet] enc_channels")
        _in_range(self.dec_channels, 1, MAX_CHANNELS, "[unet] dec_channels")


@dataclass(frozen=True, kw_only=True)
class AlphaConfig:
    """Eq. 3 thresholds (pixel units, [0, 255] scale) and the std window."""

    lower: float = 1.0
    upper: float = 5.0
    window: int = 7

    def __post_init__(self) -> None:
        _check(
            math.isfinite(self.upper) and 0 <= self.lower <= self.upper <= 255,
            "[alpha] need 0 <= lower <= upper <= 255",
        )
        _check(self.window >= 1 and self.window % 2 == 1, "[alpha] window must be odd")
        _in_range(self.window, 1, 63, "[alpha] window")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Everything that defines a training run; saved as config.json in the run directory."""

    preset: str = "paper"
    batch_size: int = 8
    patch_size: int = 256
    seed: int = 0
    log_every: int = 100
    checkpoint_every: int = 10_000
    keep_every: int = 0
    """Also keep each stage's checkpoint every this many steps as
    ``checkpoints/<stage>_step<N>.pt`` (0: off): snapshots along one schedule, e.g. to score a
    stage against its length (benchmarks/unet_length.py). They hold the training weights (with
    ``ema_window``, the average only at the stage's last step), optimizer state included."""
    val_every: int = 10_000
    bnn: BNNStageConfig = field(default_factory=BNNStageConfig)
    lan: LANStageConfig = field(default_factory=LANStageConfig)
    unet: UNetStageConfig = field(default_factory=UNetStageConfig)
    alpha: AlphaConfig = field(default_factory=AlphaConfig)
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False
    cache_teachers: bool = False
    cache_transforms: int = 8
    cache_augment: bool = False
    """With fewer than 8 ``cache_transforms``: still draw all 8 flips/transposes, each cached
    target transformed along with its crop (``sassid.data.PatchSampler``); false: the sampler
    draws only the cached transforms, whose targets are the teacher's exact output."""
    lowpass_sigma: float = 0.0
    """Inference: put back the low frequencies the networks removed, blurred at this many px
    (``sassid.corrections.restore_low_frequencies``); 0 is off, the paper's output."""
    noise_gate: float = 0.0
    """Inference: never remove more than this many times the photo's own noise std, in local
    RMS (``sassid.corrections.gate_to_noise``); 0 is off, the paper's output."""

    def __post_init__(self) -> None:
        _in_range(self.batch_size, 1, MAX_BATCH, "batch_size")
        _check(
            0.0 <= self.lowpass_sigma <= 1000.0,
            f"lowpass_sigma must be in [0, 1000] px, got {self.lowpass_sigma}",
        )
        _check(
            0.0 <= self.noise_gate <= 100.0,
            f"noise_gate must be in [0, 100] noise stds, got {self.noise_gate}",
        )
        _check(
            self.patch_size >= 32 and self.patch_size % 32 == 0,
            f"patch_size must be a multiple of 32 (the networks' size multiple), "
            f"got {self.patch_size}",
        )
        _check(
            self.cache_transforms in (1, 2, 4, 8),
            f"cache_transforms must be 1, 2, 4 or 8, got {self.cache_transforms}",
        )
        _check(
            self.cache_teachers or not self.unet.reads_posterior,
            f"[unet] supervision {self.unet.supervision} is computed over whole photos in the "
            "teacher cache: it needs cache_teachers = true",
        )
        _in_range(self.patch_size, 32, MAX_PATCH, "patch_size")
        _in_range(self.seed, 0, 2**31 - 1, "seed")
        for key in ("log_every", "checkpoint_every", "val_every"):
            _in_range(getattr(self, key), 1, MAX_EVERY, key)
        _in_range(self.keep_every, 0, MAX_EVERY, "keep_every")

    def stage(self, name: str) -> BNNStageConfig | LANStageConfig | UNetStageConfig:
        return typing.cast(Any, getattr(self, name))

    def crop(self, name: str) -> tuple[int, int]:
        """Stage ``name``'s training crop (px) and batch: the run's, or the U-Net's own."""
        if name == "unet":
            return self.unet.patch_size or self.patch_size, self.unet.batch_size or self.batch_size
        return self.patch_size, self.batch_size

    @property
    def largest_crop(self) -> int:
        """The largest crop any stage draws: every training image must hold it."""
        return max(self.patch_size, self.unet.patch_size)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _quick() -> TrainConfig:
    # Sized with benchmarks/speed.py on this project's 2-core CPU (0.40 s per BNN step, about
    # 0.25 s per LAN step and 0.35 s per U-Net step with teachers): about 7 minutes of training.
    # A narrower BNN, 64 px crops and a higher learning rate; the U-Net keeps the paper's width.
    return TrainConfig(
        preset="quick",
        batch_size=8,
        patch_size=64,
        log_every=10,
        checkpoint_every=100,
        val_every=100,
        bnn=BNNStageConfig(steps=500, lr=1e-3, enc_channels=24, dec_channels=48),
        lan=LANStageConfig(steps=300, lr=1e-3),
        unet=UNetStageConfig(steps=400, lr=1e-3),
    )


def _laptop() -> TrainConfig:
    # Meant for ``sassid train --minutes M`` (steps below are replaced by the time plan). The
    # quick preset's crop and batch (a BNN trained on 64 px crops is used on 64 px tiles) and
    # BNN widths, but a 32/64 U-Net (below), bf16 autocast
    # plus channels_last (2.2-2.45x faster steps on an AVX-512-BF16 CPU with the same quality,
    # docs measured-here; 1.9-2.0x here, results/speed_training_cpu.md), and the budget split
    # half to the BNN, whose quality bounds the rest. The teacher cache is built only where it
    # pays within the budget (sassid.budget.cache_decision). The blind size is measured from the
    # noisy images (`[bnn] auto_blind_size`). Measurements: results/laptop_recipe.md.
    return TrainConfig(
        preset="laptop",
        batch_size=8,
        patch_size=64,
        log_every=20,
        checkpoint_every=200,
        val_every=500,
        precision="bf16",
        channels_last=True,
        cache_teachers=True,
        cache_transforms=1,
        # ... and still all 8 flips/transposes for the LAN and U-Net, each cached target turned
        # with its crop: U-Net +0.10 dB on SIDD, +0.06 on PolyU at the same steps and time
        # (results/cache_augment_*.md)
        cache_augment=True,
        # Never remove more than twice the photo's noise std (local RMS): on the one-hour
        # models PolyU 35.91 -> 36.14 dB with no image below its noisy input (3 before), SIDD
        # 33.27 -> 33.22. No low-frequency restoration (lowpass_sigma): it helped 7-minute
        # models (their haze) but costs the one-hour SIDD model 0.92 dB (there, what the U-Net
        # changes at low frequencies is an improvement, not haze) and gives PolyU +0.02.
        # Both: results/output_corrections_*.md.
        lowpass_sigma=0.0,
        noise_gate=2.0,
        bnn=BNNStageConfig(
            steps=1500,
            lr=1e-3,
            enc_channels=24,
            dec_channels=48,
            # ... and the paper's 48/96 once it gets 1200 steps, the length at which the two
            # were compared step for step (BNN +0.33 dB SIDD over two seeds, +0.81 PolyU; each
            # step 3.3x the time, results/bnn_width*.md). One-hour runs (wide 1736/1863 steps):
            # U-Net +0.46 dB SIDD, +0.01 PolyU; the 6-minute demo (wide 193 steps, narrow 526):
            # -0.02 (results/demo_bnn_width.md).
            paper_width_from_steps=1200,
            time_share=0.5,
            # Stop once the loss flattens (< 1% lower than 800 steps before; its time goes to
            # the LAN and U-Net): strong correlated noise (SIDD) flattens by ~1500 steps and
            # longer training loses 0.90 dB, mild noise (PolyU) keeps gaining (+1.93 dB from
            # 1200 to 4800 steps); results/bnn_length.md, README "The BNN".
            plateau_gain=0.01,
            # BNN +2.0/+2.3 dB on sidd_samples/polyu100 at 2 minutes; at least 5 (see
            # sassid.noise.MIN_AUTO_BLIND: 3 collapsed on SIDD in a 60-minute run)
            auto_blind_size=True,
        ),
        lan=LANStageConfig(steps=600, lr=1e-3, time_share=0.15),
        # L1 to the alpha-blended target, not Eq. 5's alpha-weighted sum of two L1 terms (whose
        # per-pixel minimum is whichever teacher weighs more: alpha selects, it does not
        # blend; sassid.losses.blended_target_loss). Against Eq. 5 on the same teachers and
        # steps, one-hour runs: SIDD +0.14 and -0.01 dB, PolyU +0.11 and +0.09 dB
        # (results/real_photos_*.md, README "Real photos"). `paper` keeps Eq. 5.
        unet=UNetStageConfig(
            steps=1000,
            lr=1e-3,
            time_share=0.35,
            supervision="blend",
            # 32/64 channels, not the paper's 48/96: 2.1x the inference speed (bf16, 512²)
            # and about twice the training steps in the same time. On the same frozen
            # teachers, 10000 steps of 32/64 against 5000 of 48/96 (about the same time):
            # SIDD 33.57 against 33.59 dB, PolyU 36.28 against 36.26; step for step (1500)
            # -0.01..-0.06 dB on three sets (results/unet_length_*_w48.md,
            # results/unet_width_*.md). `paper` keeps 48/96.
            enc_channels=32,
            dec_channels=64,
            # At most 12000 steps under --minutes (the BNN and LAN are planned with the time
            # beyond): the one-hour runs that went past 30000 steps on a faster CPU lost 0.4
            # and 2.1 dB to their teachers, with colour casts on a few photos, while every
            # one-hour run on this project's usual CPUs (4910-11852 steps) stayed within
            # 0.14 dB of its fusion or above it;
            # along one 10000-step schedule the U-Net moves within 0.2 dB after step 2500
            # while its loss keeps falling (results/unet_length_*.md, README "The U-Net's
            # length").
            max_steps=12_000,
        ),
    )


PRESETS: dict[str, typing.Callable[[], TrainConfig]] = {
    "paper": TrainConfig,
    "quick": _quick,
    "laptop": _laptop,
}


def preset(name: str) -> TrainConfig:
    """The named preset's configuration."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return PRESETS[name]()


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        _check(
            value in typing.get_args(annotation),
            f"{where} must be one of "
            f"{', '.join(repr(a) for a in typing.get_args(annotation))}, got {value!r}",
        )
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _coerce(value, inner[0], where)
    if annotation is bool:
        _check(isinstance(value, bool), f"{where} must be true or false, got {value!r}")
    elif annotation is int:
        _check(
            isinstance(value, int) and not isinstance(value, bool),
            f"{where} must be an integer, got {value!r}",
        )
    elif annotation is float:
        _check(
            isinstance(value, (int, float)) and not isinstance(value, bool),
            f"{where} must be a number, got {value!r}",
        )
        return float(value)
    elif annotation is str:
        _check(isinstance(value, str), f"{where} must be a string, got {value!r}")
    return value


def config_from_dict(data: Mapping[str, Any], base: Any = None, section: str = "") -> Any:
    """Apply ``data`` over ``base`` (a config dataclass), checking keys and types."""
    base = base if base is not None else TrainConfig()
    hints = typing.get_type_hints(type(base))
    names = {f.name for f in dataclasses.fields(base)}
    changes: dict[str, Any] = {}
    for key, value in data.items():
        where = f"[{section}] {key}" if section else key
        if key not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(f"unknown key {where!r} (known: {known})")
        current = getattr(base, key)
        if dataclasses.is_dataclass(current):
            _check(isinstance(value, Mapping), f"{where} must be a table")
            changes[key] = config_from_dict(value, current, key)
        else:
            changes[key] = _coerce(value, hints[key], where)
    return dataclasses.replace(base, **changes)


def load_config(path: str | Path | None = None, preset_name: str | None = None) -> TrainConfig:
    """The preset (``quick`` or ``paper``; a file's own ``preset`` key otherwise; else
    ``paper``) with the file's values applied over it. The file is TOML, or JSON where it ends
    in ``.json`` (a run's own ``config.json``)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        try:
            text = path.read_text()
            data = json.loads(text) if kind == "JSON" else tomllib.loads(text)
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise ConfigError(f"{path}: is a folder (need a {kind} file)") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
        except (ValueError, UnicodeDecodeError) as exc:  # TOMLDecodeError, JSONDecodeError
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"{path}: not valid {kind} ({reason})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: not a {kind} table of keys")
    name = preset_name or data.get("preset", "paper")
    if not isinstance(name, str):
        raise ConfigError(f"{path}: preset must be a string, got {name!r}")
    try:
        base = preset(name)
    except ConfigError as exc:  # named in the file: say which file
        raise ConfigError(f"{path}: {exc}" if path and not preset_name else str(exc)) from None
    data = {k: v for k, v in data.items() if k != "preset"}
    try:
        return typing.cast(TrainConfig, config_from_dict(data, base))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}" if path else str(exc)) from None


def with_steps(config: TrainConfig, steps: int) -> TrainConfig:
    """Every stage's length set to ``steps`` (the CLI's ``--steps``)."""
    _in_range(steps, 1, MAX_STEPS, "--steps")
    return dataclasses.replace(
        config,
        bnn=dataclasses.replace(config.bnn, steps=steps),
        lan=dataclasses.replace(config.lan, steps=steps),
        unet=dataclasses.replace(config.unet, steps=steps),
    )


def with_blind_size(config: TrainConfig, value: str) -> TrainConfig:
    """``--blind-size N`` (odd, sets ``[bnn] blind_size``) or ``auto`` (sets ``[bnn]
    auto_blind_size``: ``train`` measures it from the noisy images)."""
    if value == "auto":
        return dataclasses.replace(
            config, bnn=dataclasses.replace(config.bnn, auto_blind_size=True)
        )
    try:
        size = int(value)
    except ValueError:
        raise ConfigError(f"--blind-size must be an odd integer or auto, got {value!r}") from None
    if size < 1 or size % 2 == 0:
        raise ConfigError(f"--blind-size must be odd and >= 1, got {size}")
    bnn = dataclasses.replace(config.bnn, blind_size=size, auto_blind_size=False)
    return dataclasses.replace(config, bnn=bnn)
