"""Shared fixtures: paths to ../shared (skipped cleanly where absent) and seeded inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
REFERENCE_FILE = SHARED / "reference" / "official_reference.pt"
OFFICIAL_LAN = SHARED / "reference" / "official_LAN.pth"
DATA = SHARED / "data"


@pytest.fixture(scope="session")
def reference() -> dict:
    if not REFERENCE_FILE.exists():
        pytest.skip(f"{REFERENCE_FILE} not present")
    return torch.load(REFERENCE_FILE, weights_only=True)


@pytest.fixture(scope="session")
def official_lan_path() -> Path:
    if not OFFICIAL_LAN.exists():
        pytest.skip(f"{OFFICIAL_LAN} not present")
    return OFFICIAL_LAN


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
