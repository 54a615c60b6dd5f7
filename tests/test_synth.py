from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sassid.cli import main
from sassid.io import read_image, write_image
from sassid.metrics import psnr
from sassid.synth import (
    add_camera_noise,
    demosaic_malvar,
    mosaic_rggb,
    noise_autocorrelation,
    render_reference,
)


def _scene() -> np.ndarray:
    """A smooth colour scene away from 0 and 255, so clipping does not correlate the noise."""
    y, x = np.mgrid[0:128, 0:160]
    return np.stack([60 + 0.5 * x, 80 + 0.4 * y, 120 + 0.2 * (x + y)], -1).astype(np.uint8)


def test_camera_noise_is_spatially_correlated() -> None:
    clean = _scene()
    noisy = add_camera_noise(clean, iso_like=3200, seed=1)
    lags = noise_autocorrelation(noisy, render_reference(clean))
    assert lags[0] > 0.3, lags
    rng = np.random.default_rng(0)
    gaussian = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8)
    assert abs(noise_autocorrelation(gaussian, clean)[0]) < 0.05


def test_noise_grows_with_iso_and_is_seeded() -> None:
    clean, reference = _scene(), render_reference(_scene())
    scores = [psnr(add_camera_noise(clean, iso), reference) for iso in (200, 1600, 6400)]
    assert scores[0] > scores[1] > scores[2]
    assert np.array_equal(add_camera_noise(clean, seed=3), add_camera_noise(clean, seed=3))


def test_malvar_demosaic_is_exact_on_flat_colour() -> None:
    flat = np.ones((16, 18, 3)) * np.array([0.2, 0.5, 0.7])
    np.testing.assert_allclose(demosaic_malvar(mosaic_rggb(flat)), flat, atol=1e-12)


def test_jpeg_option_and_cli(tmp_path: Path) -> None:
    noisy = add_camera_noise(_scene(), 800, jpeg_quality=80)
    assert noisy.dtype == np.uint8 and noisy.shape == _scene().shape
    assert not np.array_equal(noisy, add_camera_noise(_scene(), 800)), "JPEG changes the pixels"
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", _scene())
    assert (
        main(["synth", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--iso-like", "800"]) == 0
    )
    assert read_image(tmp_path / "out" / "a.png").pixels.shape == _scene().shape


@pytest.mark.parametrize("iso", [800, 3200])
def test_reference_differs_from_noisy_only_by_noise(iso: float) -> None:
    """E[noisy] = reference: averaging independent noisy renders converges to the reference
    (16 renders cut the noise std 4x, +12 dB), so no systematic difference (blur, colour
    shift) separates them; and the residual of one render has no per-channel bias."""
    clean, reference = _scene(), render_reference(_scene())
    renders = np.stack([add_camera_noise(clean, iso, seed=s) for s in range(16)])
    single = psnr(renders[0], reference)
    mean = np.clip(np.floor(renders.astype(np.float64).mean(0) + 0.5), 0, 255).astype(np.uint8)
    assert psnr(mean, reference) > single + 9, (psnr(mean, reference), single)
    residual = renders[0].astype(np.float64) - reference
    assert np.all(np.abs(residual.mean((0, 1))) < 0.1 * residual.std((0, 1)))


def test_synth_uses_every_image_of_a_pairs_folder(tmp_path: Path) -> None:
    """Clean inputs beside noisy-named files are still used (no noisy-only filtering here)."""
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "x_clean.png", _scene())
    write_image(tmp_path / "in" / "x_noisy.png", _scene())
    (tmp_path / "in" / "bad.png").write_bytes(b"not a png")
    assert main(["synth", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x_clean.png", "x_noisy.png"]


def _orientation_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    exif[0x010F] = "TestCam"
    return exif.tobytes()


def test_jpeg_output_is_the_single_encoding_add_camera_noise_models(tmp_path: Path) -> None:
    """The written .jpg is one quality-Q encoding (not re-encoded at 95): its quantisation
    tables are quality Q's and it decodes to add_camera_noise's pixels for the same seed."""
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", _scene())
    args = ["synth", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--iso-like", "800"]
    assert main([*args, "--seed", "5", "--jpeg-quality", "70"]) == 0
    fresh = io.BytesIO()
    Image.fromarray(_scene()).save(fresh, format="JPEG", quality=70)
    with Image.open(tmp_path / "out" / "a.jpg") as written, Image.open(fresh) as expected:
        assert written.quantization == expected.quantization
        pixels = np.asarray(written.convert("RGB"))
    assert np.array_equal(pixels, add_camera_noise(_scene(), 800, seed=5, jpeg_quality=70))


@pytest.mark.parametrize("quality", [None, 90])
def test_synth_keeps_exif_orientation_and_icc(tmp_path: Path, quality: int | None) -> None:
    """A photo shown rotated by its EXIF orientation stays so: EXIF (and ICC) are kept."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    (tmp_path / "in").mkdir()
    source = Image.fromarray(_scene())
    source.save(tmp_path / "in" / "o.jpg", quality=95, exif=_orientation_exif(), icc_profile=icc)
    jpeg = [] if quality is None else ["--jpeg-quality", str(quality)]
    assert main(["synth", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *jpeg]) == 0
    (written,) = (tmp_path / "out").iterdir()
    assert written.suffix == (".png" if quality is None else ".jpg")
    with Image.open(written) as im:
        assert im.getexif()[0x0112] == 6 and im.getexif()[0x010F] == "TestCam"
        assert im.info.get("icc_profile") == icc


def test_exif_too_long_for_a_jpeg_is_dropped_with_a_warning(tmp_path: Path) -> None:
    from sassid.io import JPEG_MAX_EXIF
    from sassid.synth import synthesize_files

    exif = Image.Exif()
    exif[0x010E] = "x" * (JPEG_MAX_EXIF + 10)  # a PNG holds it; a JPEG marker cannot
    (tmp_path / "in").mkdir()
    Image.fromarray(_scene()).save(tmp_path / "in" / "big.png", exif=exif.tobytes())
    with pytest.warns(UserWarning, match=r"big\.png: EXIF of \d+ bytes does not fit a JPEG"):
        errors = synthesize_files([tmp_path / "in"], tmp_path / "out", jpeg_quality=90)
    assert errors == [] and read_image(tmp_path / "out" / "big.jpg").exif is None


def test_sixteen_bit_input_is_written_at_8_bit_with_a_warning(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from sassid.synth import synthesize_files

    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "deep.png"
    write_image(source, _scene().astype(np.uint16) * 257)
    with pytest.warns(UserWarning, match=r"deep\.png: 16-bit input, noisy image written at 8"):
        assert synthesize_files([source], tmp_path / "out") == []
    assert read_image(tmp_path / "out" / "deep.png").pixels.dtype == np.uint8
    assert main(["synth", str(source), "-o", str(tmp_path / "cli")]) == 0
    assert f"sassid: warning: {source}: 16-bit input" in capsys.readouterr().err
