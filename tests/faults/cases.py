"""The fault cases shared by the CI tests and ``benchmarks/faults.py``: each builds its inputs
in a fresh folder, names the command line, and says what a correct run does (exit status and a
piece of the one-line message). Inputs live under ``in/``; their bytes must not change."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Path], list[str]]  # builds inputs under the folder, returns argv
    status: int = 2  # expected exit status
    expect: str = ""  # a piece of the stderr line


def photo(path: Path, size: tuple[int, int] = (24, 32), deep: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    if deep and path.suffix == ".png":
        import png

        pixels = rng.integers(0, 65536, (*size, 3)).astype(np.uint16)
        with open(path, "wb") as f:
            png.Writer(size[1], size[0], greyscale=False, bitdepth=16).write(
                f, pixels.reshape(size[0], -1).tolist()
            )
        return path
    Image.fromarray(rng.integers(0, 256, (*size, 3)).astype(np.uint8)).save(path)
    return path


def model(root: Path, nan: bool = False) -> Path:
    from tests.helpers import write_tiny_model

    path = write_tiny_model(root / "model.pt")
    if nan:
        import torch

        payload = torch.load(path, weights_only=True)
        for entry in payload["nets"].values():
            next(iter(entry["state_dict"].values())).fill_(float("nan"))
        torch.save(payload, path)
    return path


def pairs(root: Path, deep_noisy: bool = False) -> Path:
    folder = root / "in" / "pairs"
    photo(folder / "a_noisy.png", deep=deep_noisy)
    photo(folder / "a_clean.png")
    return folder


def _denoise(root: Path, *extra: str) -> list[str]:
    return ["denoise", *extra, "-m", str(model(root)), "-q", "--device", "cpu"]


def _run_dir(root: Path) -> Path:
    """A run folder as `sassid train` leaves it, without training (config.json only)."""
    import json

    from tests.helpers import tiny_config

    run = root / "in" / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(tiny_config().to_dict()))
    return run


def _noisy(root: Path) -> Path:
    from tests.helpers import write_noisy_images

    return write_noisy_images(root / "in" / "noisy", count=2)


def _toml(root: Path, text: str) -> Path:
    path = root / "in" / "c.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _train(root: Path, *extra: str) -> list[str]:
    return ["train", str(_noisy(root)), "-q", "--device", "cpu", *extra]


def _mat(root: Path, arrays: dict[str, np.ndarray]) -> Path:
    from scipy.io import savemat

    path = root / "in" / "blocks.mat"
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(path, arrays)
    return path


def _synth_iso(folder: str, value: str) -> Callable[[Path], list[str]]:
    """argv of ``synth`` on one photo at ``--iso-like value``."""

    def setup(root: Path) -> list[str]:
        image = photo(root / folder / "a.png")
        return ["synth", str(image), "-o", str(root / "out"), "--iso-like", value]

    return setup


def _file(root: Path, name: str, data: bytes) -> Path:
    path = root / "in" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


class _Foreign:
    pass


def _setup_cases() -> list[Case]:
    d = "in/photos"
    cases = [
        # --- a mistyped or unfit input, refused before any output folder is made (2026-12-08)
        Case(
            "denoise missing.png -o out.png",
            lambda r: _denoise(r, str(r / "in/missing.png"), "-o", str(r / "out.png")),
            2,
            "no such file or folder",
        ),
        Case(
            "denoise DIR -o out.png",
            lambda r: _denoise(r, str(photo(r / d / "a.png").parent), "-o", str(r / "out.png")),
            2,
            "names an image, but the input is a folder",
        ),
        Case(
            "denoise x.webp -o DIR",
            lambda r: _denoise(r, str(_webp(r / "in/x.webp")), "-o", str(r / "out")),
            2,
            "the output keeps the input's format",
        ),
        Case(
            "evaluate a_clean.png + a_clean.jpg",
            lambda r: ["evaluate", "-m", str(model(r)), str(_two_cleans(r)), "-q"],
            2,
            "two images of one name",
        ),
        # --- result files onto inputs or onto one another (found 2026-12-08)
        Case(
            "evaluate --json onto a clean image",
            lambda r: _evaluate(r, "--json", str(pairs(r) / "a_clean.png")),
            2,
            "--json would replace the input",
        ),
        Case(
            "evaluate --json onto the model",
            lambda r: _evaluate(r, "--json", str(r / "model.pt")),
            2,
            "--json would replace the input",
        ),
        Case(
            "evaluate --json X --csv X",
            lambda r: _evaluate(r, "--json", str(r / "x.out"), "--csv", str(r / "x.out")),
            2,
            "named by both --json and --csv",
        ),
        Case(
            "evaluate --json onto a --save-images strip",
            lambda r: _evaluate(
                r, "--json", str(_made(r / "s") / "a.png"), "--save-images", str(r / "s")
            ),
            2,
            "named by both --json and --save-images (a.png)",
        ),
        Case(
            "evaluate --save-images into noisy/",
            lambda r: _evaluate(r, "--save-images", str(_noisy_clean(r) / "noisy"), data="nc"),
            2,
            "--save-images (a.png) would replace the input",
        ),
        Case(
            "submit sidd onto its input",
            lambda r: _submit(r, "sidd", _sidd_input_named_like_the_output(r), r / "in"),
            2,
            "SubmitSrgb.mat would replace the input",
        ),
        Case(
            "train --steps with --minutes",
            lambda r: _train(r, "-o", str(r / "run"), "--steps", "3", "--minutes", "1"),
            2,
            "--steps and --minutes",
        ),
        # --- report and denoise --report (third campaign, 2026-12-08)
        Case(
            "report --tile -1",
            lambda r: [*_report(r, str(photo(r / d / "a.png")), out=r / "r.html"), "--tile", "-1"],
            2,
            "--tile (-1) must be >= 0",
        ),
        Case(
            "report -o an input",
            lambda r: _report(
                r, str(_file(r, "weird.html", _png_bytes())), out=r / "in/weird.html"
            ),
            2,
            "-o would replace the input",
        ),
        Case(
            "report a mistyped input over a good report",
            lambda r: _report(r, str(r / "in/photo"), out=_file(r, "good.html", b"<html>good")),
            2,
            "no such file or folder",
        ),
        Case(
            "report an empty folder",
            lambda r: _report(r, str(_made(r / "in/empty")), out=r / "r.html"),
            1,
            "no images found",
        ),
        Case(
            "denoise --report the same as -o",
            lambda r: _denoise(
                r,
                str(photo(r / d / "a.png").parent),
                "-o",
                str(r / "G.html"),
                "--report",
                str(r / "G.html"),
            ),
            2,
            "named by both -o and --report",
        ),
        # --- outputs onto inputs, two inputs onto one output (data loss)
        Case(
            "denoise DIR -o DIR",
            lambda r: _denoise(r, str(photo(r / d / "a.png").parent), "-o", str(r / d)),
            2,
            "is the input",
        ),
        Case(
            "denoise FILE -o FILE",
            lambda r: _denoise(r, str(photo(r / d / "a.png")), "-o", str(r / d / "a.png")),
            2,
            "is the input",
        ),
        Case(
            "denoise p1/x.png p2/x.png",
            lambda r: _denoise(
                r,
                str(photo(r / "in/p1/x.png")),
                str(photo(r / "in/p2/x.png")),
                "-o",
                str(r / "out"),
            ),
            2,
            "would be written there",
        ),
        Case(
            "denoise two folders with x.png",
            lambda r: _denoise(
                r,
                str(photo(r / "in/p1/x.png").parent),
                str(photo(r / "in/p2/x.png").parent),
                "-o",
                str(r / "out"),
            ),
            2,
            "would be written there",
        ),
        Case(
            "synth DIR -o DIR",
            lambda r: ["synth", str(photo(r / d / "a.png").parent), "-o", str(r / d)],
            2,
            "is the input",
        ),
        Case(
            "synth a.png a.jpg",
            lambda r: [
                "synth",
                str(photo(r / d / "a.png")),
                str(photo(r / d / "a.jpg")),
                "-o",
                str(r / "out"),
            ],
            2,
            "would be written there",
        ),
        # --- nothing to do
        Case(
            "denoise empty folder",
            lambda r: _denoise(r, str(_empty(r)), "-o", str(r / "out")),
            1,
            "no images found",
        ),
        Case(
            "denoise non-images",
            lambda r: _denoise(r, str(_file(r, "junk/a.txt", b"x").parent), "-o", str(r / "out")),
            1,
            "no images found",
        ),
        Case(
            "synth empty folder",
            lambda r: ["synth", str(_empty(r)), "-o", str(r / "out")],
            1,
            "no images found",
        ),
        # --- options
        Case(
            "denoise --tile -5 --overlap -10",
            lambda r: _denoise(
                r,
                str(photo(r / d / "a.png")),
                "-o",
                str(r / "out"),
                "--tile",
                "-5",
                "--overlap",
                "-10",
            ),
            2,
            "--tile",
        ),
        Case(
            "denoise --overlap > --tile",
            lambda r: _denoise(
                r,
                str(photo(r / d / "a.png")),
                "-o",
                str(r / "out"),
                "--tile",
                "16",
                "--overlap",
                "40",
            ),
            2,
            "larger than --overlap",
        ),
        *[
            Case(
                f"synth --iso-like {v}",
                _synth_iso(d, v),
                2,
                "--iso-like must be",
            )
            for v in ("0", "nan", "inf", "1e-30", "-100")
        ],
        Case(
            "synth --jpeg-quality 0",
            lambda r: [
                "synth",
                str(photo(r / d / "a.png")),
                "-o",
                str(r / "out"),
                "--jpeg-quality",
                "0",
            ],
            2,
            "--jpeg-quality",
        ),
        Case(
            "demo --steps with --minutes",
            lambda r: ["demo", "-o", str(r / "out"), "--steps", "2", "--minutes", "1"],
            2,
            "--steps and --minutes",
        ),
        Case("demo -o ''", lambda r: ["demo", "-o", "", "--steps", "1"], 2, "-o is empty"),
        Case(
            "demo into another demo's folder",
            lambda r: [
                "demo",
                "-o",
                str(_file(r, "demo/demo.json", b'{"iso_like": 6400, "seed": 0}').parent),
                "--iso-like",
                "1000",
                "--steps",
                "1",
            ],
            2,
            "holds a demo made with --iso-like 6400, --seed 0 (this one: --iso-like 1000",
        ),
        Case(
            "demo --iso-like -1",
            lambda r: ["demo", "-o", str(r / "out"), "--iso-like", "-1"],
            2,
            "--iso-like must be",
        ),
        # --- model files
        Case(
            "denoise NaN model",
            lambda r: [
                "denoise",
                str(photo(r / d / "a.png")),
                "-o",
                str(r / "out"),
                "-m",
                str(model(r, nan=True)),
                "-q",
            ],
            2,
            "NaN",
        ),
        Case(
            "denoise -m pickled object",
            lambda r: (
                _denoise(r, str(photo(r / d / "a.png")), "-o", str(r / "out"))[:-5]
                + ["-m", str(_file(r, "m.pt", pickle.dumps(_Foreign()))), "-q"]
            ),
            2,
            "not a sassid model file",
        ),
        Case(
            "denoise -m empty file",
            lambda r: [
                "denoise",
                str(photo(r / d / "a.png")),
                "-o",
                str(r / "out"),
                "-m",
                str(_file(r, "m.pt", b"")),
                "-q",
            ],
            2,
            "empty file",
        ),
        Case(
            "denoise -m folder without model",
            lambda r: [
                "denoise",
                str(photo(r / d / "a.png")),
                "-o",
                str(r / "out"),
                "-m",
                str(r / d),
                "-q",
            ],
            2,
            "no model.pt",
        ),
        # --- output side
        Case(
            "denoise -o under a file",
            lambda r: _denoise(
                r,
                str(photo(r / d / "a.png")),
                str(photo(r / d / "b.png")),
                "-o",
                str(_file(r, "f.txt", b"keep") / "out"),
            ),
            2,
            "f.txt",
        ),
        Case(
            "synth -o existing file",
            lambda r: ["synth", str(photo(r / d / "a.png")), "-o", str(_file(r, "f.txt", b"keep"))],
            2,
            "exists and is not a folder",
        ),
        Case(
            "demo -o existing file",
            lambda r: ["demo", "-o", str(_file(r, "f.txt", b"keep")), "--steps", "1", "-q"],
            2,
            "exists and is not a folder",
        ),
        Case(
            "submit sidd -o existing file",
            lambda r: [
                "submit",
                "sidd",
                str(_mat(r, {"BenchmarkNoisyBlocksSrgb": np.zeros((1, 1, 8, 8, 3), np.uint8)})),
                "-o",
                str(_file(r, "f.txt", b"keep")),
                "-m",
                str(model(r)),
                "-q",
            ],
            2,
            "exists and is not a folder",
        ),
        Case(
            "evaluate --json DIR",
            lambda r: [
                "evaluate",
                str(pairs(r)),
                "-m",
                str(model(r)),
                "--json",
                str(r / "in"),
                "-q",
            ],
            2,
            "is a folder",
        ),
        Case(
            "evaluate --csv /missing/dir/x.csv",
            lambda r: [
                "evaluate",
                str(pairs(r)),
                "-m",
                str(model(r)),
                "--csv",
                str(r / "missing/dir/x.csv"),
                "-q",
            ],
            2,
            "no folder",
        ),
        Case(
            "evaluate --save-images FILE",
            lambda r: [
                "evaluate",
                str(pairs(r)),
                "-m",
                str(model(r)),
                "--save-images",
                str(_file(r, "f.txt", b"keep")),
                "-q",
                "--device",
                "cpu",
            ],
            2,
            "exists and is not a folder",
        ),
        # --- benchmark files
        Case(
            "submit sidd non-HDF5 .mat",
            lambda r: _submit(
                r, "sidd", _file(r, "b.mat", b"MATLAB 7.3 MAT-file" + bytes(200)), r / "out"
            ),
            2,
            "not a readable .mat",
        ),
        Case(
            "submit sidd two arrays",
            lambda r: [
                "submit",
                "sidd",
                str(
                    _mat(
                        r,
                        {
                            "a": np.zeros((1, 1, 8, 8, 3), np.uint8),
                            "b": np.zeros((1, 1, 8, 8, 3), np.uint8),
                        },
                    )
                ),
                "-o",
                str(r / "out"),
                "-m",
                str(model(r)),
                "-q",
            ],
            2,
            "several arrays",
        ),
        Case(
            "submit sidd zero images",
            lambda r: _submit(
                r,
                "sidd",
                _mat(r, {"BenchmarkNoisyBlocksSrgb": np.zeros((0, 1, 8, 8, 3), np.uint8)}),
                r / "out",
            ),
            2,
            "no blocks",
        ),
        Case(
            "submit dnd bad info.mat",
            lambda r: _submit(r, "dnd", _file(r, "dnd/info.mat", b"junk").parent, r / "out"),
            2,
            "not a DND info.mat",
        ),
        Case(
            "submit dnd info.mat without info",
            lambda r: _submit(r, "dnd", _h5(r), r / "out"),
            2,
            "not a DND info.mat",
        ),
        # --- training configuration and run folders
        Case(
            "train --config DIR",
            lambda r: _train(r, "-o", str(r / "run"), "--config", str(r / "in")),
            2,
            "is a folder",
        ),
        Case(
            "train batch_size = 10**12",
            lambda r: _train(
                r, "-o", str(r / "run"), "--config", str(_toml(r, "batch_size = 1000000000000\n"))
            ),
            2,
            "batch_size must be between",
        ),
        Case(
            "train lr = inf",
            lambda r: _train(
                r, "-o", str(r / "run"), "--config", str(_toml(r, "[bnn]\nlr = inf\n"))
            ),
            2,
            "lr must be",
        ),
        Case(
            "train --resume broken config.json",
            lambda r: _train(r, "-o", str(_broken_config(r)), "--resume"),
            2,
            "config.json: unreadable",
        ),
        Case(
            "train --resume foreign checkpoint",
            lambda r: _train(
                r,
                "-o",
                str(_foreign_checkpoint(r)),
                "--resume",
                "--config",
                str(r / "in/run/config.json"),
            ),
            2,
            "not a sassid training checkpoint",
        ),
        Case(
            "train into a locked run folder",
            lambda r: _train(r, "-o", str(_locked(r))),
            2,
            "in use by another sassid run",
        ),
    ]
    return cases


def _report(root: Path, *inputs: str, out: Path) -> list[str]:
    argv = ["report", *inputs, "-o", str(out), "-m", str(model(root)), "-q", "--device", "cpu"]
    return [*argv, "--max-side", "64", "--no-teachers"]


def _png_bytes() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", (32, 24)).save(buffer, format="PNG")
    return buffer.getvalue()


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _submit(root: Path, kind: str, source: Path, output: Path) -> list[str]:
    return ["submit", kind, str(source), "-o", str(output), "-m", str(model(root)), "-q"]


def _evaluate(root: Path, *extra: str, data: str = "pairs") -> list[str]:
    folder = pairs(root) if data == "pairs" else root / "in" / data
    return ["evaluate", "-m", str(model(root)), str(folder), "-q", "--device", "cpu", *extra]


def _noisy_clean(root: Path) -> Path:
    """A ``noisy/`` + ``clean/`` pairs folder, ``in/nc``."""
    folder = root / "in" / "nc"
    photo(folder / "noisy" / "a.png")
    photo(folder / "clean" / "a.png")
    return folder


def _sidd_input_named_like_the_output(root: Path) -> Path:
    """SIDD benchmark blocks in a file called SubmitSrgb.mat, in the output folder."""
    blocks = np.random.default_rng(0).integers(0, 256, (1, 2, 32, 32, 3)).astype(np.uint8)
    path = _mat(root, {"BenchmarkNoisyBlocksSrgb": blocks})
    return path.rename(path.with_name("SubmitSrgb.mat"))


def _two_cleans(root: Path) -> Path:
    """A pairs folder whose clean partner exists as .png and .jpg: which one is meant?"""
    folder = pairs(root)
    photo(folder / "a_clean.jpg")
    return folder


def _webp(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24)).save(path, format="WEBP")
    return path


def _empty(root: Path) -> Path:
    (root / "in" / "empty").mkdir(parents=True)
    return root / "in" / "empty"


def _broken_config(root: Path) -> Path:
    run = _run_dir(root)
    (run / "config.json").write_text('{"batch_size": ')
    return run


def _foreign_checkpoint(root: Path) -> Path:
    import torch

    run = _run_dir(root)
    torch.save({"format": "sassid-model/1", "nets": {}}, run / "checkpoints" / "bnn.pt")
    return run


_LOCKS: list[int] = []


def _locked(root: Path) -> Path:
    """A run folder whose lock another open file description holds (as a running train would)."""
    import fcntl
    import os

    run = root / "run"
    run.mkdir(parents=True)
    fd = os.open(run / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _LOCKS.append(fd)
    return run


def release_locks() -> None:
    import os

    while _LOCKS:
        os.close(_LOCKS.pop())


def _h5(root: Path) -> Path:
    import h5py

    folder = root / "in" / "dnd"
    folder.mkdir(parents=True)
    with h5py.File(folder / "info.mat", "w") as f:
        f["other"] = np.zeros(3)
    return folder


CASES = _setup_cases()
