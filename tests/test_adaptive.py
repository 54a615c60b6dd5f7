from __future__ import annotations

import numpy as np
import pytest
import torch

from sassid.adaptive import alpha_map, local_std


def test_local_std_against_numpy() -> None:
    image = torch.rand(1, 3, 12, 15) * 255
    gray = image.mean(1)[0].numpy().astype(np.float64)
    padded = np.pad(gray, 3, mode="reflect")
    expected = np.array(
        [[padded[i : i + 7, j : j + 7].std() for j in range(15)] for i in range(12)]
    )
    np.testing.assert_allclose(local_std(image)[0, 0].numpy(), expected, rtol=1e-4)


def test_constant_image_is_flat() -> None:
    image = torch.full((2, 3, 9, 9), 100.0)
    assert torch.all(local_std(image) == 0)
    # sigma = 0 <= lower: alpha = sigmoid(0 - 1)
    torch.testing.assert_close(
        alpha_map(image), torch.full((2, 1, 9, 9), torch.sigmoid(torch.tensor(-1.0)).item())
    )


def test_alpha_pieces_and_continuity() -> None:
    # A single-column step of height d gives a known sigma; sweep d through the three pieces.
    sigmas, alphas = [], []
    for d in np.linspace(0, 40, 200):
        image = torch.zeros(1, 3, 16, 16)
        image[..., 8:] = float(d)
        sigmas.append(local_std(image)[0, 0, 8, 8].item())
        alphas.append(alpha_map(image)[0, 0, 8, 8].item())
    s, a = np.array(sigmas), np.array(alphas)
    assert np.all(a[s <= 1] < 0.5) and np.all(a[s > 5] > 0.5)
    assert np.all(a[(s > 1) & (s <= 5)] == 0.5)
    assert np.all(np.diff(a) >= 0), "alpha is monotone in sigma"
    assert np.max(np.abs(np.diff(a))) < 0.05, "alpha is continuous"


def test_tiny_images_and_bad_arguments() -> None:
    assert alpha_map(torch.rand(1, 3, 1, 2) * 255).shape == (1, 1, 1, 2)
    with pytest.raises(ValueError, match="window"):
        local_std(torch.rand(1, 3, 8, 8), window=4)
    with pytest.raises(ValueError, match="lower <= upper"):
        alpha_map(torch.rand(1, 3, 8, 8), lower=5, upper=1)
