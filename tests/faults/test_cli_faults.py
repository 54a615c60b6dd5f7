"""Every fault case of ``cases.py`` through the CLI, in-process: the expected exit status, one
``sassid: error:`` line naming the problem, no traceback, and no input byte changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sassid.cli import main
from tests.faults.cases import CASES, Case, release_locks


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault_case(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = case.setup(tmp_path)
    before = snapshot(tmp_path / "in")
    capsys.readouterr()
    try:
        status = main(argv)
    finally:
        release_locks()
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("sassid: error:")]
    assert status == case.status, err
    assert len(errors) == 1 and case.expect in errors[0], err
    assert "weights_only" not in err
    assert snapshot(tmp_path / "in") == before, "an input changed"
