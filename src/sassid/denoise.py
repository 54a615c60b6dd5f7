"""``denoise_files()``: denoise photos on disk, keeping format, bit depth, ICC profile and EXIF."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from sassid.backends import DEFAULT_BACKEND, DEFAULT_PRECISION, resolve, why_not_default
from sassid.errors import NoImagesError, OptionError, OutputError, SassidError
from sassid.guard import GateChoice
from sassid.inference import Denoiser
from sassid.io import (
    IMAGE_SUFFIXES,
    ImageError,
    Photo,
    image_megapixels,
    list_images,
    read_image,
    source_path,
    write_image,
)
from sassid.outputs import check_new_outputs, check_plan, ensure_folder
from sassid.reliability import judge_photo

__all__ = ["DenoiseReport", "denoise_files", "output_paths"]

KEEP_OPTION = "--skip-existing"
"""``sassid denoise``'s option that keeps existing outputs (``skip_existing``)."""


@dataclass
class DenoiseReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    doubtful: list[tuple[Path, str]] = field(default_factory=list)
    """Written photos whose output departs from the input beyond the noise (``check``)."""
    guarded: list[tuple[Path, str]] = field(default_factory=list)
    """Written photos whose noise gate the guard lowered (``sassid.guard``), with why."""
    skipped: list[Path] = field(default_factory=list)
    """Outputs that existed already, left as they are (``skip_existing``)."""


def output_paths(
    inputs: Sequence[str | os.PathLike[str]], output: Path, *, overwrite: bool = False
) -> list[tuple[Path, Path]]:
    """(input, output) file pairs. A single input file with an image-suffixed ``output`` writes
    there; otherwise ``output`` is a folder, and files found in an input folder keep their path
    relative to it. An output that exists already is refused unless ``overwrite``.

    Raises:
        NoImagesError: no image in ``inputs``; ImageError: the one input does not exist, or
            an input file's format cannot be written back (``.webp``: name an output file);
        OutputError: an image-named ``output`` for several photos, or an output would
            overwrite an input, be written twice or (without ``overwrite``) replace a file
            that is there (nothing is written then).
    """
    if isinstance(inputs, (str, os.PathLike)):  # one folder or file, not its characters
        inputs = [inputs]
    sources = [source_path(source) for source in inputs]  # "" is refused, not read as "."
    if len(sources) == 1 and not sources[0].exists():
        raise ImageError(f"{sources[0]}: no such file or folder")
    to_file = output.suffix.lower() in IMAGE_SUFFIXES and not output.is_dir()
    if len(sources) == 1 and sources[0].is_file() and to_file:
        pairs = [(sources[0], output)]
        check_plan(pairs)
        check_new_outputs([output], overwrite=overwrite, keep_option=KEEP_OPTION)
        return pairs
    if to_file:
        what = "a folder" if len(sources) == 1 else "several photos"
        raise OutputError(f"{output}: names an image, but the input is {what}; give a folder")
    pairs = []
    inside = output.resolve()  # an output folder inside an input folder: its files are not inputs
    for source in sources:
        if source.is_dir():
            nested = inside != source.resolve()  # (the same folder is refused by check_plan)
            for path in list_images(source):
                if not (nested and inside in path.resolve().parents):
                    pairs.append((path, output / path.relative_to(source)))
        elif len(sources) == 1 and not _writable(source):  # output keeps the input's format
            raise ImageError(f"{_unwritable(source)}, or name one output file such as out.png")
        else:  # a missing or unwritable file is reported when its turn comes; the batch goes on
            pairs.append((source, output / source.name))
    if not pairs:
        raise NoImagesError(f"no images found in {', '.join(map(str, inputs))}")
    check_plan(pairs, [p for p in sources if p.is_dir()])
    check_new_outputs([target for _, target in pairs], overwrite=overwrite, keep_option=KEEP_OPTION)
    return pairs


def _writable(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def _unwritable(path: Path) -> str:
    return (
        f"{path}: {path.suffix or 'no suffix'}: the output keeps the input's format, and this "
        f"one cannot be written (use {', '.join(IMAGE_SUFFIXES)})"
    )


def denoise_files(
    inputs: Sequence[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    model: str | os.PathLike[str],
    *,
    net: str = "unet",
    tile: int | None = None,
    overlap: int | None = None,
    ensemble: bool = False,
    device: str = "auto",
    guard: bool = True,
    progress: bool = True,
    backend: str | None = None,
    precision: str | None = None,
    calibrate: str | os.PathLike[str] | None = None,
    announce: Callable[[str], None] | None = None,
    on_photo: Callable[[Path, Photo, Photo, str | None, GateChoice | None], None] | None = None,
    check: bool = True,
    overwrite: bool = False,
    skip_existing: bool = False,
) -> DenoiseReport:
    """Denoise every photo in ``inputs`` into ``output``; a bad file is reported and skipped.

    The output plan is checked before the model is loaded (see :func:`output_paths`); outputs
    are written atomically, and temporary files a killed run left in an output folder are
    removed (``sassid.atomic``).

    ``backend``/``precision``: see ``sassid.backends`` (None: ``backends.resolve``, for this
    ``net`` and the inputs' total megapixels); int8 is calibrated on crops of the photos in
    ``calibrate`` (a folder or file), else of the inputs.
    ``announce`` receives one line naming the backend and precision chosen.
    ``on_photo(source, noisy, denoised, doubt, gate)`` is called after each photo is written
    (the report uses it); ``doubt`` is the check's verdict (``""``: passed, or could not be
    judged; None: the check is off), ``gate`` the guard's (``Denoiser.last_gate``).
    ``check``: judge each written photo against its input from the noisy data alone
    (``reliability.judge_photo``: more than the noise removed in its flat areas, or a colour
    shift); one that fails is still written, listed in ``DenoiseReport.doubtful`` and warned
    about. About 0.5 s for a 24 MP photo on 2 cores (results/check_speed.md).
    ``guard``: choose the noise gate per photo (``sassid.guard``); a photo whose gate the guard
    lowered is listed in ``DenoiseReport.guarded`` and noted.
    ``overwrite``: replace output files that exist already (else the call is refused before
    any work, naming the first of them). ``skip_existing``: leave them as they are and denoise
    the rest (a batch that was interrupted: outputs are written atomically, so one that exists
    is complete); they are listed in ``DenoiseReport.skipped``.
    """
    from sassid.device import resolve_device

    if overwrite and skip_existing:
        raise OptionError("--overwrite and --skip-existing: give one")
    pairs = output_paths(inputs, Path(output), overwrite=overwrite or skip_existing)
    report = DenoiseReport()
    if skip_existing:
        todo = []
        for src, dst in pairs:
            if os.path.lexists(dst):
                report.skipped.append(dst)
            else:
                todo.append((src, dst))
        pairs = todo
        if not pairs:
            return report  # every output is there: no model to load
    device_name = str(resolve_device(device))
    megapixels, fallback = None, None
    if backend is None and precision is None:  # the default depends on the job's size
        megapixels = sum(image_megapixels(src) or 0.0 for src, _ in pairs)
        fallback = why_not_default(device_name, net, megapixels)
    backend, precision = resolve(backend, precision, device_name, net=net, megapixels=megapixels)
    calibration = None
    if calibrate is not None and precision != "int8":
        raise OptionError(f"--calibrate is for --precision int8 only (this run: {precision})")
    if precision == "int8":
        from sassid.backends.quantize import calibration_crops

        sources = [source_path(calibrate)] if calibrate is not None else [src for src, _ in pairs]
        if calibrate is not None and sources[0].is_dir():
            sources = list_images(sources[0])
            if not sources:
                raise SassidError(f"{calibrate}: no image to calibrate int8 quantization on")
        calibration = calibration_crops(sources)
    denoiser = Denoiser.from_model(
        model,
        net=net,
        tile=tile,
        overlap=overlap,
        ensemble=ensemble,
        device=device,
        guard=guard,
        backend=backend,
        precision=precision,
        calibration=calibration,
    )
    if announce is not None:
        reason = f" (not the default {DEFAULT_BACKEND}/{DEFAULT_PRECISION}: {fallback})"
        announce(denoiser.describe() + (reason if fallback else ""))
    ready = {ensure_folder(pairs[0][1].parent if len(pairs) == 1 else Path(output))}
    bar = tqdm(total=len(pairs), unit="photo", disable=not progress, dynamic_ncols=True)
    for source, target in pairs:
        bar.set_description(source.name[:30])
        try:
            if not _writable(target):  # before the work, not after it
                raise ImageError(_unwritable(source))
            photo = read_image(source)
            h, w = photo.pixels.shape[:2]
            tiles = tqdm(
                total=denoiser.tiles_for(h, w),
                unit="tile",
                leave=False,
                disable=not progress or denoiser.tiles_for(h, w) == 1,
            )
            pixels = denoiser.pixels(photo.pixels, on_tile=tiles.update)
            tiles.close()
            if target.parent not in ready:  # created (and cleaned of stale temps) once
                ready.add(ensure_folder(target.parent))
            denoised = Photo(pixels, target, photo.icc_profile, photo.exif)
            write_image(target, denoised)
            report.written.append(target)
            choice = denoiser.last_gate
            if choice is not None and choice.changed:
                report.guarded.append((target, choice.summary()))
                bar.write(f"sassid: note: {source}: {choice.summary()}", file=sys.stderr)
            doubt: str | None = None
            if check:
                try:
                    doubt = judge_photo(source.name, photo.pixels, pixels).summary()
                except ValueError as exc:  # advisory: the photo is written either way
                    doubt = ""  # no verdict to report; None means the check is off
                    bar.write(f"sassid: warning: {source}: not checked ({exc})", file=sys.stderr)
                if doubt:
                    report.doubtful.append((target, doubt))
                    bar.write(
                        f"sassid: warning: {source}: {doubt}; check {target}", file=sys.stderr
                    )
            if on_photo is not None:
                on_photo(source, photo, denoised, doubt, choice)
        except (SassidError, OSError) as exc:
            message = str(exc) if isinstance(exc, SassidError) else f"{source}: {exc.strerror}"
            report.failed.append((source, message))
            bar.write(f"sassid: error: {message}", file=sys.stderr)
        bar.update(1)
    bar.close()
    return report
