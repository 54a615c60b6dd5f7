"""The Python API under every command raises sassid's own errors (SassidError subclasses) for
bad input, with the same one-line messages the CLI prints; never a bare KeyError, TypeError,
ValueError or OSError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from sassid.errors import SassidError


def _calls(tmp: Path) -> dict[str, Callable[[], object]]:
    from sassid.checkpoint import load_file, load_stage_checkpoint
    from sassid.config import load_config, preset, with_steps
    from sassid.denoise import denoise_files
    from sassid.evaluate import evaluate
    from sassid.formats.dnd import read_boxes
    from sassid.formats.sidd import read_blocks, read_kaggle_csv
    from sassid.inference import Denoiser
    from sassid.io import find_images, find_pairs, read_image, write_image
    from sassid.metrics import psnr, ssim
    from sassid.models import load_model, load_networks
    from sassid.nets import UNet, load_reference_weights
    from sassid.nets.registry import build_net
    from sassid.synth import add_camera_noise, synthesize_files
    from sassid.tiling import run_tiled, tile_grid

    (tmp / "junk.pt").write_bytes(b"junk")
    (tmp / "junk.csv").write_text("ID,BLOCK\n0,@@@\n")
    (tmp / "empty").mkdir()
    img = np.zeros((8, 8, 3), np.uint8)
    return {
        "read_image(folder)": lambda: read_image(tmp),
        "read_image(missing)": lambda: read_image(tmp / "x.png"),
        "write_image(2-D array)": lambda: write_image(tmp / "a.png", np.zeros((4, 4))),
        "write_image(.gif)": lambda: write_image(tmp / "a.gif", img),
        "write_image(missing folder)": lambda: write_image(tmp / "no" / "a.png", img),
        "find_images(missing)": lambda: find_images([tmp / "nope"]),
        "find_pairs(empty)": lambda: find_pairs(tmp / "empty"),
        "load_file(junk)": lambda: load_file(tmp / "junk.pt"),
        "load_file(folder)": lambda: load_file(tmp),
        "load_model(missing)": lambda: load_model(tmp / "m.pt"),
        "load_networks(junk)": lambda: load_networks(tmp / "junk.pt"),
        "load_stage_checkpoint(junk)": lambda: load_stage_checkpoint(tmp / "junk.pt", "bnn"),
        "build_net(gan)": lambda: build_net("gan", {}),
        "load_reference_weights(junk)": lambda: load_reference_weights(UNet(), tmp / "junk.pt"),
        "load_config(folder)": lambda: load_config(tmp),
        "preset(fast)": lambda: preset("fast"),
        "with_steps(0)": lambda: with_steps(preset("quick"), 0),
        "tile_grid(10, 4, 8)": lambda: tile_grid(10, 4, 8),
        "run_tiled(overlap -1)": lambda: run_tiled(lambda t: t, torch.zeros(1, 3, 9, 9), 4, -1),
        "Denoiser(net=gan)": lambda: Denoiser({"unet": torch.nn.Identity()}, net="gan"),
        "Denoiser(missing lan)": lambda: Denoiser({"unet": torch.nn.Identity()}, net="lan"),
        "psnr(shapes)": lambda: psnr(img, img[:4]),
        "psnr(uint16, uint8)": lambda: psnr(img.astype(np.uint16), img),
        "ssim(1x1)": lambda: ssim(img[:1, :1], img[:1, :1]),
        "ssim(convention)": lambda: ssim(img, img, "other"),
        "add_camera_noise(iso 0)": lambda: add_camera_noise(img, 0),
        "add_camera_noise(float)": lambda: add_camera_noise(img.astype(float)),
        "synthesize_files(empty)": lambda: synthesize_files([tmp / "empty"], tmp / "out"),
        "denoise_files(empty)": lambda: denoise_files([tmp / "empty"], tmp / "out", tmp),
        "evaluate(missing data)": lambda: evaluate(tmp / "junk.pt", tmp / "nope"),
        "read_blocks(junk)": lambda: read_blocks(tmp / "junk.pt"),
        "read_kaggle_csv(junk)": lambda: read_kaggle_csv(tmp / "junk.csv"),
        "read_boxes(missing)": lambda: read_boxes(tmp),
    }


def test_library_calls_raise_sassid_errors(tmp_path: Path) -> None:
    failures = []
    for name, call in _calls(tmp_path).items():
        try:
            call()
        except SassidError as exc:
            if "\n" in str(exc) or not str(exc):
                failures.append(f"{name}: message {str(exc)!r}")
        except Exception as exc:  # noqa: BLE001 - this is what the test looks for
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{name}: no error")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("exc", ["ConfigError", "OptionError", "MetricError", "ImageError"])
def test_value_errors_stay_value_errors(exc: str) -> None:
    """Callers that caught ValueError before keep working."""
    import sassid.errors
    import sassid.io
    import sassid.metrics

    cls = getattr(sassid.errors, exc, None) or getattr(sassid.metrics, exc, None)
    cls = cls or getattr(sassid.io, exc)
    assert issubclass(cls, SassidError) and issubclass(cls, ValueError)
