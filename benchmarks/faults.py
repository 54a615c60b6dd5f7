"""Fault campaign: run sassid as a user would, as a careless one and as an unlucky one, and
count what goes wrong. Every case is a subprocess (``python -m sassid ...``); its outcome is
classified from what it did, never assumed:

- traceback: "Traceback" in stderr;
- unclear: not exactly one ``sassid: error:`` line holding the expected words (or, for a
  signal, the expected exit status and line), or torch's ``weights_only`` advice in stderr;
- false success: exit 0 where the case must fail;
- data lost: an input file's bytes changed, an output reported written is missing or does not
  read back complete, a model/checkpoint file present does not load, a run's config.json
  disagrees with its model.pt, or a resumed run does not finish.

Quick cases come from ``tests/faults/cases.py`` (the CI suite runs them in-process); the slow
ones are here: SIGKILL and SIGTERM timed to land while a file is being saved (the script
watches for sassid's temporary file and signals then), SIGINT, a file-size limit (``ulimit -f``,
as a full disk), and two trainings started at once into one run folder. Then the features
newer than those (``Feature``): time budgets and resuming inside one, the BNN's width rule and
``[bnn]``/``[unet] init``, backends and precisions with int8 calibration, ``sassid export``,
batches with a cut file or an output folder that cannot be written.

    python benchmarks/faults.py            # writes results/faults.md and results/faults.json
    python benchmarks/faults.py --features-only --name faults_features   # the newer ones only
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from benchmarks.common import provenance, write_results  # noqa: E402
from tests.faults.cases import CASES, model, photo, release_locks  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
TEMP = ".sassid.tmp"
TINY_TOML = """batch_size = 2
patch_size = 32
log_every = 1
checkpoint_every = 1
val_every = 100
[bnn]
steps = {steps}
enc_channels = 8
dec_channels = 16
[lan]
steps = {steps}
width = 16
[unet]
steps = {steps}
enc_channels = 8
dec_channels = 16
"""


@dataclass
class Outcome:
    name: str
    kind: str
    status: int | None
    expected: str
    traceback: bool = False
    unclear: bool = False
    false_success: bool = False
    data_lost: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def sassid(*argv: str) -> list[str]:
    return [sys.executable, "-m", "sassid", *argv]


def snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(f"*{TEMP}")] if folder.exists() else []


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("sassid: error:")]


def outputs_complete(folder: Path) -> tuple[int, list[str]]:
    """Number of files under ``folder`` that read back complete, and those that do not."""
    from sassid.checkpoint import load_file
    from sassid.errors import SassidError
    from sassid.io import IMAGE_SUFFIXES, read_image

    good, bad = 0, []
    for path in sorted(folder.rglob("*")) if folder.exists() else []:
        if not path.is_file() or path.name.endswith(TEMP) or path.name == ".lock":
            continue
        try:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                with open(path, "rb"):
                    pass
                from PIL import Image

                read_image(path)
                with Image.open(path) as im:  # Pillow reads truncated data strictly here
                    im.load()
            elif path.suffix == ".pt":
                load_file(path)
            elif path.suffix in (".json", ".jsonl"):
                for line in (
                    [path.read_text()] if path.suffix == ".json" else path.read_text().splitlines()
                ):
                    json.loads(line)
            good += 1
        except (SassidError, OSError, ValueError) as exc:
            bad.append(f"{path.name}: {exc}")
    return good, bad


def classify(out: Outcome, proc: subprocess.CompletedProcess[str], expect: str) -> None:
    """Traceback, unclear message and false success for a case that must fail with ``expect``."""
    out.status = proc.returncode
    out.traceback = "Traceback" in proc.stderr
    lines = error_lines(proc.stderr)
    out.false_success = proc.returncode == 0
    out.unclear = len(lines) != 1 or expect not in lines[0] or "weights_only" in proc.stderr
    if out.unclear:
        out.notes.append(f"stderr: {proc.stderr.strip()[-300:]!r}")


# ---------------------------------------------------------------- quick cases (tests/faults)


def _close(out: Outcome, root: Path, start: float, before: dict[str, str] | None = None) -> Outcome:
    """End a case: an input folder that differs from its ``before`` snapshot is data lost;
    record the case's seconds and remove its scratch folder."""
    if before is not None and snapshot(root / "in") != before:
        out.data_lost = True
        out.notes.append("an input changed")
    out.seconds = time.perf_counter() - start
    shutil.rmtree(root, ignore_errors=True)
    return out


def quick_cases(work: Path) -> list[Outcome]:
    results = []
    for case in CASES:
        root = Path(tempfile.mkdtemp(dir=work))
        start = time.perf_counter()
        argv = case.setup(root)
        before = snapshot(root / "in")
        try:
            proc = subprocess.run(
                sassid(*argv), capture_output=True, text=True, env=ENV, timeout=600
            )
        finally:
            release_locks()
        out = Outcome(case.name, "bad input", None, f"exit {case.status}: {case.expect}")
        classify(out, proc, case.expect)
        out.unclear = out.unclear or proc.returncode != case.status
        results.append(_close(out, root, start, before))
    return results


# ---------------------------------------------------------------- slow cases


def _photos(root: Path, count: int, size: int) -> Path:
    for i in range(count):
        photo(root / "in" / "photos" / f"p{i:02d}.png", (size, size))
    return root / "in" / "photos"


def _default_signals() -> None:
    """Default SIGINT in the child: a shell's background job (``cmd &``) starts with SIGINT
    ignored, and Python keeps an ignored SIGINT ignored, so Ctrl-C would not reach sassid."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _signal_when_saving(
    argv: list[str], watch: Path, signum: int, after: int = 0, timeout: float = 300
) -> tuple[subprocess.Popen[str], bool, float]:
    """Start ``argv``; send ``signum`` as soon as a sassid temporary file appears in ``watch``
    (a save in progress), the first ``after`` saves seen let through. Returns the process,
    whether the signal landed during a save, and the seconds waited."""
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        preexec_fn=_default_signals,
    )
    start = time.perf_counter()
    landed, seen = False, set[str]()
    while proc.poll() is None and time.perf_counter() - start < timeout:
        try:
            seen.update(e.name for e in os.scandir(watch) if e.name.endswith(TEMP))
        except OSError:
            pass
        if len(seen) > after:
            proc.send_signal(signum)
            landed = True
            break
        time.sleep(0.0005)
    if not landed and proc.poll() is None:
        proc.send_signal(signum)
    return proc, landed, time.perf_counter() - start


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    stdout, stderr = proc.communicate(timeout=600)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def kill_denoise(work: Path, signum: int) -> Outcome:
    """A signal while denoise saves an output; then the same command again, with
    ``--overwrite`` (outputs it finished before the signal are there: without it, the rerun
    is refused, and the refusal says to pass it)."""
    name = signal.Signals(signum).name
    root = Path(tempfile.mkdtemp(dir=work))
    photos = _photos(root, 12, 96)
    m = model(root)
    before = snapshot(root / "in")
    argv = sassid("denoise", str(photos), "-o", str(root / "out"), "-m", str(m), "-q")
    start = time.perf_counter()
    proc, landed, _ = _signal_when_saving(argv, root / "out", signum)
    first = _finish(proc)
    expected = {signal.SIGKILL: -9, signal.SIGTERM: 143, signal.SIGINT: 130}[signal.Signals(signum)]
    out = Outcome(f"{name} while denoise saves", "signal", first.returncode, f"exit {expected}")
    out.notes.append(f"signal landed during a save: {landed}")
    out.traceback = "Traceback" in first.stderr
    out.unclear = first.returncode != expected or (
        signum != signal.SIGKILL
        and not any(w in first.stderr for w in ("sassid: terminated", "sassid: interrupted"))
    )
    good, bad = outputs_complete(root / "out")
    left = temps(root / "out")
    if signum != signal.SIGKILL and left:
        out.data_lost = True
        out.notes.append(f"temporary files left after {name}: {len(left)}")
    again = subprocess.run(
        [*argv, "--overwrite"], capture_output=True, text=True, env=ENV, timeout=600
    )
    good, bad2 = outputs_complete(root / "out")
    out.traceback = out.traceback or "Traceback" in again.stderr
    if bad or bad2 or again.returncode != 0 or good != 12 or temps(root / "out"):
        out.data_lost = True
        out.notes.append(f"rerun: exit {again.returncode}, {good}/12 complete, bad {bad + bad2}")
    else:
        out.notes.append(f"rerun: exit 0, 12/12 complete, {len(left)} leftover temp(s) cleaned")
    return _close(out, root, start, before)


def _train_argv(root: Path, run: Path, steps: int = 6, *extra: str) -> list[str]:
    noisy = _photos(root, 2, 48)
    toml = root / "tiny.toml"
    toml.write_text(TINY_TOML.format(steps=steps))
    return sassid("train", str(noisy), "-o", str(run), "--config", str(toml), "-q", *extra)


def _run_consistent(run: Path, out: Outcome) -> None:
    """model.pt loads and holds the configuration config.json states; metrics.jsonl is strict
    JSON without duplicate lines."""
    import torch

    try:
        payload = torch.load(run / "model.pt", weights_only=True)
        config = json.loads((run / "config.json").read_text())
        if payload["config"] != config:
            out.data_lost = True
            out.notes.append("config.json disagrees with model.pt")
        lines = (run / "metrics.jsonl").read_text().splitlines()
        records = [json.loads(line, parse_constant=lambda c: 1 / 0) for line in lines]
        keys = [json.dumps(r, sort_keys=True) for r in records if "loss" in r]
        stage_steps = [(r["stage"], r["step"]) for r in records if "loss" in r]
        if len(set(stage_steps)) != len(stage_steps):
            out.data_lost = True
            out.notes.append(f"metrics.jsonl: {len(keys) - len(set(stage_steps))} duplicate lines")
    except Exception as exc:  # noqa: BLE001 - any failure to read the run back is a loss
        out.data_lost = True
        out.notes.append(f"run folder does not read back: {type(exc).__name__}: {exc}")


def kill_train(work: Path, signum: int, after: int = 0) -> Outcome:
    """A signal while train saves a checkpoint (after ``after`` saves); then --resume must
    finish the run."""
    name = signal.Signals(signum).name
    root = Path(tempfile.mkdtemp(dir=work))
    run = root / "run"
    argv = _train_argv(root, run)
    start = time.perf_counter()
    proc, landed, _ = _signal_when_saving(argv, run / "checkpoints", signum, after)
    first = _finish(proc)
    expected = {signal.SIGKILL: -9, signal.SIGTERM: 143, signal.SIGINT: 130}[signal.Signals(signum)]
    label = f"{name} while train saves" + (f" (after {after} saves)" if after else "")
    out = Outcome(label, "signal", first.returncode, f"exit {expected}")
    out.notes.append(f"signal landed during a save: {landed}")
    out.traceback = "Traceback" in first.stderr
    out.unclear = first.returncode != expected
    _, bad = outputs_complete(run)
    left = temps(run)
    if bad or (signum != signal.SIGKILL and left):
        out.data_lost = True
        out.notes.append(f"after the signal: unreadable {bad}, {len(left)} temp file(s)")
    resumed = subprocess.run([*argv, "--resume"], capture_output=True, text=True, env=ENV)
    out.traceback = out.traceback or "Traceback" in resumed.stderr
    if resumed.returncode != 0 or temps(run):
        out.data_lost = True
        out.notes.append(
            f"resume: exit {resumed.returncode}, {len(temps(run))} temp(s) left, "
            f"stderr {resumed.stderr.strip()[-200:]!r}"
        )
    else:
        out.notes.append(f"resume: exit 0, {len(left)} leftover temp(s) cleaned")
        _run_consistent(run, out)
    return _close(out, root, start)


def size_limit(work: Path, label: str, kb: int, make: Callable[[Path], list[str]]) -> Outcome:
    """The command under ``ulimit -f kb``: it must fail in one line, and every output it
    reports written must read back complete (a cut file must not exist under its name)."""
    root = Path(tempfile.mkdtemp(dir=work))
    argv = make(root)
    before = snapshot(root / "in")
    start = time.perf_counter()
    shell = f"ulimit -f {kb}; exec " + " ".join(f"'{a}'" for a in argv)
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=ENV)
    out = Outcome(f"{label} with a {kb} KB file-size limit", "full disk", None, "cannot write")
    if label.startswith(("denoise", "synth")):  # a batch: one line per failed file
        out.status = proc.returncode
        out.traceback = "Traceback" in proc.stderr
        out.false_success = proc.returncode == 0
        # warnings (a doubtful output, sassid.reliability) may stand between the error lines
        lines = [x for x in proc.stderr.splitlines() if not x.startswith("sassid: warning:")]
        out.unclear = not lines or not all(
            line.startswith("sassid: error:") and "cannot write (File too large)" in line
            for line in lines
        )
        if out.unclear:
            out.notes.append(f"stderr: {proc.stderr.strip()[-300:]!r}")
    else:
        classify(out, proc, "cannot write (File too large)")
    good, bad = outputs_complete(root / "out")
    reported = 0
    for line in proc.stdout.splitlines():
        if " written, " in line:
            reported = int(line.split()[0])
    if bad or good < reported or temps(root):
        out.data_lost = True
        out.notes.append(f"reported {reported} written, {good} complete, bad {bad}")
    else:
        out.notes.append(f"reported {reported} written, {good} complete files, no cut file")
    return _close(out, root, start, before)


def concurrent_train(work: Path) -> Outcome:
    """Two trainings started together into one run folder, seeds 1 and 2."""
    root = Path(tempfile.mkdtemp(dir=work))
    run = root / "run"
    argv = _train_argv(root, run, steps=4)
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*argv, "--seed", str(s)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        for s in (1, 2)
    ]
    done = [_finish(p) for p in procs]
    codes = sorted(d.returncode for d in done)
    out = Outcome("two trainings into one run folder", "concurrency", None, "one runs, one fails")
    out.status = codes[-1]
    out.traceback = any("Traceback" in d.stderr for d in done)
    loser = [d for d in done if d.returncode != 0]
    out.false_success = codes == [0, 0]
    out.unclear = (
        len(loser) != 1
        or not any("in use by another sassid run" in line for line in error_lines(loser[0].stderr))
        if loser
        else True
    )
    out.notes.append(f"exit statuses {codes}")
    _run_consistent(run, out)
    return _close(out, root, start)


def slow_cases(work: Path) -> list[Outcome]:
    def denoise_batch(root: Path) -> list[str]:
        photos = _photos(root, 3, 128)  # ~49 KB each as PNG: over the limit
        for i in range(2):
            photo(photos / f"small{i}.png", (16, 16))  # ~1 KB: under it
        return sassid("denoise", str(photos), "-o", str(root / "out"), "-m", str(model(root)), "-q")

    def denoise_to(suffix: str) -> Callable[[Path], list[str]]:
        def make(root: Path) -> list[str]:
            photos = _photos(root, 1, 128)
            target = root / "out" / f"p00{suffix}"
            return sassid(
                "denoise", str(photos / "p00.png"), "-o", str(target), "-m", str(model(root)), "-q"
            )

        return make

    def synth(root: Path) -> list[str]:
        return sassid(
            "synth", str(_photos(root, 3, 128)), "-o", str(root / "out"), "--jpeg-quality", "95"
        )

    def train(root: Path) -> list[str]:
        return _train_argv(root, root / "out")

    results = [kill_denoise(work, s) for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)]
    results += [kill_train(work, s) for s in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)]
    results.append(kill_train(work, signal.SIGKILL, after=8))  # in stage 2
    results += [
        size_limit(work, "denoise 3 large + 2 small PNGs", 16, denoise_batch),
        size_limit(work, "denoise to JPEG", 16, denoise_to(".jpg")),
        size_limit(work, "denoise to TIFF", 16, denoise_to(".tif")),
        size_limit(work, "synth to JPEG", 16, synth),
        size_limit(work, "train", 64, train),
    ]
    results.append(concurrent_train(work))
    return results


# ---------------------------------------------------------------- newer features


ERROR_LINE = re.compile(r"^sassid(?: [a-z]+)?: error:")
"""sassid's one-line error, or argparse's (``sassid train: error: argument ...``)."""


@dataclass(frozen=True)
class Feature:
    """A case of a feature newer than tests/faults (time budgets, resume inside a budget, the
    BNN width rule and ``init``, backends and precisions, export). ``setup`` builds the inputs
    under the case's folder (those under ``in/`` must keep their bytes) and returns sassid's
    arguments. A correct run exits ``status`` with ``lines`` error lines (a batch writes one
    per failed file), each holding every piece of ``expect``; ``check`` then looks at the
    files. ``unprivileged``: read-only folders are read-only, for root too."""

    name: str
    kind: str
    setup: Callable[[Path], list[str]]
    status: int = 2
    expect: tuple[str, ...] = ()
    lines: int = 1
    check: Callable[[Path, subprocess.CompletedProcess[str], Outcome], None] | None = None
    unprivileged: bool = False


def _without_override(argv: list[str]) -> list[str]:
    """``argv`` run so that a folder's permission bits hold: root (which writes anywhere)
    without the capabilities that override them; anyone else as is."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return argv
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--", *argv]


def feature_case(work: Path, case: Feature) -> Outcome:
    root = Path(tempfile.mkdtemp(dir=work))
    start = time.perf_counter()
    argv = case.setup(root)
    before = snapshot(root / "in")
    command = sassid(*argv)
    proc = subprocess.run(
        _without_override(command) if case.unprivileged else command,
        capture_output=True,
        text=True,
        env=ENV,
        timeout=900,
    )
    expected = f"exit {case.status}" + (f": {' + '.join(case.expect)}" if case.expect else "")
    out = Outcome(case.name, case.kind, proc.returncode, expected)
    out.traceback = "Traceback" in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if ERROR_LINE.match(line)]
    out.false_success = proc.returncode == 0 and case.status != 0
    out.unclear = (
        proc.returncode != case.status
        or len(lines) != (case.lines if case.status else 0)
        or not all(piece in line for line in lines for piece in case.expect)
        or "weights_only" in proc.stderr
    )
    if out.unclear or out.traceback:
        out.notes.append(f"stderr: {proc.stderr.strip()[-300:]!r}")
    if case.check is not None:
        case.check(root, proc, out)
    return _close(out, root, start, before)


class Fixtures:
    """Tiny runs trained once (plain, and under ``--minutes``) and copied into the cases that
    resume them, with their photos and configuration."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.roots: dict[str, Path] = {}

    def _trained(self, minutes: str) -> Path:
        if minutes not in self.roots:
            root = self.work / f"fixture-{len(self.roots)}"
            extra = ["--minutes", minutes] if minutes else []
            argv = _train_argv(root, root / "run", 2, *extra)
            subprocess.run(argv, capture_output=True, text=True, env=ENV, check=True, timeout=900)
            self.roots[minutes] = root
        return self.roots[minutes]

    def resume(self, root: Path, minutes: str = "", where: str = "in") -> tuple[Path, list[str]]:
        """A copy of the run in ``root/where/run`` (``in``: it must keep its bytes) and the
        arguments that resume it."""
        source = self._trained(minutes)
        shutil.copytree(source / "in" / "photos", root / "in" / "photos")
        shutil.copy(source / "tiny.toml", root / "in" / "tiny.toml")
        run = root / where / "run"
        shutil.copytree(source / "run", run, ignore=shutil.ignore_patterns(".lock"))
        argv = ["train", str(root / "in" / "photos"), "-o", str(run), "-q", "--resume"]
        argv += ["--config", str(root / "in" / "tiny.toml")]
        return run, argv + (["--minutes", minutes] if minutes else [])


def _cut(path: Path) -> Path:
    """``path`` cut to half its bytes (a copy interrupted, a full disk)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _models(path: Path, **widths: tuple[int, int]) -> Path:
    """A model file of narrow random networks; ``widths``: other (enc, dec) channels of the
    ``bnn`` or ``unet``."""
    import torch

    from sassid.models import save_model
    from sassid.nets.registry import build_net

    kwargs: dict[str, dict[str, Any]] = {
        "bnn": {"blind_size": 9, "enc_channels": 8, "dec_channels": 16},
        "lan": {"receptive_field": 3, "width": 16},
        "unet": {"enc_channels": 8, "dec_channels": 16},
    }
    for role, (enc, dec) in widths.items():
        kwargs[role].update(enc_channels=enc, dec_channels=dec)
    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_model(path, {n: build_net(n, kw) for n, kw in kwargs.items()}, kwargs)
    return path


def _train_with(root: Path, toml: str, *extra: str) -> list[str]:
    """Train on two tiny photos into ``root/run`` with ``toml`` (written to ``in/c.toml``)."""
    photos = _photos(root, 2, 48)
    config = root / "in" / "c.toml"
    config.write_text(toml)
    return ["train", str(photos), "-o", str(root / "run"), "--config", str(config), "-q", *extra]


def _tiny(top: str = "", **sections: str) -> str:
    """TINY_TOML at 2 steps a stage, ``top`` lines first and ``sections`` lines added to its
    ``[bnn]``/``[lan]``/``[unet]``."""
    text = top + TINY_TOML.format(steps=2)
    for name, lines in sections.items():
        text = text.replace(f"[{name}]\n", f"[{name}]\n{lines}")
    return text


def _toml_path(path: Path) -> str:
    return json.dumps(str(path))  # a TOML basic string


def _denoise_argv(root: Path, *extra: str, photos: Path | None = None) -> list[str]:
    """Denoise two photos (or ``photos``) with a tiny model into ``root/out``, quietly."""
    photos = photos or _photos(root, 2, 64)
    argv = ["denoise", str(photos), "-o", str(root / "out"), "-m", str(model(root)), "-q"]
    return [*argv, "--device", "cpu", "--no-check", *extra]


def _no_model(root: Path, proc: subprocess.CompletedProcess[str], out: Outcome) -> None:
    """A failed training: no model.pt, every file it left reads back; notes what it left."""
    run = root / "run"
    if proc.returncode != 0 and (run / "model.pt").exists():
        out.data_lost = True
        out.notes.append("a failed training left model.pt")
    _, bad = outputs_complete(run)
    if bad:
        out.data_lost = True
        out.notes.append(f"unreadable: {bad}")
    left = sorted(str(p.relative_to(root)) for p in run.rglob("*")) if run.exists() else []
    out.notes.append(f"left: {', '.join(left) or 'nothing'}")


def _written(
    count: int, absent: str = ""
) -> Callable[[Path, subprocess.CompletedProcess[str], Outcome], None]:
    """``count`` outputs under ``out/`` read back complete (and none is named ``absent``)."""

    def check(root: Path, proc: subprocess.CompletedProcess[str], out: Outcome) -> None:
        good, bad = outputs_complete(root / "out")
        stray = [p.name for p in (root / "out").rglob(absent)] if absent else []
        if good != count or bad or stray or temps(root / "out"):
            out.data_lost = True
        out.notes.append(
            f"{good}/{count} outputs complete, unreadable {bad}, written for the bad file {stray}"
        )

    return check


def _blind_size_kept(root: Path, proc: subprocess.CompletedProcess[str], out: Outcome) -> None:
    """The reused BNN runs at the blind size its weights were trained at (9), or training
    refused; not a silently different network."""
    import torch

    path = root / "run" / "model.pt"
    if proc.returncode != 0 or not path.exists():
        return
    size = torch.load(path, weights_only=True)["nets"]["bnn"]["kwargs"]["blind_size"]
    if size != 9:
        out.false_success = True
    out.notes.append(f"model.pt's BNN: blind size {size}; its init weights: 9")


def feature_cases(work: Path) -> list[Outcome]:
    fixtures = Fixtures(work)

    def resume_cut(root: Path) -> list[str]:
        run, argv = fixtures.resume(root)
        _cut(run / "checkpoints" / "lan.pt")
        return argv

    def resume_config(bnn: object) -> Callable[[Path], list[str]]:
        def setup(root: Path) -> list[str]:
            run, argv = fixtures.resume(root)
            config = json.loads((run / "config.json").read_text())
            if isinstance(bnn, dict):
                config["bnn"].update(bnn)
            else:
                config["bnn"] = bnn
            (run / "config.json").write_text(json.dumps(config))
            return [*argv, "--blind-size", "auto"]

        return setup

    def resume_budget_cut(root: Path) -> list[str]:
        run, argv = fixtures.resume(root, "0.1")
        _cut(run / "budget.json")
        return argv

    def resume_other_minutes(root: Path) -> list[str]:
        _, argv = fixtures.resume(root, "0.1")
        return [*argv[:-1], "0.2"]

    def resume_budget_without_minutes(root: Path) -> list[str]:
        run, argv = fixtures.resume(root, "0.1", ".")  # as if killed once the BNN had finished
        for name in ("checkpoints/lan.pt", "checkpoints/unet.pt", "model.pt", "reliability.json"):
            (run / name).unlink()
        return argv[:-2]

    def not_a_run(root: Path) -> list[str]:
        folder = root / "in" / "notes"
        folder.mkdir(parents=True)
        (folder / "notes.txt").write_text("keep")
        return ["train", str(_photos(root, 2, 48)), "-o", str(folder), "-q", "--resume"]

    def init(laptop: bool = False, **sections: str) -> Callable[[Path], list[str]]:
        """Train with lines added to TINY_TOML's sections (``{in}``: the inputs folder, which
        holds model files: tiny.pt, bad.pt (cut), wide_bnn.pt and wide_unet.pt (16/32))."""

        def setup(root: Path) -> list[str]:
            where = root / "in"
            _models(where / "tiny.pt")
            _cut(_models(where / "bad.pt"))
            _models(where / "wide_bnn.pt", bnn=(16, 32))
            _models(where / "wide_unet.pt", unet=(16, 32))
            folder = _toml_path(where)[1:-1]
            lines = {k: v.replace("{in}", folder) for k, v in sections.items()}
            top = 'preset = "laptop"\ncache_teachers = false\n' if laptop else ""
            return _train_with(root, _tiny(top=top, **lines))

        return setup

    def calibrate(kind: str) -> Callable[[Path], list[str]]:
        def setup(root: Path) -> list[str]:
            folder = root / "in" / "shots"
            folder.mkdir(parents=True)
            if kind == "unreadable":
                (folder / "a.png").write_text("not a PNG")
                _cut(photo(folder / "b.png", (64, 64)))
            return _denoise_argv(root, "--precision", "int8", "--calibrate", str(folder))

        return setup

    def nan_gate(root: Path) -> list[str]:
        import torch

        argv = _denoise_argv(root)
        payload = torch.load(root / "model.pt", weights_only=True)
        payload["config"] = {"noise_gate": float("nan")}
        torch.save(payload, root / "model.pt")
        return argv

    def batch(suffix: str) -> Callable[[Path], list[str]]:
        def setup(root: Path) -> list[str]:
            photos = _photos(root, 2, 64)
            if suffix == ".tif":
                import numpy as np
                import tifffile

                rng = np.random.default_rng(0)
                for name in ("t00.tif", "t01.tif"):
                    pixels = rng.integers(0, 65536, (64, 64, 3)).astype(np.uint16)
                    tifffile.imwrite(photos / name, pixels, photometric="rgb")
                _cut(photos / "t01.tif")
            else:
                _cut(photo(photos / "p01.png", (64, 64)))
            return _denoise_argv(root, photos=photos)

        return setup

    def read_only_subfolder(root: Path) -> list[str]:
        photos = _photos(root, 2, 64)
        for i in range(2):
            photo(photos / "sub" / f"s{i}.png", (64, 64))
        (root / "out" / "sub").mkdir(parents=True)
        (root / "out" / "sub").chmod(0o555)
        return _denoise_argv(root, photos=photos)

    def into_originals(command: str) -> Callable[[Path], list[str]]:
        """``-o`` names a folder (under ``in/``, so it must keep its bytes) that already holds
        a photo named like an output: the originals, say."""

        def setup(root: Path) -> list[str]:
            photos = _photos(root, 2, 64)
            originals = root / "in" / "originals"
            photo(originals / "p00.png", (32, 32))
            if command == "synth":
                return ["synth", str(photos), "-o", str(originals)]
            argv = _denoise_argv(root, photos=photos)
            argv[argv.index("-o") + 1] = str(originals)
            return argv

        return setup

    def turned_tiff_with_a_broken_tag(root: Path) -> list[str]:
        """A TIFF stored turned (Orientation 6) with a private tag whose value lies past the
        end of the file: the photo is denoised and its output still says how to show it."""
        import struct

        import numpy as np
        import tifffile

        photos = root / "in" / "photos"
        photos.mkdir(parents=True)
        pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3)).astype(np.uint8)
        tags = [(274, 3, 1, 6, True), (50000, 7, 16, b"y" * 16, True)]
        tifffile.imwrite(photos / "t.tif", pixels, photometric="rgb", extratags=tags)
        data = bytearray((photos / "t.tif").read_bytes())
        struct.pack_into("<I", data, data.find(struct.pack("<HHI", 50000, 7, 16)) + 8, 10**6)
        (photos / "t.tif").write_bytes(bytes(data))
        return _denoise_argv(root, photos=photos)

    def orientation_kept(root: Path, proc: subprocess.CompletedProcess[str], out: Outcome) -> None:
        import tifffile

        try:
            with tifffile.TiffFile(root / "out" / "t.tif") as tif:
                orientation = tif.pages[0].tags.get(274)
                value = orientation.value if orientation is not None else None
        except (OSError, ValueError) as exc:
            value = f"unreadable ({exc})"
        if value != 6:
            out.data_lost = True
        out.notes.append(f"output Orientation: {value}")

    def report_over_named_input(root: Path) -> list[str]:
        notes = root / "in" / "notes.html"
        notes.parent.mkdir(parents=True)
        notes.write_bytes(b"<p>my notes</p>")
        argv = _denoise_argv(root, "--report", str(notes), photos=_photos(root, 1, 64))
        argv.insert(2, str(notes))  # after the photos folder: a second input
        return argv

    def export(target: str, source: str = "model") -> Callable[[Path], list[str]]:
        def setup(root: Path) -> list[str]:
            m = _models(root / "in" / "model.pt")
            if source == "cut":
                _cut(m)
            (root / "in" / "x.onnx").mkdir()
            (root / "in" / "x.onnx" / "keep.txt").write_text("keep")
            paths = {
                "folder": root / "in" / "x.onnx",
                "under a file": root / "in" / "model.pt" / "x.onnx",
                "model": m,
                "read-only": root / "ro" / "x.onnx",
            }
            if target == "read-only":
                (root / "ro").mkdir(mode=0o555)
            out = paths.get(target, root / "x.onnx")
            return ["export", "-m", str(m), "-o", str(out)]

        return setup

    def train_argv(*extra: str) -> Callable[[Path], list[str]]:
        return lambda root: _train_with(root, _tiny(), *extra)

    cases = [
        Feature(
            "train at lr 1 (diverges to a finite 1e19)",
            "budget",
            lambda r: _train_with(
                r,
                TINY_TOML.format(steps=40)
                .replace("[bnn]\n", "[bnn]\nlr = 1.0\n")
                .replace("[lan]\n", "[lan]\nlr = 1.0\n")
                .replace("[unet]\n", "[unet]\nlr = 1.0\n"),
            ),
            expect=("diverged", "no model written"),
            check=_no_model,
        ),
        # --- time budgets
        *[
            Feature(
                f"train --minutes {m}",
                "budget",
                train_argv("--minutes", m),
                expect=("--minutes",),
                check=_no_model,
            )
            for m in ("0", "-5", "nan", "1e308")
        ],
        Feature(
            "train --resume --minutes, budget.json cut",
            "resume",
            resume_budget_cut,
            expect=("budget.json",),
        ),
        Feature(
            "train --resume --minutes 0.2 of a 0.1-minute run",
            "resume",
            resume_other_minutes,
            expect=("planned for 0.1",),
        ),
        Feature(
            "train --resume without --minutes of a --minutes run",
            "resume",
            resume_budget_without_minutes,
            expect=("--minutes",),
        ),
        # --- resume
        Feature(
            "train --resume of a folder that is no run",
            "resume",
            not_a_run,
            expect=("notes", "nothing to resume"),
        ),
        Feature("train --resume, lan.pt cut", "resume", resume_cut, expect=("lan.pt",)),
        Feature(
            'train --resume, config.json "bnn": null',
            "resume",
            resume_config(None),
            expect=("config.json",),
        ),
        Feature(
            'train --resume, config.json blind_size "x"',
            "resume",
            resume_config({"blind_size": "x"}),
            expect=("config.json",),
        ),
        # --- configuration: the width rule, init/skip, teacher cache
        Feature(
            "[bnn] paper_width_from_steps = -1",
            "config",
            lambda r: _train_with(r, _tiny(bnn="paper_width_from_steps = -1\n")),
            expect=("c.toml", "paper_width_from_steps"),
        ),
        Feature(
            "[bnn] unknown key",
            "config",
            lambda r: _train_with(r, _tiny(bnn="paper_width = 1200\n")),
            expect=("c.toml", "unknown key '[bnn] paper_width'"),
        ),
        Feature(
            'preset = "huge" in the TOML',
            "config",
            lambda r: _train_with(r, _tiny(top='preset = "huge"\n')),
            expect=("c.toml", "unknown preset"),
        ),
        Feature(
            "cache_transforms = 3",
            "config",
            lambda r: _train_with(r, _tiny(top="cache_transforms = 3\n")),
            expect=("c.toml", "cache_transforms"),
        ),
        Feature("train --blind-size 4", "config", train_argv("--blind-size", "4"), 2, ("odd",)),
        Feature(
            "[bnn] init missing",
            "init",
            init(bnn='init = "{in}/missing.pt"\n'),
            expect=("missing.pt", "no such file"),
            check=_no_model,
        ),
        Feature(
            "[bnn] init cut, width rule on",
            "init",
            init(bnn='init = "{in}/bad.pt"\npaper_width_from_steps = 1200\n'),
            expect=("bad.pt",),
            check=_no_model,
        ),
        Feature(
            "[bnn] init of another width, rule off",
            "init",
            init(bnn='init = "{in}/wide_bnn.pt"\n'),
            expect=("wide_bnn.pt", "do not fit"),
            check=_no_model,
        ),
        Feature(
            "[unet] init of another width",
            "init",
            init(unet='init = "{in}/wide_unet.pt"\n'),
            expect=("wide_unet.pt", "do not fit"),
            check=_no_model,
        ),
        Feature(
            "laptop, [bnn] init + skip of a blind-9 BNN",
            "init",
            init(True, bnn='init = "{in}/tiny.pt"\nskip = true\n'),
            status=0,
            check=_blind_size_kept,
        ),
        # --- backends and precisions
        Feature(
            "denoise --precision fp16 on the CPU",
            "backend",
            lambda r: _denoise_argv(r, "--precision", "fp16"),
            expect=("fp16", "CUDA"),
        ),
        Feature(
            "denoise --backend tensorrt",
            "backend",
            lambda r: _denoise_argv(r, "--backend", "tensorrt"),
            expect=("--backend", "invalid choice"),
        ),
        Feature(
            "denoise --backend onnxruntime --precision bf16",
            "backend",
            lambda r: _denoise_argv(r, "--backend", "onnxruntime", "--precision", "bf16"),
            expect=("bf16",),
        ),
        Feature(
            "denoise int8 --calibrate empty folder",
            "backend",
            calibrate("empty"),
            expect=("shots", "calibrate"),
        ),
        Feature(
            "denoise int8 --calibrate unreadable images",
            "backend",
            calibrate("unreadable"),
            expect=("shots", "calibrate"),
        ),
        Feature(
            "denoise -m model with noise_gate = nan",
            "backend",
            nan_gate,
            expect=("model.pt", "noise_gate"),
        ),
        # --- batches with a bad file, an output that cannot be written
        Feature(
            "denoise a cut PNG among good ones",
            "batch",
            batch(".png"),
            1,
            ("p01.png",),
            check=_written(1, "p01.png"),
        ),
        Feature(
            "denoise a cut 16-bit TIFF among good ones",
            "batch",
            batch(".tif"),
            1,
            ("t01.tif",),
            check=_written(3, "t01.tif"),
        ),
        Feature(
            "denoise, read-only output subfolder",
            "batch",
            read_only_subfolder,
            1,
            ("sub", "not writable"),
            lines=2,
            check=_written(2),
            unprivileged=True,
        ),
        # --- outputs already there
        *[
            Feature(
                f"{command} -o a folder holding a photo of an output's name",
                "outputs",
                into_originals(command),
                2,
                ("p00.png", "exists already", "--overwrite"),
            )
            for command in ("denoise", "synth")
        ],
        Feature(
            "denoise a turned TIFF with a broken private tag",
            "outputs",
            turned_tiff_with_a_broken_tag,
            0,
            check=orientation_kept,
        ),
        Feature(
            "denoise --report over a file named as an input",
            "outputs",
            report_over_named_input,
            2,
            ("notes.html", "--report would replace the input"),
        ),
        # --- export
        Feature("export -o a folder", "export", export("folder"), 2, ("x.onnx",)),
        Feature("export -o under a file", "export", export("under a file"), 2, ("model.pt",)),
        Feature(
            "export -o the model file itself",
            "export",
            export("model"),
            2,
            ("model.pt",),
        ),
        Feature(
            "export -o a read-only folder",
            "export",
            export("read-only"),
            2,
            ("not writable",),
            unprivileged=True,
        ),
        Feature("export a cut model", "export", export("x", "cut"), 2, ("model.pt",)),
    ]
    return [feature_case(work, case) for case in cases]


# ---------------------------------------------------------------- report


def report(results: list[Outcome], info: dict[str, object], seconds: float) -> str:
    counts = {
        "cases tried": len(results),
        "tracebacks": sum(r.traceback for r in results),
        "unclear messages": sum(r.unclear for r in results),
        "false successes": sum(r.false_success for r in results),
        "data lost": sum(r.data_lost for r in results),
    }
    lines = [
        "# Fault campaign",
        "",
        "Each case is a subprocess `python -m sassid ...`, classified from its exit status, "
        "stderr and files (see `benchmarks/faults.py`).",
        "",
        "| cases tried | tracebacks | unclear messages | false successes | data lost |",
        "|---|---|---|---|---|",
        "| " + " | ".join(str(v) for v in counts.values()) + " |",
        "",
        f"{info['date']}, {info['machine']}, commit {info['commit']}, torch {info['torch']}, "
        f"{seconds:.0f} s: `{info['command']}`. Per case: `results/faults.md`.",
        "",
        "## Cases",
        "",
        "| case | kind | exit | expected | traceback | unclear | false success | data lost "
        "| notes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        flags = [
            "yes" if f else "-" for f in (r.traceback, r.unclear, r.false_success, r.data_lost)
        ]
        notes = "; ".join(r.notes).replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {r.name} | {r.kind} | {r.status} | {r.expected} | {' | '.join(flags)} | {notes} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick-only", action="store_true", help="skip the slow cases")
    parser.add_argument("--slow-only", action="store_true", help="skip the quick cases")
    parser.add_argument(
        "--features-only", action="store_true", help="only the newer features' cases"
    )
    parser.add_argument("--name", default="faults", help="results/NAME.md and .json")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sassid-faults-") as folder:
        work = Path(folder)
        if args.features_only:
            results = feature_cases(work)
        else:
            results = [] if args.slow_only else quick_cases(work)
            if not args.quick_only:
                results += slow_cases(work) + feature_cases(work)
    seconds = time.perf_counter() - start
    info = provenance()
    markdown = report(results, info, seconds)
    summary = {
        "cases_tried": len(results),
        "tracebacks": sum(r.traceback for r in results),
        "unclear_messages": sum(r.unclear for r in results),
        "false_successes": sum(r.false_success for r in results),
        "data_lost": sum(r.data_lost for r in results),
    }
    write_results(
        args.name,
        {**info, "seconds": seconds, **summary, "cases": [asdict(r) for r in results]},
        markdown,
    )
    print(markdown)
    bad = sum(v for k, v in summary.items() if k != "cases_tried")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
