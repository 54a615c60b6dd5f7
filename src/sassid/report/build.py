"""``ReportBuilder`` / ``write_report()``: collect photos one at a time, write one HTML file.

Each photo is reduced to its finished ``<section>`` as soon as it is added, so memory does not
grow with the number of photos. The size is bounded: a photo's section is drawn at decreasing
sizes (overview side, JPEG quality, crop side) until it fits ``photo_bytes``; the summary row
is under ``ROW_BYTES``; the rest of the page (header, training story, script) under
``PAGE_BYTES``. The bound is stated in the page and checked before the file is written.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from urllib.parse import quote

import numpy as np
import torch
from tqdm import tqdm

import sassid
from sassid.atomic import atomic_write_bytes
from sassid.errors import OptionError, SassidError
from sassid.guard import GateChoice
from sassid.inference import Denoiser
from sassid.io import Photo, find_pairs, list_images, read_image, write_image
from sassid.outputs import check_creatable_file, check_results, ensure_folder
from sassid.reliability import judge_photo
from sassid.report.encode import to_uint8
from sassid.report.html import Level, render_page, render_photo, summary_row
from sassid.report.photo import PhotoData, choose_crop, measure, teacher_crops
from sassid.report.story import read_story
from sassid.tiling import check_tile_options

__all__ = [
    "DEFAULT_PHOTO_BYTES",
    "MIN_PHOTO_BYTES",
    "PAGE_BYTES",
    "ROW_BYTES",
    "ReportBuilder",
    "ReportSummary",
    "iter_photos",
    "photo_entries",
    "size_levels",
    "write_report",
]

DEFAULT_PHOTO_BYTES = 1_000_000
MIN_PHOTO_BYTES = 200_000
MIN_MAX_SIDE = 64
MIN_CROP = 16
ROW_BYTES = 1_024
PAGE_BYTES = 256_000
MAX_TITLE_CHARS = 1_000
"""A title is a heading; escaped and written twice (``<title>``, ``<h1>``), a longer one could
pass ``PAGE_BYTES``, and that is found only when the page is written, after every photo."""
TOO_SMALL_NOTE = "No noise estimate: the photo is under 2 x 2 pixels."
NET_LABELS = {"unet": "U-Net", "bnn": "BNN", "lan": "LAN", "fusion": "fusion"}


@dataclass
class ReportSummary:
    path: Path
    bytes: int
    photos: int
    bound: int
    full_res: list[Path] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def size_levels(max_side: int, crop: int, lossless_overview: bool) -> Iterator[Level]:
    """Sizes to try, largest first: the overview is PNG only when shown at full resolution and
    the budget allows; then JPEG, shrinking side (x0.8, >= 256), quality (-5, >= 60) and crop
    (x0.85, >= 64) together until the smallest level."""
    side, quality, side_crop = max_side, 90, crop
    if lossless_overview:
        yield Level(side, "png", quality, side_crop)
    while True:
        yield Level(side, "jpeg", quality, side_crop)
        if side <= 256 and side_crop <= 64 and quality <= 60:
            return
        side = max(min(side, 256), int(side * 0.8))
        quality = max(60, quality - 5)
        side_crop = max(min(side_crop, 64), int(side_crop * 0.85))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "photo"


def _check_sizes(max_side: int, crop: int, photo_bytes: int) -> None:
    """Refuse sizes too small to draw, naming the CLI option and the keyword argument (this
    is both ``sassid report``'s check and the Python API's)."""
    if photo_bytes < MIN_PHOTO_BYTES:
        raise OptionError(
            f"--photo-kb / photo_bytes must be at least {MIN_PHOTO_BYTES // 1000} kB "
            f"({MIN_PHOTO_BYTES} bytes), got {photo_bytes} bytes"
        )
    if max_side < MIN_MAX_SIDE:
        raise OptionError(f"--max-side / max_side must be at least {MIN_MAX_SIDE}, got {max_side}")
    if crop < MIN_CROP:
        raise OptionError(f"--crop / crop must be at least {MIN_CROP}, got {crop}")


class ReportBuilder:
    """Add photos (with or without their denoised output and clean image), then ``write()``.

    Args:
        model: run directory or model file; its run directory gives the training story.
        output: the ``.html`` file; full-resolution outputs of downscaled photos go to
            ``<stem>_files/`` beside it (unless the caller names an existing output file).
        max_side: longest side of the before/after view; larger photos are downscaled.
        crop: side of the full-resolution crop (alpha, BNN and LAN are computed on it only).
        photo_bytes: cap on one photo's section of the page, in bytes.
        teachers: run BNN and LAN on the crop (when the model holds them).
        net: the network whose output is shown; ``add`` runs it (with ``tile``, ``overlap``,
            ``ensemble`` as in ``Denoiser.from_model``) when not given the output.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        output: str | os.PathLike[str],
        *,
        device: str = "auto",
        max_side: int = 1600,
        crop: int = 256,
        photo_bytes: int = DEFAULT_PHOTO_BYTES,
        teachers: bool = True,
        full_res: bool = True,
        net: str = "unet",
        tile: int | None = None,
        overlap: int | None = None,
        ensemble: bool = False,
        guard: bool = True,
        title: str | None = None,
    ) -> None:
        from sassid.models import read_model

        self.output = Path(output)
        if self.output.suffix.lower() not in (".html", ".htm"):
            raise SassidError(f"{self.output}: a report is an .html file")
        _check_sizes(max_side, crop, photo_bytes)
        if title is not None and len(title) > MAX_TITLE_CHARS:
            raise OptionError(
                f"--title / title: at most {MAX_TITLE_CHARS} characters, got {len(title)}"
            )
        check_tile_options(tile, overlap)  # once, before any photo
        check_creatable_file(self.output)  # before work; its folder is made by write()
        self.model = Path(model)
        self.source = read_model(model)  # read once; every Denoiser below reuses it
        self.model_path = self.source.path
        config = self.source.config
        self.payload_config = config.to_dict() if config is not None else None
        self.device, self.max_side, self.crop = device, max_side, crop
        self.photo_bytes, self.full_res, self.net = photo_bytes, full_res, net
        self.label = NET_LABELS.get(net, net)
        self.tile, self.overlap, self.ensemble, self.guard = tile, overlap, ensemble, guard
        self.title = title or f"sassid report: {self.model}"
        self.files_dir = self.output.with_name(f"{self.output.stem}_files")
        self.protected: list[Path] = []
        """Files its full-resolution outputs may not replace (``write_report``: the inputs)."""
        self.notes: list[str] = []
        self.check = True
        """Judge each photo against its input (``reliability.judge_photo``) and say so under
        a doubtful one; ``sassid denoise --no-check`` turns it off."""
        self._unet: Denoiser | None = None
        self._teachers: tuple[Denoiser, Denoiser] | None = None
        if teachers:
            try:
                self._teachers = (
                    Denoiser.from_model(self.source, net="bnn", device=device),
                    Denoiser.from_model(self.source, net="lan", device=device),
                )
            except SassidError as exc:
                self.notes.append(f"No teacher panels ({exc}).")
        self._sections: list[str] = []
        self._rows: list[str] = []
        self._written: list[Path] = []

    def _href(self, path: Path) -> str:
        rel = os.path.relpath(Path(path).resolve(), self.output.parent.resolve())
        return quote(Path(rel).as_posix())

    def add(
        self,
        name: str,
        noisy: np.ndarray,
        denoised: np.ndarray | None = None,
        *,
        clean: np.ndarray | None = None,
        noisy_file: str | os.PathLike[str] | None = None,
        denoised_file: str | os.PathLike[str] | None = None,
        doubt: str | None = None,
        gate: GateChoice | None = None,
        icc_profile: bytes | None = None,
        exif: bytes | None = None,
    ) -> int:
        """Add one photo (HWC uint8/uint16); returns the bytes its section takes.

        ``doubt``: ``reliability.judge_photo``'s verdict on this output if already reached
        (``sassid denoise`` passes its own); otherwise, with ``check`` on, it is judged here.
        ``gate``: the guard's verdict on a given output (``Denoiser.last_gate``); one that
        lowered the gate is noted under the photo. A photo 1 pixel wide or high is shown with
        no noise estimate (``sassid denoise`` writes it too). Errors name ``noisy_file`` where
        given, else ``name``. ``icc_profile``, ``exif``: the noisy photo's, kept in the
        full-resolution output this writes (``full_res``), as ``sassid denoise`` keeps them."""
        if denoised is None:
            if self._unet is None:
                self._unet = Denoiser.from_model(
                    self.source,
                    net=self.net,
                    tile=self.tile,
                    overlap=self.overlap,
                    ensemble=self.ensemble,
                    device=self.device,
                    guard=self.guard,
                )
            denoised = self._unet.pixels(noisy)
            gate = self._unet.last_gate
        where = str(noisy_file) if noisy_file is not None else name  # the path as given
        for other, what in ((denoised, "output"), (clean, "clean image")):
            if other is not None and other.shape != noisy.shape:
                raise SassidError(f"{where}: {what} size {other.shape} differs from {noisy.shape}")
        if denoised.dtype != noisy.dtype:
            raise SassidError(f"{where}: output type {denoised.dtype} differs from {noisy.dtype}")
        try:
            scores = measure(noisy, denoised, clean)
        except ValueError as exc:  # e.g. SSIM of a pair under 11 x 11 pixels
            raise SassidError(f"{where}: {exc}") from None
        index = len(self._sections) + 1
        h, w = noisy.shape[:2]
        crop = choose_crop(to_uint8(denoised), self.crop)
        teachers = None
        if self._teachers is not None:
            teachers = teacher_crops(*self._teachers, noisy, crop)
        links = []
        if noisy_file is not None:
            links.append(("noisy", self._href(Path(noisy_file))))
        downscaled = max(h, w) > self.max_side
        if denoised_file is None and downscaled and self.full_res:
            denoised_file = self.files_dir / f"{index:03d}_{_safe(name)}_{self.net}.png"
            check_results({"the report's full-resolution output": denoised_file}, self.protected)
            ensure_folder(self.files_dir)
            write_image(denoised_file, Photo(denoised, icc_profile=icc_profile, exif=exif))
            self._written.append(Path(denoised_file))
        if denoised_file is not None:
            links.append((self.label, self._href(Path(denoised_file))))
        data = PhotoData(name, noisy, denoised, clean, crop, scores)
        data.teachers, data.links = teachers, links
        if self.check:  # what `sassid denoise` warns about
            if doubt is None:
                try:
                    doubt = judge_photo(name, noisy, denoised).summary()
                except ValueError:  # advisory, as in sassid denoise: no note
                    doubt = ""
            data.note = f"Doubtful: {doubt}." if doubt else ""
        if gate is not None and gate.changed:
            data.note = " ".join(filter(None, [data.note, f"Guard: {gate.summary()}."]))
        if scores["sigma_noisy"] is None:
            data.note = " ".join(filter(None, [data.note, TOO_SMALL_NOTE]))
        for level in size_levels(self.max_side, self.crop, not downscaled):
            section = render_photo(data, index, level, self.label)
            size = len(section.encode("utf-8"))
            if size <= self.photo_bytes:
                break
        else:
            raise SassidError(f"{where}: its section does not fit in {self.photo_bytes} bytes")
        self._sections.append(section)
        self._rows.append(summary_row(data, index))
        return size

    def _machine(self) -> dict[str, str]:
        device = str(self._teachers[0].device) if self._teachers else self.device
        facts = {
            "report made": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
            "sassid": sassid.__version__,
            "model file": str(self.model_path),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
            "python / torch": f"{platform.python_version()} / {torch.__version__}, "
            f"{torch.get_num_threads()} threads",
            "device": device,
        }
        if torch.cuda.is_available():
            facts["GPU"] = torch.cuda.get_device_name(0)
        return facts

    def write(self) -> ReportSummary:
        """Write the page atomically; fails (writing nothing) if it would exceed its bound."""
        story = read_story(self.model_path, self.payload_config)
        count = len(self._sections)
        bound = count * (self.photo_bytes + ROW_BYTES) + PAGE_BYTES
        preset = (story.config or {}).get("preset")
        header = [
            f"Model <code>{escape(str(self.model))}</code>"
            + (f", preset <code>{escape(str(preset))}</code>" if preset else "")
            + f". {count} photo(s); output shown: {escape(self.label)}.",
            *map(escape, self.notes),
        ]
        size = 0
        page = ""
        for _ in range(3):  # the stated size is part of the page: iterate to a fixed point
            size_line = (
                f"This file: {size / 1e6:.2f} MB. Bound: at most {self.photo_bytes / 1e6:.2f} MB "
                f"per photo section (full-resolution PNG crops; the before/after view downscaled "
                f"to {self.max_side} px, JPEG when it must be, shrunk until it fits) plus "
                f"{ROW_BYTES} B per summary row and {PAGE_BYTES // 1000} KB for the rest: "
                f"{bound / 1e6:.2f} MB for this report."
            )
            page = render_page(
                title=self.title,
                header=header,
                rows=self._rows,
                sections=self._sections,
                story=story,
                machine=self._machine(),
                label=self.label,
                size_line=size_line,
            )
            new_size = len(page.encode("utf-8"))
            if new_size == size:
                break
            size = new_size
        if size > bound:
            raise SassidError(f"{self.output}: the page ({size} bytes) exceeds its bound {bound}")
        ensure_folder(self.output.parent)
        atomic_write_bytes(self.output, page.encode("utf-8"))
        return ReportSummary(self.output, size, count, bound, list(self._written))


def photo_entries(inputs: Sequence[str | os.PathLike[str]]) -> list[tuple[str, Path, Path | None]]:
    """(name, noisy file, clean file or None) for every photo named by ``inputs``, from the
    file names alone (nothing is decoded).

    A folder of ``<id>_noisy.*``/``<id>_clean.*`` pairs (or ``noisy/`` + ``clean/``) gives
    pairs; any other folder gives each image alone; a file ``<id>_noisy.*`` takes its
    ``<id>_clean.*`` sibling.
    """
    from sassid.io import ImageError, source_path

    entries: list[tuple[str, Path, Path | None]] = []
    for source in map(source_path, inputs):  # "" is refused, not read as "."
        if source.is_dir():
            try:
                entries += [(ident, n, c) for ident, n, c in find_pairs(source)]
            except ImageError:
                entries += [
                    (p.relative_to(source).as_posix(), p, None) for p in list_images(source)
                ]
            continue
        clean_path = None
        if source.stem.lower().endswith("_noisy"):
            stem = source.stem[: -len("_noisy")]
            siblings = sorted(source.parent.glob(f"{stem}_clean.*")) + sorted(
                source.parent.glob(f"{stem}_CLEAN.*")
            )
            clean_path = siblings[0] if siblings else None
        entries.append((source.name, source, clean_path))
    return entries


def _read_entry(noisy_path: Path, clean_path: Path | None) -> tuple[Photo, np.ndarray | None]:
    """The noisy photo (pixels and the ICC profile and EXIF its output keeps) and the clean
    pixels, if any."""
    noisy = read_image(noisy_path)
    return noisy, read_image(clean_path).pixels if clean_path is not None else None


def iter_photos(
    inputs: Sequence[str | os.PathLike[str]],
) -> Iterator[tuple[str, Path | None, np.ndarray | None, np.ndarray | None, str | None]]:
    """(name, noisy file, noisy, clean, error) for every photo named by ``inputs`` (see
    :func:`photo_entries`), read one at a time. A file that cannot be read yields its error,
    and the rest go on.
    """
    for name, noisy_path, clean_path in photo_entries(inputs):
        try:
            noisy, clean = _read_entry(noisy_path, clean_path)
        except (SassidError, OSError) as exc:
            yield name, noisy_path, None, None, str(exc)
            continue
        yield name, noisy_path, noisy.pixels, clean, None


def _not_own(photo: Path, named: set[Path], own_files: Path) -> bool:
    """A photo to report on: named as an input, or found outside the report's own files."""
    return photo in named or own_files not in photo.parents


def write_report(
    model: str | os.PathLike[str],
    images: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    *,
    progress: bool = True,
    **options: object,
) -> ReportSummary:
    """Denoise ``images`` with ``model`` (U-Net unless ``net=``) and write the HTML report.

    ``options`` are ``ReportBuilder``'s (device, max_side, crop, photo_bytes, teachers,
    full_res, net, tile, overlap, ensemble, guard, title). Unreadable photos are listed in
    ``failed`` and left out.
    """
    from sassid.errors import NoImagesError
    from sassid.io import ImageError, source_path
    from sassid.models import model_file

    named = set()
    for source in map(source_path, images):  # a typo must not replace a report with an empty one
        if not source.exists():
            raise ImageError(f"{source}: no such file or folder")
        named.add(source.resolve())
    output = Path(output)
    own_files = output.with_name(f"{output.stem}_files").resolve()  # an earlier report's
    entries = [e for e in photo_entries(images) if _not_own(e[1].resolve(), named, own_files)]
    if images and not entries:  # (no input at all: the page tells the training story only)
        raise NoImagesError(f"no images found in {', '.join(map(str, images))}")
    inputs = [path for _, noisy, clean in entries for path in (noisy, clean) if path is not None]
    if Path(model).exists():
        inputs.append(model_file(model))
    check_results({"-o": output}, inputs)  # before any work
    builder = ReportBuilder(model, output, **options)  # type: ignore[arg-type]
    builder.protected = inputs  # its full-resolution outputs must not replace them either
    failed: list[tuple[str, str]] = []
    for name, path, clean_path in tqdm(
        entries, unit="photo", disable=not progress, dynamic_ncols=True
    ):
        try:
            noisy, clean = _read_entry(path, clean_path)
            builder.add(
                name,
                noisy.pixels,
                clean=clean,
                noisy_file=path,
                icc_profile=noisy.icc_profile,
                exif=noisy.exif,
            )
        except (SassidError, OSError) as exc:
            failed.append((name, str(exc)))
    summary = builder.write()
    summary.failed = failed
    return summary
