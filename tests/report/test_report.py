"""The HTML report, parsed back: structure, every image decodable, nothing external, the
pixels shown are the networks' outputs, and the stated size bound holds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from sassid.adaptive import alpha_map
from sassid.cli import main
from sassid.inference import Denoiser
from sassid.io import read_image, to_pixels
from sassid.report import MIN_PHOTO_BYTES, PAGE_BYTES, ROW_BYTES, write_report
from sassid.report.encode import alpha_colours
from tests.helpers import write_noisy_images, write_tiny_model
from tests.report.page import check_self_contained, decode, photo_sections


def _run_dir(tmp_path: Path, steps: int = 6) -> Path:
    """A tiny model in a run directory with a fabricated training log."""
    run = tmp_path / "run"
    run.mkdir()
    write_tiny_model(run / "model.pt")
    lines = []
    for stage in ("bnn", "lan", "unet"):
        for step in range(1, steps + 1):
            lines.append({"stage": stage, "step": step, "loss": 10.0 / step, "steps_per_s": 3.0})
        lines.append({"stage": stage, "step": steps, "val_psnr": 30.0})
        lines.append({"stage": stage, "step": steps, "stage_seconds": 2.5, "steps_run": steps})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (run / "config.json").write_text(json.dumps({"preset": "quick", "patch_size": 32}))
    return run


def test_report_of_pairs_shows_the_networks_outputs(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    data = write_noisy_images(tmp_path / "pairs", count=2, size=(40, 56))
    out = tmp_path / "report.html"
    summary = write_report(run, [data], out, device="cpu", progress=False, max_side=64, crop=24)
    assert summary.photos == 2 and not summary.failed and summary.full_res == []
    page = check_self_contained(out)
    html = out.read_text()
    assert list(photo_sections(html)) == ["photo-1", "photo-2"]
    unet = Denoiser.from_model(run, net="unet", device="cpu")
    bnn = Denoiser.from_model(run, net="bnn", device="cpu")
    for i, name in enumerate(("img0", "img1"), 1):
        section = f"photo-{i}"
        noisy = read_image(data / f"{name}_noisy.png").pixels
        clean = read_image(data / f"{name}_clean.png").pixels
        out_pixels = unet.pixels(noisy)
        # The slider: the photo fits in 64 px, so both sides are lossless and full size.
        after, before = (decode(t.attrs["src"]) for t in page.find("img", section=section)[:2])
        assert np.array_equal(before, noisy) and np.array_equal(after, out_pixels)
        assert len(page.find("input", "pos", section)) == 1
        crops = page.find("div", "crops", section)[0].attrs
        top, left, h, w = (int(crops[k]) for k in ("data-top", "data-left", "data-h", "data-w"))
        assert (h, w) == (24, 24)
        panels = {t.attrs["alt"]: decode(t.attrs["src"]) for t in page.find("img", "px", section)}
        assert list(panels) == [
            "noisy",
            "U-Net",
            "clean",
            "removed: noisy - out",
            "error: out - clean",
            "alpha (blue: BNN, orange: LAN)",
            "BNN (teacher 1)",
            "LAN (teacher 2)",
        ]
        window = (slice(top, top + h), slice(left, left + w))
        assert np.array_equal(panels["noisy"], noisy[window])
        assert np.array_equal(panels["U-Net"], out_pixels[window])
        assert np.array_equal(panels["clean"], clean[window])
        bnn_out = bnn.tensor(torch.from_numpy(to_pixels(noisy[window]))[None])
        assert np.array_equal(panels["BNN (teacher 1)"], bnn.pixels(noisy[window]))
        expected_alpha = alpha_colours(alpha_map(bnn_out)[0, 0].numpy())
        assert (
            np.abs(panels["alpha (blue: BNN, orange: LAN)"].astype(int) - expected_alpha).max() <= 1
        )
    text = " ".join(page.text)
    assert "PSNR (dB)" in text and "Donoho" in text
    # Training story: a loss and a validation chart per stage, times, the configuration.
    svgs = page.find("svg", "chart", "training")
    assert len(svgs) == 6
    assert "<td>total</td><td></td><td></td><td>7.5</td>" in html  # 3 stages x 2.5 s
    assert '"preset": "quick"' in text
    stated = re.search(r"This file: ([0-9.]+) MB", html)
    assert stated and float(stated.group(1)) == round(out.stat().st_size / 1e6, 2)


def test_sections_stay_under_the_byte_cap_and_large_photos_link_full_res(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "model.pt")
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 440, 3), dtype=np.uint8)  # incompressible
    exif = Image.Exif()
    exif[0x0112] = 6  # the full-resolution output must turn as its source does
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(photo).save(tmp_path / "big.png", exif=exif, icc_profile=icc)
    out = tmp_path / "out" / "r.html"
    summary = write_report(
        model,
        [tmp_path / "big.png"],
        out,
        device="cpu",
        progress=False,
        max_side=320,
        photo_bytes=MIN_PHOTO_BYTES,
        teachers=False,
    )
    html = out.read_text()
    sections = photo_sections(html)
    assert len(sections) == 1 and len(sections["photo-1"].encode()) <= MIN_PHOTO_BYTES
    page = check_self_contained(out)
    shown = decode(page.find("img", "before", "photo-1")[0].attrs["src"])
    assert page.find("img", "before")[0].attrs["src"].startswith("data:image/jpeg")
    assert max(shown.shape[:2]) <= 320
    # The full-resolution output is written beside the page and linked from it.
    assert summary.full_res == [out.parent / "r_files" / "001_big.png_unet.png"]
    links = [t.attrs["href"] for t in page.find("a", section="photo-1")]
    assert "r_files/001_big.png_unet.png" in links and "../big.png" in links
    expected = Denoiser.from_model(model, device="cpu").pixels(photo)
    full = read_image(summary.full_res[0])
    assert np.array_equal(full.pixels, expected) and full.icc_profile == icc
    with Image.open(summary.full_res[0]) as im:
        assert im.getexif()[0x0112] == 6
    assert summary.bytes == out.stat().st_size <= summary.bound
    assert summary.bound == MIN_PHOTO_BYTES + ROW_BYTES + PAGE_BYTES
    assert len(page.find("img", "px")) == 3  # no teachers asked for: noisy, U-Net, removed


def test_photos_are_read_one_at_a_time(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """A report of many large photos holds one in memory, not all: each is read just before
    it is added."""
    import sassid.report.build as build

    data = write_noisy_images(tmp_path / "pairs", count=3)
    events: list[str] = []
    real_read, real_add = build.read_image, build.ReportBuilder.add
    monkeypatch.setattr(build, "read_image", lambda path: events.append("read") or real_read(path))
    monkeypatch.setattr(
        build.ReportBuilder,
        "add",
        lambda self, *a, **k: events.append("add") or real_add(self, *a, **k),
    )
    model = write_tiny_model(tmp_path / "model.pt")
    write_report(model, [data], tmp_path / "r.html", device="cpu", progress=False, teachers=False)
    assert events == ["read", "read", "add"] * 3  # noisy and clean, then the pair is added


def test_page_without_photos_stays_under_its_fixed_share(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, steps=20_000)  # a long log: charts are thinned
    assert main(["report", "-m", str(run), "-o", str(tmp_path / "r.html"), "-q"]) == 0
    page = check_self_contained(tmp_path / "r.html")
    assert (tmp_path / "r.html").stat().st_size <= PAGE_BYTES
    assert len(page.find("svg", "chart")) == 6 and not page.find("section", "photo")


def test_cli_report_skips_a_bad_file_and_rejects_a_bad_output(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    model = write_tiny_model(tmp_path / "model.pt")
    data = write_noisy_images(tmp_path / "in", count=1, size=(32, 40))
    (data / "img0_clean.png").unlink()  # now a plain folder of photos, no pairs
    (data / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    args = ["report", "-m", str(model), str(data), "-q", "--device", "cpu", "--crop", "16"]
    assert main([*args, "-o", str(tmp_path / "r.html")]) == 1
    captured = capsys.readouterr()
    assert "broken.png: cannot read image" in captured.err
    assert "report:" in captured.out and "1 photos" in captured.out
    page = check_self_contained(tmp_path / "r.html")
    assert len(page.find("section", "photo")) == 1
    assert "PSNR" not in " ".join(page.text) or "only where a clean image" in " ".join(page.text)
    assert main([*args, "-o", str(tmp_path / "r.txt")]) == 2
    assert capsys.readouterr().err.strip().endswith("a report is an .html file")
    assert not (tmp_path / "r.txt").exists()


def test_denoise_and_evaluate_write_reports(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "model.pt")
    data = write_noisy_images(tmp_path / "pairs", count=1, size=(32, 40))
    common = ["-m", str(model), "-q", "--device", "cpu"]
    denoised = tmp_path / "den"
    noisy = data / "img0_noisy.png"
    assert (
        main(
            [
                "denoise",
                str(noisy),
                "-o",
                str(denoised),
                *common,
                "--report",
                str(tmp_path / "d.html"),
            ]
        )
        == 0
    )
    page = check_self_contained(tmp_path / "d.html")
    links = [t.attrs["href"] for t in page.find("a", section="photo-1")]
    assert links == ["pairs/img0_noisy.png", "den/img0_noisy.png"]
    scores = tmp_path / "s.json"
    assert (
        main(
            [
                "evaluate",
                str(data),
                *common,
                "--json",
                str(scores),
                "--report",
                str(tmp_path / "e.html"),
            ]
        )
        == 0
    )
    psnr = json.loads(scores.read_text())["per_image"][0]["psnr"]
    page = check_self_contained(tmp_path / "e.html")
    assert f"{psnr:.2f}" in " ".join(page.text)


@pytest.mark.parametrize("cap", [MIN_PHOTO_BYTES - 1])
def test_builder_rejects_a_cap_below_the_minimum(tmp_path: Path, cap: int) -> None:
    from sassid.errors import SassidError
    from sassid.report import ReportBuilder

    with pytest.raises(SassidError, match="^--photo-kb / photo_bytes must be at least 200 kB"):
        ReportBuilder(write_tiny_model(tmp_path / "m.pt"), tmp_path / "r.html", photo_bytes=cap)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--max-side", "32", "--max-side / max_side must be at least 64, got 32"),
        ("--crop", "8", "--crop / crop must be at least 16, got 8"),
        ("--title", "x" * 1001, "--title / title: at most 1000 characters, got 1001"),
    ],
)
def test_cli_names_the_option_too_small(tmp_path: Path, capsys, option, value, message) -> None:  # noqa: ANN001
    model = write_tiny_model(tmp_path / "m.pt")
    out = tmp_path / "r.html"
    assert main(["report", "-m", str(model), "-o", str(out), "-q", option, value]) == 2
    assert capsys.readouterr().err == f"sassid: error: {message}\n"
    assert not out.exists()


def test_the_longest_title_fits_the_page_however_it_escapes(tmp_path: Path) -> None:
    from sassid.report import ReportBuilder
    from sassid.report.build import MAX_TITLE_CHARS

    title = '"<&' * (MAX_TITLE_CHARS // 3)
    builder = ReportBuilder(write_tiny_model(tmp_path / "m.pt"), tmp_path / "r.html", title=title)
    summary = builder.write()
    assert summary.bytes <= summary.bound
    assert check_self_contained(summary.path).text.count(title) == 2  # <title> and <h1>


def test_builder_names_the_photo_on_bad_input(tmp_path: Path) -> None:
    from sassid.errors import SassidError
    from sassid.report import ReportBuilder

    builder = ReportBuilder(
        write_tiny_model(tmp_path / "m.pt"), tmp_path / "r.html", teachers=False, device="cpu"
    )
    noisy = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(SassidError, match="^a.png: clean image size"):
        builder.add("a.png", noisy, noisy, clean=np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(SassidError, match="^in/sub/b.png: SSIM .* needs at least 11x11"):
        builder.add("b.png", noisy, noisy, clean=noisy, noisy_file=Path("in/sub/b.png"))
    assert not (tmp_path / "r.html").exists()  # nothing is written before write()


def test_a_photo_too_small_for_a_noise_estimate_is_shown_without_one(
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    """`sassid denoise` writes a 1 x 1 photo, so the report shows it (noise estimate "-")
    instead of failing the whole report."""
    model = write_tiny_model(tmp_path / "m.pt")
    data = write_noisy_images(tmp_path / "in", count=1, size=(32, 40))
    (data / "img0_clean.png").unlink()  # a plain folder of photos
    Image.fromarray(np.full((1, 1, 3), 90, np.uint8)).save(data / "dot.png")
    out = tmp_path / "r.html"
    args = ["report", "-m", str(model), str(data), "-o", str(out), "-q", "--device", "cpu"]
    assert main([*args, "--crop", "16"]) == 0
    assert "2 photos" in capsys.readouterr().out
    check_self_contained(out)
    (dot,) = [s for s in photo_sections(out.read_text()).values() if "dot.png" in s]
    assert "No noise estimate: the photo is under 2 x 2 pixels." in dot


def test_a_doubtful_photo_says_so_under_its_picture(tmp_path: Path) -> None:
    from sassid.report import ReportBuilder

    builder = ReportBuilder(
        write_tiny_model(tmp_path / "m.pt"), tmp_path / "r.html", teachers=False, device="cpu"
    )
    rng = np.random.default_rng(0)
    clean = np.full((96, 96, 3), 120.0)
    noisy = np.clip(np.round(clean + rng.normal(0, 6, clean.shape)), 0, 255).astype(np.uint8)
    builder.add("good.png", noisy, clean.astype(np.uint8))
    builder.add("tinted.png", noisy, (clean + [0, 0, 25]).astype(np.uint8))
    html = (builder.write().path).read_text()
    good, tinted = html.split("good.png", 1)[1].split("tinted.png", 1)
    assert "Doubtful" not in good
    assert "Doubtful: the output departs from the input beyond the noise" in tinted
    assert "/+25.0 levels (R/G/B)" in tinted


def test_a_given_verdict_is_used_and_an_unjudgeable_photo_gets_no_note(
    tmp_path: Path,
    monkeypatch,  # noqa: ANN001
) -> None:
    import sassid.report.build
    from sassid.report import ReportBuilder

    def cannot_judge(*_args: object) -> None:
        raise ValueError("no flat patch")

    monkeypatch.setattr(sassid.report.build, "judge_photo", cannot_judge)
    builder = ReportBuilder(
        write_tiny_model(tmp_path / "m.pt"), tmp_path / "r.html", teachers=False, device="cpu"
    )
    noisy = np.full((64, 64, 3), 120, np.uint8)
    builder.add("given.png", noisy, noisy, doubt="a shift named by sassid denoise")
    builder.add("passed.png", noisy, noisy, doubt="")
    builder.add("unjudged.png", noisy, noisy)  # judged here: the ValueError leaves no note
    html = builder.write().path.read_text()
    note = html.index("Doubtful: a shift named by sassid denoise.")
    assert html.index('id="photo-1"') < note < html.index('id="photo-2"')  # under given.png
    assert html.count("Doubtful") == 1


def test_a_report_never_replaces_its_inputs_nor_reads_its_own_files(tmp_path: Path) -> None:
    model = write_tiny_model(tmp_path / "model.pt")
    rng = np.random.default_rng(0)
    for name in ("x.png", "y.png"):
        Image.fromarray(rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)).save(tmp_path / name)
    options = {"device": "cpu", "progress": False, "max_side": 64, "teachers": False}
    # a photo named where the report would put x.png's full-size output: that photo fails
    (tmp_path / "r_files").mkdir()
    kept = tmp_path / "r_files" / "001_x.png_unet.png"
    kept.write_bytes((tmp_path / "y.png").read_bytes())
    summary = write_report(model, [tmp_path / "x.png", kept], tmp_path / "r.html", **options)
    assert kept.read_bytes() == (tmp_path / "y.png").read_bytes()
    assert [name for name, _ in summary.failed] == ["x.png"]
    # a report inside its input folder: its own earlier outputs are not photos the next time
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("x.png", "y.png"):
        (folder / name).write_bytes((tmp_path / name).read_bytes())
    counts = [write_report(model, [folder], folder / "r.html", **options).photos for _ in "ab"]
    assert counts == [2, 2]


def test_a_refused_denoise_leaves_no_report_folder(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """The report's folder is made when the page is written, so a plan refused before any
    work (a mistyped input here) leaves no empty folder behind; a bad place is still refused
    before the photos are denoised."""
    from sassid.denoise import denoise_files
    from sassid.io import ImageError
    from sassid.report import ReportBuilder

    model = write_tiny_model(tmp_path / "m.pt")
    report = tmp_path / "reports" / "new" / "r.html"
    ReportBuilder(model, report)  # as `denoise --report` makes it, before denoise_files
    with pytest.raises(ImageError, match="typo.png: no such file or folder"):
        denoise_files([tmp_path / "typo.png"], tmp_path / "o.png", model, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
    (tmp_path / "file").write_bytes(b"x")
    photo = write_noisy_images(tmp_path / "in", count=1)
    argv = ["denoise", str(photo), "-o", str(tmp_path / "out"), "-m", str(model), "-q"]
    assert main([*argv, "--report", str(tmp_path / "file" / "r.html")]) == 2
    assert "file is not a folder" in capsys.readouterr().err and not (tmp_path / "out").exists()
    assert main([*argv, "--report", str(report)]) == 0
    assert report.is_file()
