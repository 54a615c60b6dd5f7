"""Every lever of the ``laptop`` recipe that a script here measured, gathered in one table.

    python benchmarks/levers.py

Reads the result files of the lever studies in results/ (``bnn_crop.py``, ``bnn_length.py``,
``laptop_recipe.py``, ``real_photos.py``, ``cache_augment.py``, ``unet_crop.py``,
``unet_length.py``, ``teacher_ensemble.py``, ``unet_ensemble.py``, ``output_corrections.py``,
``guard.py``) and writes one row per lever and set: the arm it was compared with, both PSNRs
(dB, uint8, mean per image, as each study scored them), the difference, the minutes each arm took
where the study timed it, and what the ``laptop`` preset does today (read from
``sassid.config``, not typed). Measures nothing itself: every number traces to the study's own
file, which names its date, machine and command. Studies differ in length, budget and scored
output (a BNN alone, the fusion, the U-Net, the corrected output), so compare a row with its own
baseline, not with other rows. Files that are absent are skipped. Writes results/levers.*.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bnn_crop import LAPTOP_CHANNELS, run_overrides  # noqa: E402
from benchmarks.bnn_length import gather as gather_lengths  # noqa: E402
from benchmarks.bnn_length import summary as length_summary  # noqa: E402
from benchmarks.common import RESULTS, provenance, stamp, write_results  # noqa: E402
from sassid.config import TrainConfig, preset  # noqa: E402

SETS = ("sidd_samples", "polyu100")
NARROW_ARM = "64x8"
"""The ``laptop`` BNN's arm in ``bnn_crop.py``: 64 px crops, batch 8, 24/48 channels."""

STAGE3 = {
    "unet_bnn_only": "bnn",
    "unet_lan_only": "lan",
    "unet_no_alpha": "both",
    "unet_blend": "blend",
    "unet_eq5": "adaptive",
}
"""``real_photos.py``'s stage-3 rows and the supervision each trained with."""

_PLATEAU = "real_photos_sidd_samples_before_plateau"
ONE_HOUR_PAIRS: tuple[tuple[str, str, str, str, str, str, Callable[[TrainConfig], str]], ...] = (
    # (lever, set, run without it, its row, run with it, its row, the laptop setting)
    (
        "BNN loss-plateau stop",
        "sidd_samples",
        _PLATEAU,
        "unet",
        "real_photos_sidd_samples_before_cache_augment",
        "unet",
        lambda c: f"plateau_gain {c.bnn.plateau_gain:g}",
    ),
    (
        "BNN loss-plateau stop",
        "polyu100",
        "real_photos_polyu100_before_plateau",
        "unet",
        "real_photos_polyu100_before_cache_augment",
        "unet",
        lambda c: f"plateau_gain {c.bnn.plateau_gain:g}",
    ),
    (
        "BNN capped at 1500 steps",
        "sidd_samples",
        _PLATEAU,
        "unet",
        "real_photos_sidd_samples_bnn1500",
        "unet",
        lambda c: f"max_steps {c.bnn.max_steps}",
    ),
    (
        "cached targets turned with their crops (blend in both)",
        "sidd_samples",
        "real_photos_sidd_samples_before_cache_augment",
        "unet_blend",
        "real_photos_sidd_samples",
        "unet",
        lambda c: f"cache_augment {c.cache_augment}",
    ),
    (
        "cached targets turned with their crops (blend in both)",
        "polyu100",
        "real_photos_polyu100_before_cache_augment",
        "unet_blend",
        "real_photos_polyu100",
        "unet",
        lambda c: f"cache_augment {c.cache_augment}",
    ),
    (
        "BNN width 48/96 (not 24/48)",
        "sidd_samples",
        "real_photos_sidd_samples",
        "unet",
        "real_photos_sidd_samples_bnn48",
        "unet",
        lambda c: _bnn_width(c),
    ),
    (
        "BNN width 48/96 (not 24/48)",
        "polyu100",
        "real_photos_polyu100",
        "unet",
        "real_photos_polyu100_bnn48",
        "unet",
        lambda c: _bnn_width(c),
    ),
    (
        "U-Net width 32/64 (not 48/96)",
        "sidd_samples",
        "real_photos_sidd_samples_unet48",
        "unet",
        "real_photos_sidd_samples_unet32",
        "unet",
        lambda c: f"U-Net {c.unet.enc_channels}/{c.unet.dec_channels}",
    ),
)
"""Two one-hour ``real_photos.py`` runs that differ in one lever, both U-Nets trained with the
same supervision. A table refreshed later with other changes is kept under a new name."""


@dataclasses.dataclass(frozen=True)
class Lever:
    """One lever on one set: ``variant_db`` against ``base_db``, as one study measured them."""

    lever: str
    scored: str
    set: str
    base: str
    base_db: float
    variant_db: float
    base_minutes: float | None
    variant_minutes: float | None
    source: str
    laptop: str

    @property
    def delta_db(self) -> float:
        return self.variant_db - self.base_db


def _load(results: Path, stem: str) -> dict[str, Any] | None:
    path = results / f"{stem}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def _arm_against_base(
    lever: str,
    scored: str,
    set_name: str,
    against: tuple[str, dict[str, Any]],
    arm: dict[str, Any],
    keys: tuple[str, str],
    source: str,
    laptop: str,
) -> Lever:
    """A lever from two arm records of one study: ``keys`` = (PSNR key, seconds key)."""
    label, base = against
    psnr_key, seconds_key = keys
    return Lever(
        lever,
        scored,
        set_name,
        label,
        base[psnr_key],
        arm[psnr_key],
        _minutes(base.get(seconds_key)),
        _minutes(arm.get(seconds_key)),
        source,
        laptop,
    )


def _crop_words(arm: tuple[int, int], base: tuple[int, int]) -> str:
    """An arm's training crop against its base's: (crop px, batch) each."""
    return "crop {} px x {} (not {} x {})".format(*arm, *base)


def _net_change(net: str, changes: list[str], row: dict[str, Any]) -> str:
    """``"BNN crop ... and width ..."``: every difference of an arm from its base, named."""
    if not changes:
        raise ValueError(f"a {net} arm that changes nothing from its base: {row}")
    return f"{net} " + " and ".join(changes)


def _bnn_width(config: TrainConfig) -> str:
    """The preset's BNN widths, and the paper's from the planned steps where it switches."""
    bnn = config.bnn
    text = f"{bnn.enc_channels}/{bnn.dec_channels}"
    if bnn.paper_width_from_steps:
        wide = bnn.at_paper_width()
        text += f", {wide.enc_channels}/{wide.dec_channels} from {bnn.paper_width_from_steps} steps"
    return text


def _bnn_change(
    base: dict[str, Any],
    row: dict[str, Any],
    lr: float | None,
    laptop: TrainConfig,
    distance: str = "l1",
) -> tuple[str, str]:
    """What a ``bnn_crop.py`` arm changes from ``base`` (crop x batch, width, blind size; ``lr``
    and ``distance``: its run's ``--lr`` and ``--distance``), and what ``laptop`` sets for it
    today."""
    changes, settings = [], []
    crop, base_crop = ((r["crop"], r["batch"]) for r in (row, base))
    if crop != base_crop:
        changes.append(_crop_words(crop, base_crop))
        settings.append("{} px x {}".format(*laptop.crop("bnn")))
    width, base_width = (tuple(r.get("channels", LAPTOP_CHANNELS)) for r in (row, base))
    if width != base_width:
        changes.append("width {}/{} (not {}/{})".format(*width, *base_width))
        settings.append(_bnn_width(laptop))
    if row["blind_size"] != base["blind_size"]:
        changes.append(f"blind size {row['blind_size']} (not the measured {base['blind_size']})")
        settings.append("measured" if laptop.bnn.auto_blind_size else str(laptop.bnn.blind_size))
    if lr is not None:
        changes.append(f"learning rate {lr:g} (not the preset's)")
        settings.append(f"lr {laptop.bnn.lr:g}")
    if distance != "l1":
        changes.append(f"loss distance {distance} (not l1)")
        settings.append(f"distance {laptop.bnn.distance}")
    return _net_change("BNN", changes, row), ", ".join(settings)


def _bnn_arms(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """``bnn_crop.py`` arms (crop x batch, width, blind size, learning rate, weight averaging)
    against the narrow 64 x 8 arm of the same seed and steps run as the preset has it,
    wherever that arm was run."""
    files = [*results.glob("bnn_crop*.json"), *results.glob("bnn_width*.json")]
    files += [*results.glob("bnn_blind*.json"), *results.glob("bnn_lr*.json")]
    files += [*results.glob("bnn_distance*.json")]
    payloads = {path.name: json.loads(path.read_text()) for path in sorted(files)}
    narrow: dict[tuple[str, int, int], tuple[dict[str, Any], str]] = {}
    for name, payload in payloads.items():
        if payload.get("ema_window") or run_overrides(payload):
            continue
        for set_name, result in payload["sets"].items():
            row = result["rows"].get(NARROW_ARM)
            key = (set_name, payload.get("seed", 0), payload["steps"])
            if row is not None and key not in narrow:
                narrow[key] = (row, name)
    for name, payload in payloads.items():
        ema, overridden = payload.get("ema_window", 0.0), bool(run_overrides(payload))
        seed, steps = payload.get("seed", 0), payload["steps"]
        for set_name, result in payload["sets"].items():
            own = None if ema or overridden else result["rows"].get(NARROW_ARM)
            found = (own, name) if own is not None else narrow.get((set_name, seed, steps))
            if found is None:
                continue
            base, base_file = found
            for arm, row in result["rows"].items():
                if ema and arm == NARROW_ARM:
                    lever = f"BNN weight averaging (ema_window {ema:g})"
                    setting = f"ema_window {laptop.bnn.ema_window:g}"
                elif ema or (arm == NARROW_ARM and not overridden):
                    continue
                else:
                    lever, setting = _bnn_change(
                        base, row, payload.get("lr"), laptop, payload.get("distance", "l1")
                    )
                source = name if name == base_file else f"{name}, {base_file}"
                yield _arm_against_base(
                    f"{lever}, {steps} steps, seed {seed}",
                    "BNN",
                    set_name,
                    (f"{NARROW_ARM} arm", base),
                    row,
                    ("bnn_tile_crop", "train_seconds"),
                    source,
                    setting,
                )


def _bnn_length(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """Longest against shortest BNN schedule, each the mean over its seeds (``bnn_length.py``)."""
    for set_name, records in gather_lengths(results).items():
        summary = length_summary(records)
        per_steps, short, long = summary["per_steps"], summary["shortest"], summary["longest"]
        if short == long:
            continue
        yield Lever(
            f"BNN {long} steps (not {short}), mean of {per_steps[long]['runs']} runs "
            f"against {per_steps[short]['runs']}",
            "BNN",
            set_name,
            f"{short} steps",
            per_steps[short]["mean"],
            per_steps[long]["mean"],
            None,
            None,
            "bnn_length.json",
            f"stop at loss plateau (gain {laptop.bnn.plateau_gain:g})",
        )


def _two_minute_recipe(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """``laptop_recipe.py``'s arms against its ``laptop`` row of then (same budget)."""
    payload = _load(results, "laptop_recipe")
    if payload is None:
        return
    settings = {
        "no teacher cache": f"cache_teachers {laptop.cache_teachers}",
        "blind size auto": "measured" if laptop.bnn.auto_blind_size else str(laptop.bnn.blind_size),
    }
    for set_name, result in payload["sets"].items():
        rows = result["rows"]
        base = rows["laptop"]
        for label, row in rows.items():
            setting = next((v for k, v in settings.items() if label.startswith(k)), None)
            if label == "laptop" or setting is None:
                continue
            yield Lever(
                f"{label}, {payload['minutes']:g}-min budget",
                "U-Net",
                set_name,
                "`laptop` of then (blind size 9)",
                base["unet"],
                row["unet"],
                base["train_minutes"],
                row["train_minutes"],
                "laptop_recipe.json",
                setting,
            )


def _psnr(payload: dict[str, Any], row: str) -> float | None:
    return next((r["psnr"] for r in payload["rows"] if r["name"] == row), None)


def _row_supervision(payload: dict[str, Any], row: str) -> str:
    """The loss a ``real_photos.py`` row's stage 3 trained with (files before the
    ``unet_supervision`` key all trained the ``unet`` row with Eq. 5, the code's default)."""
    return STAGE3.get(row) or payload.get("unet_supervision", "adaptive")


def _unet_widths(payload: dict[str, Any]) -> tuple[int, int]:
    """A ``real_photos.py`` run's U-Net widths (files before the ``unet_channels`` key all
    trained the paper's 48/96, the only width the script ran then)."""
    enc, dec = payload.get("unet_channels") or (48, 96)
    return int(enc), int(dec)


def _steps(payload: dict[str, Any]) -> str:
    """A one-hour run's planned BNN/U-Net steps, e.g. ``1736/6874``."""
    return f"{payload['steps']['bnn']}/{payload['steps']['unet']}"


def _one_hour_runs(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """``real_photos.py`` one-hour runs: the stage-3 rows against the run's own ``unet`` row
    (same BNN, LAN and steps), the plateau stop and the BNN cap against the run before them."""
    for path in sorted(results.glob("real_photos_*.json")):
        payload = json.loads(path.read_text())
        if not payload.get("minutes"):
            continue
        trained = _row_supervision(payload, "unet")
        unet = _psnr(payload, "unet")
        for row in payload["rows"]:
            supervision = STAGE3.get(row["name"])
            if unet is None or supervision is None or supervision == trained:
                continue
            yield Lever(
                f"stage 3 supervision `{supervision}` (not `{trained}`), "
                f"{payload['steps']['unet']} U-Net steps",
                "U-Net",
                payload["set"],
                f"`unet` row ({trained})",
                unet,
                row["psnr"],
                None,  # the `unet` row trained inside the budget, the rows alone: not
                None,  # comparable times
                path.name,
                laptop.unet.supervision,
            )
    for lever, set_name, before, before_row, after, after_row, setting in ONE_HOUR_PAIRS:
        old, new = _load(results, before), _load(results, after)
        if old is None or new is None:
            continue
        base_db, lever_db = _psnr(old, before_row), _psnr(new, after_row)
        if base_db is None or lever_db is None:
            continue
        if _row_supervision(old, before_row) != _row_supervision(new, after_row):
            raise ValueError(f"{before} {before_row} and {after} {after_row}: other losses")
        if not lever.startswith("U-Net width") and _unet_widths(old) != _unet_widths(new):
            raise ValueError(f"{before} and {after}: other U-Net widths")
        yield Lever(
            f"{lever}, one hour (BNN/U-Net steps {_steps(old)} -> {_steps(new)})",
            "U-Net",
            set_name,
            f"run without it (`{before_row}` row)",
            base_db,
            lever_db,
            old["minutes"],
            new["minutes"],
            f"{before}.json, {after}.json",
            setting(laptop),
        )


def _frozen_teacher_studies(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """Stage-3 studies on one run's frozen teachers: ``cache_augment.py``, ``unet_crop.py``."""
    for set_name in SETS:
        payload = _load(results, f"cache_augment_{set_name}")
        if payload is not None:
            base = payload["rows"]["cached orientation only"]
            turned = payload["rows"]["cached targets turned with their crops"]
            yield _arm_against_base(
                f"cached targets turned with their crops, {payload['unet_steps']} U-Net steps",
                "U-Net",
                set_name,
                ("cached orientation only", base),
                turned,
                ("unet", "train_seconds"),
                f"cache_augment_{set_name}.json",
                f"cache_augment {laptop.cache_augment}",
            )
    for set_name, stems in UNET_STUDIES.items():
        for stem in stems:
            yield from _unet_arms(results, stem, set_name, laptop)


UNET_STUDIES = {
    **{
        set_name: tuple(
            f"unet_{study}_{set_name}"
            for study in ("crop", "supervision", "posterior", "width", "distance")
        )
        + (f"unet_supervision_{set_name}_6000",)
        for set_name in SETS
    },
    "demo at iso_like 1000": ("unet_posterior_demo_iso1000", "unet_width_demo_iso1000"),
    "demo": ("unet_posterior_demo", "unet_width_demo"),
}
"""``unet_crop.py`` studies per set (the demo's photos included): the U-Net's crop, stage 3's
supervision (also at 6000 steps), targets from the BNN's posterior (``[unet] supervision``),
the U-Net's widths and its loss's distance (``[unet] distance``)."""


def _unet_arms(results: Path, stem: str, set_name: str, laptop: TrainConfig) -> Iterator[Lever]:
    """``unet_crop.py``: each arm against the study's first (its crop or its supervision)."""
    payload = _load(results, stem)
    if payload is None:
        return
    (first, base), *arms = payload["rows"].items()
    for _, row in arms:
        changes: list[str] = []
        settings: list[str] = []
        if row.get("supervision", "run") != base.get("supervision", "run"):
            changes.append(f"supervision `{row['supervision']}` (not `{base['supervision']}`)")
            settings.append(laptop.unet.supervision)
        crop, base_crop = ((r["patch"], r["batch"]) for r in (row, base))
        if crop != base_crop:
            changes.append(_crop_words(crop, base_crop))
            settings.append("{} px x {}".format(*laptop.crop("unet")))
        widths, base_widths = (r.get("widths") for r in (row, base))
        if widths != base_widths:
            changes.append("width {}/{} (not {}/{})".format(*widths, *base_widths))
            settings.append(f"{laptop.unet.enc_channels}/{laptop.unet.dec_channels}")
        distance, base_distance = (r.get("distance", "l1") for r in (row, base))
        if distance != base_distance:
            changes.append(f"loss distance {distance} (not {base_distance})")
            settings.append(f"distance {laptop.unet.distance}")
        yield _arm_against_base(
            f"{_net_change('U-Net', changes, row)}, {payload['steps']} steps on frozen teachers",
            "U-Net",
            set_name,
            (f"{first} arm", base),
            row,
            ("unet", "train_seconds"),
            f"{stem}.json",
            ", ".join(settings),
        )


def _unet_length(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """``unet_length.py``: each arm's last snapshot against its first (one schedule, frozen
    teachers), as ``sassid denoise`` scores them."""
    for set_name in SETS:
        for path in sorted(results.glob(f"unet_length_{set_name}*.json")):
            payload = json.loads(path.read_text())
            for arm, row in payload["rows"].items():
                if len(row["snapshots"]) < 2:
                    continue
                (first, base), *_, (last, end) = row["snapshots"].items()
                yield Lever(
                    f"U-Net at the end of one {last}-step schedule (not its step-{first} "
                    f"snapshot, learning rate still high), frozen teachers, {arm}",
                    "U-Net",
                    set_name,
                    f"step-{first} snapshot",
                    base["psnr_denoise"],
                    end["psnr_denoise"],
                    None,
                    None,
                    path.name,
                    f"max_steps {laptop.unet.max_steps or 'none'}",
                )


WIDTH_AT_EQUAL_TIME = {
    "sidd_samples": ("unet_length_sidd_samples_64_w48", "unet_length_sidd_samples_64"),
    "polyu100": ("unet_length_polyu100_w48", "unet_length_polyu100"),
}
"""``unet_length.py`` pairs on the same frozen teachers: a 48/96 U-Net for one schedule against a
32/64 one for about twice the steps (about the same training time), each at its schedule's end."""


def _unet_width_at_equal_time(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """The U-Net's widths compared at about equal training time (``WIDTH_AT_EQUAL_TIME``)."""
    for set_name, (wide_stem, narrow_stem) in WIDTH_AT_EQUAL_TIME.items():
        wide, narrow = _load(results, wide_stem), _load(results, narrow_stem)
        if wide is None or narrow is None:
            continue
        (wide_row,), (narrow_row,) = wide["rows"].values(), narrow["rows"].values()
        wide_end = wide_row["snapshots"][str(wide["steps"])]
        narrow_end = narrow_row["snapshots"][str(narrow["steps"])]
        yield Lever(
            "U-Net width {}/{} for {} steps (not {}/{} for {}), about the same training time, "
            "frozen teachers".format(
                *narrow_row["widths"], narrow["steps"], *wide_row["widths"], wide["steps"]
            ),
            "U-Net",
            set_name,
            "{}/{} arm".format(*wide_row["widths"]),
            wide_end["psnr_denoise"],
            narrow_end["psnr_denoise"],
            wide_row["train_seconds"] / 60,
            narrow_row["train_seconds"] / 60,
            f"{wide_stem}.json, {narrow_stem}.json",
            f"{laptop.unet.enc_channels}/{laptop.unet.dec_channels}",
        )


def _inference_levers(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """x8 self-ensembles and the output corrections, on trained models; minutes of inference."""
    for set_name in SETS:
        payload = _load(results, f"teacher_ensemble_{set_name}")
        if payload is not None:
            yield _arm_against_base(
                "teachers' x8 self-ensemble (fusion target)",
                "fusion",
                set_name,
                ("x1", payload["x1"]),
                payload["x8"],
                ("fusion", "seconds"),
                f"teacher_ensemble_{set_name}.json",
                "x1",
            )
        payload = _load(results, f"unet_ensemble_{set_name}")
        if payload is not None:
            yield Lever(
                "U-Net x8 self-ensemble at inference",
                "U-Net",
                set_name,
                "x1",
                float(np.mean(payload["psnr"]["x1"])),
                float(np.mean(payload["psnr"]["x8"])),
                _minutes(payload["seconds"]["x1"]),
                _minutes(payload["seconds"]["x8"]),
                f"unet_ensemble_{set_name}.json",
                "x1",
            )
        payload = _load(results, f"output_corrections_{set_name}")
        if payload is None:
            continue
        by = {(r["lowpass_sigma"], r["noise_gate"], r["gate_sigma"]): r for r in payload["rows"]}
        none = by.get((0, 0.0, "photo"))
        for key, label, setting in (
            ((0.0, 2, "photo"), "noise gate 2", f"noise_gate {laptop.noise_gate:g}"),
            (
                (8, 0.0, "photo"),
                "low-pass restore (sigma 8 px)",
                f"lowpass_sigma {laptop.lowpass_sigma:g}",
            ),
        ):
            row = by.get(key)
            if none is None or row is None:
                continue
            yield Lever(
                f"{label}; images below noisy {none['images_below_noisy']} -> "
                f"{row['images_below_noisy']}",
                "output",
                set_name,
                "no correction",
                none["psnr"],
                row["psnr"],
                None,
                None,
                f"output_corrections_{set_name}.json",
                setting,
            )


GUARD_RESULTS = {
    "sidd_samples": "guard_sidd_samples",
    "polyu100": "guard_polyu100",
    "demo at iso_like 1000": "guard_demo_iso1000",
}
"""``guard.py``'s files per set: the guard's effect shows where a model over-smooths, which on
this machine's models is the demo's photos at moderate noise, not the real sets."""


def _guard(results: Path, laptop: TrainConfig) -> Iterator[Lever]:
    """The per-photo gate guard (``sassid.guard``) against the model's own gate alone."""
    for set_name, stem in GUARD_RESULTS.items():
        payload = _load(results, stem)
        if payload is None:
            continue
        rows = payload["rows"]
        below = [sum(r[k] < r["noisy"] for r in rows) for k in ("own_gate", "guarded")]
        yield Lever(
            f"per-photo gate guard; images below noisy {below[0]} -> {below[1]}",
            "output",
            set_name,
            "gate alone",
            float(np.mean([r["own_gate"] for r in rows])),
            float(np.mean([r["guarded"] for r in rows])),
            _minutes(sum(r["seconds_unguarded"] for r in rows)),
            _minutes(sum(r["seconds_guarded"] for r in rows)),
            f"{stem}.json",
            "on (`sassid denoise`)",
        )


GATHERERS: tuple[Callable[[Path, TrainConfig], Iterator[Lever]], ...] = (
    _two_minute_recipe,
    _bnn_arms,
    _bnn_length,
    _one_hour_runs,
    _frozen_teacher_studies,
    _unet_length,
    _unet_width_at_equal_time,
    _inference_levers,
    _guard,
)


def gather(results: Path = RESULTS, laptop: TrainConfig | None = None) -> list[Lever]:
    """Every lever found in ``results``, in the order of ``GATHERERS``."""
    laptop = laptop or preset("laptop")
    return [lever for gatherer in GATHERERS for lever in gatherer(results, laptop)]


def _fmt_minutes(lever: Lever) -> str:
    if lever.base_minutes is None and lever.variant_minutes is None:
        return "-"
    parts = [
        f"{m:.1f}" if m is not None else "?" for m in (lever.base_minutes, lever.variant_minutes)
    ]
    return " -> ".join(parts)


def markdown(levers: list[Lever], meta: dict[str, Any]) -> str:
    lines = [
        "# The laptop recipe: every lever measured",
        "",
        stamp(meta),
        "",
        "Gathered from the result files named in each row (each names its own date, machine and "
        "command); the script measures nothing. dB: PSNR (uint8, mean per image) of the output "
        "in the `scored` column, as that study scored it; Δ: the lever's arm minus the arm it "
        "was compared with in the same study. Minutes: training (or, for inference levers, "
        "scoring) time of the baseline -> the lever's arm where the study timed it; budgeted "
        "runs spend their budget either way. `laptop` today: the preset's setting now, read from "
        "`sassid.config`. Negative results stay.",
    ]
    for set_name in dict.fromkeys([*SETS, *(lever.set for lever in levers)]):
        rows = [lever for lever in levers if lever.set == set_name]
        if not rows:
            continue
        lines += [
            "",
            f"## {set_name}",
            "",
            "| lever | scored | against | dB | lever dB | Δ dB | minutes | `laptop` today "
            "| source |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r.lever} | {r.scored} | {r.base} | {r.base_db:.2f} | {r.variant_db:.2f} | "
            f"{r.delta_db:+.2f} | {_fmt_minutes(r)} | {r.laptop} | {r.source} |"
            for r in rows
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    meta = provenance()
    levers = gather()
    payload = {
        "meta": meta,
        "levers": [{**dataclasses.asdict(r), "delta_db": r.delta_db} for r in levers],
    }
    write_results("levers", payload, markdown(levers, meta))
    print(f"{len(levers)} levers -> results/levers.md")


if __name__ == "__main__":
    main()
