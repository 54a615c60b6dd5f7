from __future__ import annotations

import json
from pathlib import Path

from sassid.demo import run_demo
from tests.helpers import tiny_config


def test_demo_runs_end_to_end_and_reports(tmp_path: Path) -> None:
    config = tiny_config(patch_size=64, bnn={"steps": 2}, lan={"steps": 2}, unet={"steps": 2})
    result = run_demo(tmp_path, config=config, device="cpu", progress=False, eval_tile=96)
    assert [r["row"] for r in result.rows] == ["noisy", "bnn", "lan", "fusion", "unet"]
    assert result.picture is not None and result.picture.exists()
    report = (tmp_path / "report.md").read_text()
    assert "| U-Net (stage 3, the method) |" in report and "comparison.png" in report
    summary = json.loads((tmp_path / "demo.json").read_text())
    assert 15 < summary["rows"][0]["psnr"] < 30  # the synthesized noise is in a realistic range
