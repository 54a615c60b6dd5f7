"""Where outputs may go: checked before anything is written.

- ``check_plan``: no output may be (or resolve to, through links) an input file, no output
  folder may be an input folder, and no two inputs may map to one output name (nor to two
  names that differ only in case: one file on a case-insensitive disk).
- ``check_new_outputs``: no output may replace a file that is already there, unless asked to
  (``overwrite``): an output folder may hold the user's own photos under the same names.
- ``ensure_folder`` / ``check_output_file``: the output exists (or is created) as the right kind
  of thing and is writable, so a long job does not fail at its last step.
- ``run_lock``: a run directory is used by one process at a time (``fcntl.flock`` on
  ``RUN_DIR/.lock``, released by the kernel when the process ends, even by SIGKILL).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from sassid.atomic import clean_stale_temps
from sassid.errors import OutputError, TrainingError

__all__ = [
    "check_plan",
    "check_results",
    "check_new_outputs",
    "ensure_folder",
    "check_output_file",
    "check_creatable_file",
    "run_lock",
]


def _identity(path: Path) -> tuple[object, ...]:
    """Same file <=> same identity: (device, inode) where it exists, else its resolved path."""
    try:
        st = path.stat()
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", str(path.resolve()))


def check_plan(
    pairs: Sequence[tuple[Path, Path]], input_folders: Iterable[str | os.PathLike[str]] = ()
) -> None:
    """Refuse an (input, output) plan that would overwrite an input or write one file twice.

    Raises:
        OutputError: one line naming the output and the input(s) involved.
    """
    inputs = {_identity(src): src for src, _ in pairs}
    folders = {_identity(Path(f)): Path(f) for f in input_folders}
    written: dict[tuple[object, ...], Path] = {}
    folded: dict[tuple[object, ...], tuple[Path, Path]] = {}
    for src, dst in pairs:
        if _identity(dst) in inputs:  # (through a link too: refused, to be safe)
            raise OutputError(
                f"{dst}: is the input {inputs[_identity(dst)]}; choose another output"
            )
        parent = _identity(dst.parent)
        if parent in folders:
            raise OutputError(
                f"{dst.parent}: is the input folder {folders[parent]}; choose another output"
            )
        key = (parent, dst.name)  # the name a write replaces (a link in its place, not its target)
        if key in written:
            if _identity(written[key]) == _identity(src):
                also = f" (also as {written[key]})" if written[key] != src else ""
                raise OutputError(f"{src}: named twice as an input{also}; give each photo once")
            raise OutputError(f"{dst}: both {written[key]} and {src} would be written there")
        written[key] = src
        same = (parent, dst.name.casefold())  # one file on macOS's and Windows' usual disks
        if same in folded:
            other, other_dst = folded[same]
            raise OutputError(
                f"{dst}: {other} and {src} would be written as {other_dst.name} and {dst.name}, "
                "one file on a case-insensitive disk; rename one"
            )
        folded[same] = (src, dst)


def check_results(outputs: Mapping[str, Path], inputs: Iterable[Path]) -> None:
    """Refuse result files (named by the option that writes them) that would replace an input
    file or one another, before any work.

    Raises:
        OutputError: one line naming the option(s) and the file.
    """
    taken = {_identity(Path(p)): Path(p) for p in inputs}
    named: dict[tuple[object, ...], str] = {}
    for option, path in outputs.items():
        key = _identity(Path(path))
        if key in taken:
            raise OutputError(f"{path}: {option} would replace the input {taken[key]}")
        if key in named:
            raise OutputError(f"{path}: named by both {named[key]} and {option}; choose two files")
        named[key] = option


def check_new_outputs(
    targets: Iterable[Path], *, overwrite: bool = False, keep_option: str = ""
) -> None:
    """Refuse, before any work, output files that already exist, unless ``overwrite``.

    Photos keep their names, so ``-o`` naming a folder of other photos (or of the originals)
    would silently replace them; a rerun into its own earlier outputs says ``--overwrite``.

    ``keep_option``: the command's option that keeps them instead (named in the error).

    Raises:
        OutputError: one line naming the first existing output and how many there are.
    """
    if overwrite:
        return
    existing = [t for t in targets if os.path.lexists(t)]  # (a dangling link too)
    if existing:
        more = f" (with {len(existing) - 1} more outputs)" if len(existing) > 1 else ""
        keep = f", {keep_option} to keep and denoise the rest" if keep_option else ""
        raise OutputError(
            f"{existing[0]}: exists already{more}; pass --overwrite to replace{keep}, "
            "or choose another output"
        )


def ensure_folder(path: str | os.PathLike[str]) -> Path:
    """Create the output folder ``path`` if needed, check that it is writable, and remove
    temporary files left there by a killed run (see ``sassid.atomic``).

    Raises:
        OutputError: ``path`` is a file, cannot be created, or is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{path}: cannot create the output folder ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: output folder is not writable")
    clean_stale_temps(path)
    return path


def check_output_file(path: str | os.PathLike[str]) -> Path:
    """Check, before a long job, that a result file can later be written at ``path``.

    Raises:
        OutputError: ``path`` is a folder, or its folder is missing or not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder (need a file name)")
    if not path.parent.is_dir():
        raise OutputError(f"{path}: cannot write (no folder {path.parent})")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write (folder {path.parent} is not writable)")
    return path


def check_creatable_file(path: str | os.PathLike[str]) -> Path:
    """``check_output_file`` for a file whose folders may not exist yet: the nearest existing
    one must be a writable folder. Nothing is created (that waits until there is something to
    write, so a job refused later leaves no empty folder behind).

    Raises:
        OutputError: ``path`` is a folder, or its nearest existing parent is a file or is not
            writable.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder (need a file name)")
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if parent.is_symlink() and not parent.exists():
        raise OutputError(f"{path}: cannot write ({parent} is a broken link)")
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write ({parent} is not a folder)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write (folder {parent} is not writable)")
    return path


@contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold an exclusive, non-blocking lock on ``run_dir/.lock`` for the block.

    Raises:
        TrainingError: another process holds it.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on POSIX: no lock
        yield
        return
    try:
        fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise TrainingError(f"{run_dir}: cannot write there ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TrainingError(
                f"{run_dir}: in use by another sassid run (locked); wait for it or use another -o"
            ) from None
        yield
    finally:
        os.close(fd)
