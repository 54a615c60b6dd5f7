"""The command line: denoise, evaluate and submit on tiny files, errors as one line."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.io import loadmat, savemat
from skimage.metrics import peak_signal_noise_ratio

from sassid.cli import main
from sassid.inference import Denoiser
from tests.conftest import DATA, OFFICIAL_LAN
from tests.helpers import evaluate_json, write_noisy_images, write_tiny_model


def test_denoise_batch_goes_on_after_a_bad_file(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    data = write_noisy_images(tmp_path / "in", count=2)
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    model = write_tiny_model(tmp_path / "model.pt")
    code = main(
        [
            "denoise",
            str(data),
            "-o",
            str(tmp_path / "out"),
            "-m",
            str(model),
            "-q",
            "--device",
            "cpu",
            "--tile",
            "32",
            "--overlap",
            "8",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("sassid: error:") == 1 and "broken.png: cannot read image" in err
    assert len(list((tmp_path / "out").glob("*.png"))) == 4


def test_denoise_single_file_keeps_16_bits(tmp_path: Path) -> None:
    import sassid.io as io

    pixels = (np.random.default_rng(0).random((40, 50, 3)) * 65535).astype(np.uint16)
    io.write_image(tmp_path / "a.png", pixels)
    model = write_tiny_model(tmp_path / "model.pt")
    for net in ("unet", "bnn", "lan", "fusion"):
        out = tmp_path / f"{net}.png"
        assert (
            main(
                [
                    "denoise",
                    str(tmp_path / "a.png"),
                    "-o",
                    str(out),
                    "-m",
                    str(model),
                    "-q",
                    "--device",
                    "cpu",
                    "--net",
                    net,
                    "--ensemble",
                ]
            )
            == 0
        )
        assert io.read_image(out).pixels.dtype == np.uint16


def test_evaluate_pairs_json_csv_images(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    data = write_noisy_images(tmp_path / "pairs", count=2)
    model = write_tiny_model(tmp_path / "model.pt")
    code = main(
        [
            "evaluate",
            "-m",
            str(model),
            str(data),
            "-q",
            "--device",
            "cpu",
            "--json",
            str(tmp_path / "r.json"),
            "--csv",
            str(tmp_path / "r.csv"),
            "--save-images",
            str(tmp_path / "img"),
            "--lpips",
            "--lpips-backbone",
            str(tmp_path / "absent_alexnet.pth"),
            "--ssim",
            "matlab3d",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "LPIPS skipped" in out and "SSIM (matlab3d)" in out
    summary = json.loads((tmp_path / "r.json").read_text())
    assert {"psnr", "ssim", "images", "seconds_per_megapixel"} <= set(summary)
    assert summary["images"] == 2 and summary["ssim_convention"] == "matlab3d"
    assert (tmp_path / "r.csv").read_text().startswith("image,psnr,ssim")
    assert Image.open(tmp_path / "img" / "img0.png").size == (3 * 64, 48)
    # every number from the saved images, by scikit-image: per image, then the mean
    rows = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [r["image"] for r in rows] == ["img0", "img1"]
    psnrs, noisy_psnrs = [], []
    for row, stored in zip(rows, summary["per_image"], strict=True):
        strip = np.asarray(Image.open(tmp_path / "img" / f"{row['image']}.png"))
        noisy, denoised, clean = np.split(strip, 3, axis=1)
        assert np.array_equal(noisy, np.asarray(Image.open(data / f"{row['image']}_noisy.png")))
        psnrs.append(peak_signal_noise_ratio(clean, denoised, data_range=255))
        noisy_psnrs.append(peak_signal_noise_ratio(clean, noisy, data_range=255))
        assert float(row["psnr"]) == pytest.approx(psnrs[-1], abs=1e-6)
        assert stored["psnr"] == pytest.approx(psnrs[-1], abs=1e-9)
    assert summary["psnr"] == pytest.approx(np.mean(psnrs), abs=1e-9)
    assert summary["psnr_noisy"] == pytest.approx(np.mean(noisy_psnrs), abs=1e-9)
    assert summary["psnr"] != pytest.approx(summary["psnr_noisy"], abs=1e-3)


def test_evaluate_sidd_validation_mat(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    clean = (rng.random((1, 2, 32, 32, 3)) * 255).astype(np.uint8)
    noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
    savemat(tmp_path / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": noisy})
    savemat(tmp_path / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": clean})
    model = write_tiny_model(tmp_path / "model.pt")
    summary = evaluate_json(model, tmp_path, tmp_path / "r.json")
    assert summary["images"] == 2
    # the blocks in order, each as the CLI's defaults denoise it (512 px tile, guard on)
    denoiser = Denoiser.from_model(model, device="cpu")
    expected = [
        peak_signal_noise_ratio(clean[0, k], denoiser.pixels(noisy[0, k]), data_range=255)
        for k in range(2)
    ]
    assert [r["psnr"] for r in summary["per_image"]] == pytest.approx(expected, abs=1e-9)
    assert summary["psnr_noisy"] == pytest.approx(
        np.mean([peak_signal_noise_ratio(clean[0, k], noisy[0, k]) for k in range(2)]), abs=1e-9
    )


def test_submit_sidd(tmp_path: Path) -> None:
    blocks = (np.random.default_rng(0).random((1, 2, 32, 32, 3)) * 255).astype(np.uint8)
    savemat(tmp_path / "BenchmarkNoisyBlocksSrgb.mat", {"BenchmarkNoisyBlocksSrgb": blocks})
    model = write_tiny_model(tmp_path / "model.pt")
    assert (
        main(
            [
                "submit",
                "sidd",
                str(tmp_path / "BenchmarkNoisyBlocksSrgb.mat"),
                "-o",
                str(tmp_path / "sub"),
                "-m",
                str(model),
                "-q",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    submitted = loadmat(tmp_path / "sub" / "SubmitSrgb.mat")["DenoisedBlocksSrgb"]
    assert submitted.shape == blocks.shape
    # each block as the Denoiser gives it: x8 ensemble, the model's own gate, no guard
    denoiser = Denoiser.from_model(model, tile=0, ensemble=True, device="cpu", guard=False)
    assert np.array_equal(submitted[0, 1], denoiser.pixels(blocks[0, 1]))
    assert len((tmp_path / "sub" / "SubmitSrgb.csv").read_text().splitlines()) == 3


def test_errors_are_one_line(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["evaluate", "-m", str(tmp_path / "none.pt"), str(tmp_path), "-q"]) == 2
    assert capsys.readouterr().err.strip() == f"sassid: error: {tmp_path / 'none.pt'}: no such file"
    bad = tmp_path / "bad.toml"
    bad.write_text("[bnn]\nsize = 3\n")
    assert main(["train", str(tmp_path), "-o", str(tmp_path / "r"), "--config", str(bad)]) == 2
    assert "unknown key '[bnn] size'" in capsys.readouterr().err


@pytest.mark.skipif(
    not (DATA / "sidd_samples").exists() or not OFFICIAL_LAN.exists(), reason="../shared absent"
)
def test_real_evaluation_with_reference_weights(tmp_path: Path) -> None:
    """The authors' trained LAN, loaded from reference-format weights, on real SIDD photos."""
    for ident in ("siddsample_00", "siddsample_02"):
        for kind in ("noisy", "clean"):
            name = f"{ident}_{kind}.png"
            shutil.copy(DATA / "sidd_samples" / name, tmp_path / name)
    summary = evaluate_json(OFFICIAL_LAN, tmp_path, tmp_path / "r.json", "--net", "lan")
    assert summary["psnr"] > summary["psnr_noisy"] + 5, summary


def test_train_minutes_defaults_to_laptop_and_blind_size_parsing(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    import sassid.train
    from sassid.cli import main
    from tests.helpers import write_noisy_images

    seen = {}

    def fake_train(sources, run_dir, config, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen["config"], seen["kwargs"] = config, kwargs
        return Path(run_dir) / "model.pt"

    monkeypatch.setattr(sassid.train, "train", fake_train)
    data = write_noisy_images(tmp_path / "d", size=(96, 96))
    assert main(["train", str(data), "-o", str(tmp_path / "r"), "--minutes", "2", "-q"]) == 0
    assert seen["config"].preset == "laptop" and seen["kwargs"]["minutes"] == 2.0
    assert seen["config"].bnn.auto_blind_size, "laptop measures its blind size"
    assert main(["train", str(data), "-o", str(tmp_path / "r"), "--blind-size", "5"]) == 0
    bnn = seen["config"].bnn
    assert seen["config"].preset == "paper" and (bnn.blind_size, bnn.auto_blind_size) == (5, False)
    quick_auto = ["--preset", "quick", "--blind-size", "auto"]
    assert main(["train", str(data), "-o", str(tmp_path / "r"), *quick_auto]) == 0
    assert seen["config"].preset == "quick" and seen["config"].bnn.auto_blind_size
    assert main(["train", str(data), "-o", str(tmp_path / "r"), "--blind-size", "4"]) == 2


def test_train_under_a_budget_says_how_it_spent_it(tmp_path, capsys) -> None:  # noqa: ANN001
    from sassid.cli import main
    from tests.helpers import write_noisy_images

    data = write_noisy_images(tmp_path / "d")
    config = tmp_path / "tiny.toml"
    config.write_text(
        'preset = "quick"\nbatch_size = 2\npatch_size = 32\nlog_every = 1\n'
        "[bnn]\nenc_channels = 8\ndec_channels = 16\nmax_steps = 8\n"
        "[lan]\nwidth = 16\nmax_steps = 8\n"
        "[unet]\nenc_channels = 8\ndec_channels = 16\nmax_steps = 2\n"
    )  # the teachers capped too: their unused time goes to the U-Net, however slow the CPU
    args = ["train", str(data), "-o", str(tmp_path / "r"), "--config", str(config)]
    assert main([*args, "--minutes", "0.3", "-q"]) == 0
    out = capsys.readouterr().out
    assert "of 0.3 minutes; steps: BNN" in out and "U-Net 2" in out, out
    assert "stopped at " in out and "unet max_steps 2" in out, out


def test_an_empty_input_path_is_refused_not_read_as_the_current_folder(
    tmp_path: Path,
    capsys,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    """``sassid denoise "$UNSET"`` must not denoise every photo below the working folder."""
    write_noisy_images(tmp_path / "photos", count=1)
    model = write_tiny_model(tmp_path / "model.pt")
    monkeypatch.chdir(tmp_path)
    code = main(["denoise", "", "-o", str(tmp_path / "out"), "-m", str(model), "-q"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sassid: error: an input path is empty") and "\n" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))


def test_evaluate_names_both_sizes_of_a_mismatched_pair(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    Image.new("RGB", (64, 48)).save(tmp_path / "a_noisy.png")
    Image.new("RGB", (60, 48)).save(tmp_path / "a_clean.png")
    model = write_tiny_model(tmp_path / "model.pt")
    assert main(["evaluate", "-m", str(model), str(tmp_path), "-q", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert (
        "a_noisy.png: size (48, 64, 3) differs from" in err and "a_clean.png ((48, 60, 3))" in err
    )
