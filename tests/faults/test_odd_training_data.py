"""What the fourth fault campaign (training on odd data, 2026-12-08) found: a diverged run
that wrote a one-colour model, a resume that replaced a finished model with a 1-step one,
photos too small to judge passed silently, ratios to a noise level of 0, and leaked
library warnings."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sassid.errors import SassidError, TrainingError
from sassid.inference import Denoiser
from tests.helpers import tiny_config, write_noisy_images


def test_a_loss_beyond_the_pixel_range_stops_the_stage() -> None:
    from sassid.train import _check_loss

    _check_loss(40.0, "bnn", 20, 40.0)  # a working stage
    _check_loss(900.0, "bnn", 20, 30.0)  # an L2 loss of 900: an error of 30 levels
    with pytest.raises(TrainingError, match=r"unet stage, step 20: the loss is 1e\+19 \(diverged"):
        _check_loss(1e19, "unet", 20, 1e19)
    with pytest.raises(TrainingError, match="diverged"):
        _check_loss(float("nan"), "lan", 5)


class _Flat(nn.Module):
    """A network that gives one colour everywhere (a broken one, or a perfect one on a flat
    scene)."""

    def __init__(self, colour: tuple[float, float, float]) -> None:
        super().__init__()
        self.colour = torch.tensor(colour).view(1, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(x) + self.colour


def test_a_one_colour_output_is_never_returned_for_a_photo_with_more_than_noise() -> None:
    denoiser = Denoiser({"unet": _Flat((0.0, 0.0, 255.0))}, tile=0, source="m.pt")
    ramp = np.linspace(40, 200, 64)[None, :, None] * np.ones((48, 1, 3))
    noisy = np.clip(ramp + np.random.default_rng(0).normal(0, 20, ramp.shape), 0, 255)
    for photo in (noisy.astype(np.uint8), np.full((48, 64, 3), 128, np.uint8)):
        with pytest.raises(SassidError, match=r"m.pt: the unet network turns the whole photo "):
            denoiser.pixels(photo)  # a noisy ramp; a flat grey photo in another colour
    flat = np.full((24, 32, 3), (0, 0, 255), np.uint8)  # a flat photo may come out flat
    assert np.array_equal(denoiser.pixels(flat), flat)
    # ... and so may a noisy grey card: its spread is its noise
    card = np.clip(128 + np.random.default_rng(1).normal(0, 3, (64, 64, 3)), 0, 255)
    grey = Denoiser({"unet": _Flat((128.0, 128.0, 128.0))}, tile=0, source="m.pt")
    assert (grey.pixels(card.astype(np.uint8)) == 128).all()


def test_resume_never_replaces_a_model_it_has_no_checkpoints_for(tmp_path: Path) -> None:
    from sassid.atomic import to_json
    from sassid.train import train

    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(to_json(tiny_config().to_dict()))
    (run / "model.pt").write_bytes(b"a finished model")
    photos = write_noisy_images(tmp_path / "photos", count=1)
    with pytest.raises(TrainingError, match=r"holds a model.pt but no checkpoints to resume"):
        train([photos], run, tiny_config(), device="cpu", progress=False, resume=True)
    assert (run / "model.pt").read_bytes() == b"a finished model"


def test_a_photo_too_small_to_judge_is_named(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from sassid.cli import main
    from sassid.reliability import judge_photo
    from tests.helpers import write_tiny_model

    sliver = np.random.default_rng(0).integers(0, 256, (1, 96, 3)).astype(np.uint8)
    with pytest.raises(ValueError, match=r"96 x 1 px: too small to judge"):
        judge_photo("sliver", sliver, sliver)
    from PIL import Image

    Image.fromarray(sliver).save(tmp_path / "sliver.png")
    model = write_tiny_model(tmp_path / "m.pt")
    argv = ["denoise", str(tmp_path / "sliver.png"), "-o", str(tmp_path / "o.png")]
    assert main([*argv, "-m", str(model), "-q", "--device", "cpu"]) == 0
    assert "sliver.png: not checked (96 x 1 px: too small to judge" in capsys.readouterr().err


def test_no_ratio_to_a_noise_level_of_zero() -> None:
    from sassid.reliability import judge_photo

    flat = np.full((64, 64, 3), 128, np.uint8)
    changed = flat.copy()
    changed[::2] = 100  # stripes: 14 levels (std) "removed" from a photo with no noise
    summary = judge_photo("flat", flat, changed).summary()
    assert "where the noise measures under 0.5 levels" in summary and "x the noise" not in summary


def test_crops_and_cached_targets_leak_no_library_warning() -> None:
    from sassid.data import PatchSampler
    from sassid.teachers import F16_MAX, TeacherCache

    image = np.zeros((64, 64, 3), np.uint8)
    image.flags.writeable = False  # as np.asarray of a Pillow image is
    sampler = PatchSampler([image], 64, torch.Generator().manual_seed(0))

    class _Huge(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + 1e6

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler.crop(0, 0, 0, 0)
        cache = TeacherCache.build(
            {"bnn": _Huge()},
            [np.zeros((8, 8, 3), np.uint8)],
            transforms=1,
            tile=0,
            device=torch.device("cpu"),
            autocast=lambda: torch.autocast("cpu", enabled=False),
        )
    assert float(cache.arrays["bnn"][0][0].max()) == F16_MAX


def test_a_budget_line_with_no_steps_says_why() -> None:
    from sassid.budget import describe_budget

    saved = {"minutes": 0.4, "spent_seconds": 0.0, "stages": {"bnn": {}, "unet": {}}}
    assert describe_budget(saved, {}).endswith("steps: none (every stage was already done)")
