from __future__ import annotations

import pytest
import torch

from sassid.tiling import ensemble_x8, run_tiled, tile_grid


def test_grid_covers_the_axis() -> None:
    assert tile_grid(100, 128, 16) == [0]
    starts = tile_grid(1000, 256, 64)
    assert starts[0] == 0 and starts[-1] == 1000 - 256
    assert all(b - a <= 256 - 64 for a, b in zip(starts, starts[1:], strict=False))
    with pytest.raises(ValueError, match="larger than --overlap"):
        tile_grid(100, 32, 32)


@pytest.mark.parametrize(("tile", "overlap"), [(64, 8), (96, 16), (128, 64)])
def test_tiled_equals_whole_for_a_local_network(tile: int, overlap: int) -> None:
    """Reach 2 px <= overlap // 4: tiles must reproduce the whole-image output (< 1e-3 of 255)."""
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 3, padding=1)
    ).eval()
    x = torch.rand(1, 3, 301, 333) * 255
    with torch.no_grad():
        assert (run_tiled(net, x, tile, overlap) - net(x)).abs().max() < 1e-3


def test_ensemble_inverts_its_transforms() -> None:
    x = torch.rand(1, 3, 20, 30)
    torch.testing.assert_close(ensemble_x8(lambda t: t, x), x)
    calls = []
    ensemble_x8(lambda t: calls.append(t.shape) or t, x)
    assert calls.count((1, 3, 30, 20)) == 4 and len(calls) == 8
