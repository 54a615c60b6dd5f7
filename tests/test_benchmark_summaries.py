"""The benchmark scripts that only gather earlier results: their arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.bnn_length import gather, summary
from benchmarks.plateau_replay import replay, window_means


def _run_file(path: Path, steps: int, seed: int, final: float, ema: float = 0.0) -> None:
    row = {"bnn_tile_crop": final, "curve": [[steps, final]]}
    sets = {"sidd_samples": {"noisy": 22.0, "images": 3, "rows": {"64x8": row}}}
    payload = {"meta": {"cuda": None}, "steps": steps, "seed": seed, "sets": sets}
    if ema:
        payload["ema_window"] = ema
    path.write_text(json.dumps(payload))


def test_bnn_length_means_spreads_and_skips_other_levers(tmp_path: Path) -> None:
    _run_file(tmp_path / "bnn_crop.json", 1200, 0, 32.0)
    _run_file(tmp_path / "bnn_crop_seed1.json", 1200, 1, 33.0)
    _run_file(tmp_path / "bnn_steps.json", 4800, 0, 31.0)
    _run_file(tmp_path / "bnn_crop_ema.json", 1200, 0, 40.0, ema=0.25)
    runs = gather(tmp_path)
    assert [r["file"] for r in runs["sidd_samples"]] == [
        "bnn_crop.json",
        "bnn_crop_seed1.json",
        "bnn_steps.json",
    ]
    s = summary(runs["sidd_samples"])
    assert s["per_steps"][1200] == {"mean": 32.5, "spread": 1.0, "runs": 2}
    assert s["change"] == pytest.approx(31.0 - 32.5)


def test_plateau_replay_finds_where_the_rule_fires() -> None:
    curve = [(s, 10.0 if s <= 200 else 5.0) for s in range(20, 1001, 20)]
    # window 100: the recent mean (s-100, s] is 5.0 and the earlier (s-300, s-200] is 5.0
    # from s = 500 on; before that the earlier window still holds 10.0
    assert replay(curve, 0.01, 100) == 500
    assert replay([(s, 100.0 / s) for s in range(20, 1001, 20)], 0.01, 100) is None
    assert window_means(curve, 500) == [(500, pytest.approx((10 * 10 + 15 * 5) / 25)), (1000, 5.0)]
