"""Output safety: atomic writes keep permissions and leave no temp files, a size limit or a
full disk never leaves a short file counted as written, killed runs' temp files are cleaned,
plans that would overwrite an input or write one name twice are refused, run dirs lock."""

from __future__ import annotations

import os
import resource
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sassid.atomic import (
    TEMP_SUFFIX,
    atomic_path,
    atomic_write_bytes,
    clean_stale_temps,
    to_json,
)
from sassid.errors import OutputError, TrainingError
from sassid.io import read_image, write_image
from sassid.outputs import check_output_file, check_plan, ensure_folder, run_lock


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_gets_umask_mode_and_overwrite_keeps_mode(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.bin", b"1")
        assert _mode(tmp_path / "a.bin") == 0o644
        os.chmod(tmp_path / "a.bin", 0o640)
        atomic_write_bytes(tmp_path / "a.bin", b"22")
        assert _mode(tmp_path / "a.bin") == 0o640
        assert (tmp_path / "a.bin").read_bytes() == b"22"
    finally:
        os.umask(old)


def test_exception_leaves_old_file_and_no_temp(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.png") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert os.listdir(tmp_path) == ["a.png"] and (tmp_path / "a.png").read_bytes() == b"old"


def test_file_size_limit_is_an_error_not_a_short_file(tmp_path: Path) -> None:
    """A JPEG larger than RLIMIT_FSIZE: Pillow used to write it short and report success."""
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, hard))
    try:
        with pytest.raises(OutputError, match=r"x\.jpg: cannot write \(File too large\)"):
            write_image(tmp_path / "x.jpg", pixels)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert os.listdir(tmp_path) == []


def test_missing_or_file_parent_names_the_output(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"b\.png: cannot write \(no folder"):
        write_image(tmp_path / "none" / "b.png", np.zeros((2, 2, 3), np.uint8))
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(OutputError, match="f: exists and is not a folder"):
        ensure_folder(tmp_path / "f")
    with pytest.raises(OutputError, match="is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(OutputError, match="no folder"):
        check_output_file(tmp_path / "missing" / "x.csv")


def test_stale_temps_of_dead_processes_only(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f".model.pt.{dead.stdout.strip()}.abc123{TEMP_SUFFIX}"
    live = tmp_path / f".model.pt.{os.getpid()}.def456{TEMP_SUFFIX}"
    foreign = tmp_path / ".notes.txt.tmp"
    for path in (stale, live, foreign):
        path.write_bytes(b"x")
    assert clean_stale_temps(tmp_path) == [stale]
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, foreign.name])


def test_plan_refuses_overwriting_inputs_and_collisions(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "a.jpg"
    for path in (a, b):
        path.write_bytes(b"x")
    with pytest.raises(OutputError, match="is the input"):
        check_plan([(a, a)])
    (tmp_path / "link.png").symlink_to(a)
    with pytest.raises(OutputError, match="is the input"):
        check_plan([(a, tmp_path / "link.png")])
    out = tmp_path / "out" / "a.png"
    with pytest.raises(OutputError, match=r"both .*a\.png and .*a\.jpg would be written"):
        check_plan([(a, out), (b, out)])
    with pytest.raises(
        OutputError, match=r"link\.png: named twice as an input \(also as .*a\.png\)"
    ):  # or by a link
        check_plan([(a, out), (tmp_path / "link.png", out)])
    with pytest.raises(OutputError, match="is the input folder"):
        check_plan([(b, tmp_path / "b.png")], [tmp_path])
    with pytest.raises(OutputError, match=r"A\.png and .*a\.png, one file on a case-insensitive"):
        check_plan([(a, out.with_name("A.png")), (b, out)])
    check_plan([(a, out)], [tmp_path])


def test_denoise_plan_is_refused_before_any_folder_is_made(tmp_path: Path) -> None:
    """A mistyped input, an image name for a folder's output, or an input format that cannot
    be written back: refused up front, so no folder named like an image is left to block the
    corrected command."""
    from sassid.denoise import output_paths
    from sassid.io import ImageError

    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png", "c.webp"):
        (tmp_path / "in" / name).write_bytes(b"x")
    with pytest.raises(ImageError, match="typo.png: no such file or folder"):
        output_paths([tmp_path / "typo.png"], tmp_path / "out.png")
    with pytest.raises(OutputError, match="out.png: names an image, but the input is a folder"):
        output_paths([tmp_path / "in"], tmp_path / "out.png")
    with pytest.raises(OutputError, match="the input is several photos"):
        output_paths([tmp_path / "in" / "a.png", tmp_path / "in" / "b.png"], tmp_path / "o.jpg")
    webp = tmp_path / "in" / "c.webp"
    with pytest.raises(ImageError, match=r"c.webp: .webp: the output keeps the input's format"):
        output_paths([webp], tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    assert output_paths([webp], tmp_path / "c.png") == [(webp, tmp_path / "c.png")]
    # an output folder inside the input folder: its files are outputs, not inputs, next time
    (tmp_path / "in" / "out").mkdir()
    (tmp_path / "in" / "out" / "a.png").write_bytes(b"x")
    planned = output_paths([tmp_path / "in"], tmp_path / "in" / "out", overwrite=True)
    assert sorted(src.name for src, _ in planned) == ["a.png", "b.png"]
    # in a batch, a missing or unwritable file is reported in its turn and the others go on
    a, typo = tmp_path / "in" / "a.png", tmp_path / "typo"
    assert len(output_paths([a, typo, webp], tmp_path / "out")) == 3


def test_an_interrupt_just_after_the_temp_is_made_leaves_none(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Ctrl-C (or the SIGTERM handler's exception) landing between the temporary file's
    creation and the write: the temporary file is still removed."""
    import sassid.atomic as atomic

    real_close = os.close

    def interrupted(fd: int) -> None:
        real_close(fd)
        raise KeyboardInterrupt

    monkeypatch.setattr(atomic.os, "close", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(tmp_path / "a.bin", b"data")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_a_signal_in_the_held_block_is_raised_at_its_end() -> None:
    import signal

    from sassid.atomic import _signals_held

    before = signal.getsignal(signal.SIGINT)
    reached_the_end = False
    with pytest.raises(KeyboardInterrupt), _signals_held():
        signal.raise_signal(signal.SIGINT)
        reached_the_end = True
    assert reached_the_end and signal.getsignal(signal.SIGINT) is before


def test_run_lock_is_exclusive(tmp_path: Path) -> None:
    with run_lock(tmp_path):
        with pytest.raises(TrainingError, match="in use by another sassid run"), run_lock(tmp_path):
            pass
    with run_lock(tmp_path):
        pass


def test_json_is_strict() -> None:
    assert to_json({"loss": float("nan"), "x": [float("inf"), 1.5]}) == (
        '{"loss": null, "x": [null, 1.5]}'
    )


def test_written_image_is_complete(tmp_path: Path) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (20, 30, 3)).astype(np.uint8)
    for suffix in (".jpg", ".png", ".tif"):
        write_image(tmp_path / f"a{suffix}", pixels)
        assert read_image(tmp_path / f"a{suffix}").pixels.shape == pixels.shape


@pytest.mark.parametrize("command", ["denoise", "synth", "evaluate"])
def test_existing_outputs_are_refused_unless_overwrite(tmp_path: Path, capsys, command) -> None:  # noqa: ANN001
    """Photos keep their names, so an ``-o`` that already holds a photo of that name (the
    user's original, say) is refused before any work, naming it; ``--overwrite`` replaces it."""
    from sassid.cli import main
    from tests.helpers import write_noisy_images, write_tiny_model

    data = write_noisy_images(tmp_path / "in", count=2)
    model = write_tiny_model(tmp_path / "model.pt")
    out = tmp_path / "out"
    out.mkdir()
    original = out / ("img1.png" if command == "evaluate" else "img1_noisy.png")
    original.write_bytes(b"the user's own photo")
    argv = {
        "denoise": ["denoise", str(data), "-o", str(out), "-m", str(model)],
        "synth": ["synth", str(data), "-o", str(out)],
        "evaluate": ["evaluate", str(data), "-m", str(model), "--save-images", str(out)],
    }[command] + (["-q", "--device", "cpu"] if command != "synth" else [])
    code = main(argv)
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1
    assert f"{original}: exists already" in err and "--overwrite" in err
    assert original.read_bytes() == b"the user's own photo"
    assert os.listdir(out) == [original.name]  # nothing else was written either
    assert main([*argv, "--overwrite"]) == 0
    assert read_image(original).pixels.shape[:2] == (48, 64 * (3 if command == "evaluate" else 1))


def test_sidd_strips_that_exist_are_refused_unless_overwrite(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """SIDD blocks' strips are named NN_KK.png from the array's shape in the .mat header."""
    from scipy.io import savemat

    from sassid.cli import main
    from tests.helpers import write_tiny_model

    blocks = (np.random.default_rng(0).random((1, 2, 32, 32, 3)) * 255).astype(np.uint8)
    sidd = tmp_path / "sidd"
    sidd.mkdir()
    savemat(sidd / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": blocks})
    savemat(sidd / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": blocks})
    strips = tmp_path / "strips"
    strips.mkdir()
    (strips / "00_01.png").write_bytes(b"the user's file")
    model = write_tiny_model(tmp_path / "m.pt")
    argv = ["evaluate", str(sidd), "-m", str(model), "--save-images", str(strips), "-q"]
    assert main([*argv, "--device", "cpu"]) == 2
    assert "00_01.png: exists already" in capsys.readouterr().err
    assert (strips / "00_01.png").read_bytes() == b"the user's file"
    assert main([*argv, "--device", "cpu", "--overwrite"]) == 0
    assert sorted(p.name for p in strips.iterdir()) == ["00_00.png", "00_01.png"]


def test_report_targets_named_inputs_and_broken_links_are_refused_first(
    tmp_path: Path,
    capsys,  # noqa: ANN001
) -> None:
    from sassid.cli import main
    from sassid.outputs import check_creatable_file
    from tests.helpers import write_noisy_images, write_tiny_model

    model = write_tiny_model(tmp_path / "m.pt")
    photos = write_noisy_images(tmp_path / "in", count=1)
    notes = tmp_path / "notes.html"
    notes.write_bytes(b"<p>my notes</p>")
    argv = ["denoise", str(photos / "img0_noisy.png"), str(notes), "-o", str(tmp_path / "out")]
    assert main([*argv, "-m", str(model), "-q", "--report", str(notes)]) == 2
    assert "--report would replace the input" in capsys.readouterr().err
    assert notes.read_bytes() == b"<p>my notes</p>" and not (tmp_path / "out").exists()
    (tmp_path / "dl").symlink_to(tmp_path / "gone")
    with pytest.raises(OutputError, match=r"dl is a broken link"):
        check_creatable_file(tmp_path / "dl" / "x" / "r.html")
    assert check_creatable_file(Path("r.html")) == Path("r.html")  # (the working folder)


def test_an_output_that_is_a_link_is_replaced_not_its_target(tmp_path: Path) -> None:
    """``out/a.png`` linking to ``out/b.png``: a.png's write replaces the link, so the plan
    writes two files, not one twice."""
    a, b = tmp_path / "in" / "a.png", tmp_path / "in" / "b.png"
    a.parent.mkdir()
    for path in (a, b):
        path.write_bytes(b"x")
    out = tmp_path / "out"
    out.mkdir()
    (out / "b.png").write_bytes(b"old")
    (out / "a.png").symlink_to(out / "b.png")
    check_plan([(a, out / "a.png"), (b, out / "b.png")], [tmp_path / "in"])


def test_skip_existing_finishes_an_interrupted_batch(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from sassid.cli import main
    from tests.helpers import write_noisy_images, write_tiny_model

    data = write_noisy_images(tmp_path / "in", count=2)
    model = write_tiny_model(tmp_path / "model.pt")
    out = tmp_path / "out"
    argv = ["denoise", str(data), "-o", str(out), "-m", str(model), "-q", "--device", "cpu"]
    assert main(argv) == 0
    (out / "img1_noisy.png").unlink()  # as if the batch had stopped before it
    (out / "img0_noisy.png").write_bytes(b"kept as it is")
    capsys.readouterr()
    assert main([*argv, "--skip-existing"]) == 0
    assert "1 written, 3 skipped (exist already), 0 failed" in capsys.readouterr().out
    assert (out / "img0_noisy.png").read_bytes() == b"kept as it is"
    assert read_image(out / "img1_noisy.png").pixels.shape == (48, 64, 3)
    assert main([*argv, "--skip-existing"]) == 0  # nothing left: no model loaded
    assert "0 written, 4 skipped" in capsys.readouterr().out
    assert main([*argv, "--skip-existing", "--overwrite"]) == 2
    assert "--overwrite and --skip-existing: give one" in capsys.readouterr().err
