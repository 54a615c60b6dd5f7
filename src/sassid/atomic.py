"""Writing files so that a crash, a kill or a full disk never leaves a half-written output.

Every output goes to a temporary file beside its destination, named
``.<name>.<pid>.<random>.sassid.tmp``; it is flushed and fsync'ed, given the destination's
permission bits (a new file gets the default ``0o666 & ~umask``, not the temporary file's 0600)
and renamed onto the destination, which therefore holds the old or the new complete file, never
a part. Any exception removes the temporary file (SIGTERM too: the CLI turns it into an
exception). A SIGKILL cannot be caught; its leftover is removed by :func:`clean_stale_temps` at
the next sassid run that writes into the same folder, and only where the process whose id is in
the name has ended. Failures raise :class:`~sassid.errors.OutputError` naming the destination.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sassid.errors import OutputError

__all__ = [
    "TEMP_SUFFIX",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "to_json",
    "clean_stale_temps",
    "output_failure",
]

TEMP_SUFFIX = ".sassid.tmp"
_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+" + re.escape(TEMP_SUFFIX) + "$")


def output_failure(path: Path, exc: OSError) -> OutputError:
    """One line naming the output and the operating system's reason."""
    if not path.parent.is_dir():
        return OutputError(f"{path}: cannot write (no folder {path.parent})")
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def _new_file_mode(path: Path) -> int:
    """The destination's permission bits, or those ``open()`` would give a new file."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync(path: str | Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the block: their Python handlers are swapped for one that
    notes the signal, and a noted signal is raised again once the block ends, so a file made
    in the block is never left unnamed. (Swapping handlers, unlike a thread's signal mask,
    holds them whichever thread the OS delivers to; only the main thread may swap them.)"""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum: int, frame: object) -> None:
        noted.append(signum)

    previous = {}
    for held in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(held) is not None:  # None: set outside Python, cannot be put back
            previous[held] = signal.signal(held, note)
    try:
        yield
    finally:
        for held, handler in previous.items():
            signal.signal(held, handler)
        for number in noted:
            signal.raise_signal(number)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error, fsync it and
    rename it onto ``path``. An error leaves ``path`` as it was (absent or the old version).

    Raises:
        OutputError: the temporary file cannot be created, written, synced or renamed.
    """
    path = Path(path)
    tmp: str | None = None
    try:
        try:
            with _signals_held():  # a Ctrl-C or SIGTERM lands after ``tmp`` is known
                fd, tmp = tempfile.mkstemp(
                    prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent
                )
                os.close(fd)
        except OSError as exc:
            raise output_failure(path, exc) from None
        try:
            yield Path(tmp)
            _fsync(tmp)
            os.chmod(tmp, _new_file_mode(path))
            os.replace(tmp, path)
        except OSError as exc:
            raise output_failure(path, exc) from None
    finally:
        if tmp is not None and os.path.lexists(tmp):
            os.unlink(tmp)
    try:
        _fsync(path.parent, directory=True)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself has happened


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, checking every byte reached the disk (a size
    limit or a full disk raises instead of leaving a short file)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if os.fstat(f.fileno()).st_size != len(data):
            raise OSError(errno.EIO, "short write")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(folder: str | os.PathLike[str]) -> list[Path]:
    """Remove this module's temporary files in ``folder`` (not recursively) whose writing
    process has ended, e.g. after a SIGKILL. Returns the paths removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if match and entry.is_file(follow_symlinks=False):
            if not _process_alive(int(match[1])):
                try:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
                except OSError:
                    pass
    return removed


def _finite_or_none(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    return value


def to_json(value: object, indent: int | None = None) -> str:
    """Strict JSON: NaN and infinities become ``null`` (Python would write ``NaN``, which JSON
    readers reject)."""
    return json.dumps(_finite_or_none(value), indent=indent, allow_nan=False)


def atomic_write_json(path: str | os.PathLike[str], value: object) -> None:
    """Write ``value`` as indented strict JSON (see :func:`to_json`) atomically."""
    atomic_write_text(path, to_json(value, indent=2) + "\n")
