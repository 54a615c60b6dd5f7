"""``evaluate()``: PSNR / SSIM / speed of a model on pairs of noisy and clean photos.

Data: a folder of pairs (``<id>_noisy.*`` + ``<id>_clean.*``, or ``noisy/`` + ``clean/``), or
SIDD validation (a folder or one of ``ValidationNoisyBlocksSrgb.mat`` /
``ValidationGtBlocksSrgb.mat``). PSNR as the reference reports it (output rounded, per image,
then the mean); SSIM in the named convention(s); seconds per megapixel of inference.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sassid.atomic import atomic_write_json, atomic_write_text
from sassid.errors import OptionError, SassidError
from sassid.inference import Denoiser
from sassid.io import write_image
from sassid.lpips import LPIPS, load_lpips
from sassid.metrics import SSIM_CONVENTIONS, MetricError, psnr, ssim
from sassid.models import model_file
from sassid.outputs import check_new_outputs, check_results, ensure_folder
from sassid.pairs import iter_pairs, pair_files

__all__ = [
    "EvaluationResult",
    "check_evaluation_outputs",
    "evaluate",
    "iter_pairs",
    "evaluate_denoiser",
]


@dataclass
class EvaluationResult:
    rows: list[dict[str, object]] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """One-line remarks for the user (e.g. why LPIPS was skipped)."""

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Summary and per-image rows, strict JSON (inf PSNR -> null), written atomically."""
        atomic_write_json(path, {**self.summary, "per_image": self.rows})

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """Per-image rows as CSV, written atomically."""
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=list(self.rows[0]))
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(path, text.getvalue())

    def table(self) -> str:
        s = self.summary
        conv = s["ssim_convention"]
        lines = [
            f"{'images':>8} {'PSNR dB':>9} {f'SSIM ({conv})':>18} {'s/MP':>8}",
            f"{s['images']:>8} {s['psnr']:>9.2f} {s['ssim']:>18.4f} "
            f"{s['seconds_per_megapixel']:>8.3f}",
        ]
        if "lpips" in s:
            lines.append(f"{'LPIPS':>8} {s['lpips']:>9.4f}")
        if "psnr_noisy" in s:
            lines.append(f"{'noisy':>8} {s['psnr_noisy']:>9.2f} {s['ssim_noisy']:>18.4f}")
        return "\n".join(lines)


def evaluate_denoiser(
    denoiser: Denoiser,
    data: str | os.PathLike[str],
    *,
    ssim_convention: str = "skimage",
    save_images: str | os.PathLike[str] | None = None,
    progress: bool = True,
    lpips: LPIPS | None = None,
    on_image: Callable[[str, np.ndarray, np.ndarray, np.ndarray], object] | None = None,
) -> EvaluationResult:
    """Score ``denoiser`` on every pair in ``data`` (and LPIPS, given a loaded metric);
    ``on_image(id, noisy, denoised, clean)`` sees each image (the report uses it).
    ``save_images`` is written as given: ``evaluate`` (and ``sassid evaluate``) first refuse
    strips that would replace an input or a file already there (``check_evaluation_outputs``);
    a caller of this lower-level function calls that itself."""
    if ssim_convention not in SSIM_CONVENTIONS:
        raise OptionError(f"unknown SSIM convention {ssim_convention!r}")
    if save_images is not None:
        ensure_folder(save_images)
    result = EvaluationResult()
    seconds, megapixels = 0.0, 0.0
    for ident, noisy, clean in tqdm(iter_pairs(data), unit="image", disable=not progress):
        start = time.perf_counter()
        denoised = denoiser.pixels(noisy)
        seconds += time.perf_counter() - start
        megapixels += noisy.shape[0] * noisy.shape[1] / 1e6
        try:
            row: dict[str, object] = {
                "image": ident,
                "psnr": psnr(denoised, clean),
                "ssim": ssim(denoised, clean, ssim_convention),
            }
            if lpips is not None:
                row["lpips"] = lpips.distance(denoised, clean)
            row["psnr_noisy"] = psnr(noisy, clean)
            row["ssim_noisy"] = ssim(noisy, clean, ssim_convention)
        except MetricError as exc:
            raise MetricError(f"{data}: image {ident}: {exc}") from None
        result.rows.append(row)
        if on_image is not None:
            on_image(ident, noisy, denoised, clean)
        if save_images is not None:
            write_image(
                Path(save_images) / f"{ident}.png", np.concatenate([noisy, denoised, clean], axis=1)
            )
    if not result.rows:
        raise SassidError(f"{data}: no images to evaluate")
    result.summary = {
        "psnr": float(np.mean([r["psnr"] for r in result.rows])),
        "ssim": float(np.mean([r["ssim"] for r in result.rows])),
        "ssim_convention": ssim_convention,
        "images": len(result.rows),
        "seconds_per_megapixel": seconds / megapixels,
        "net": denoiser.net,
        "ensemble": denoiser.ensemble,
    }
    if lpips is not None:
        result.summary["lpips"] = float(np.mean([r["lpips"] for r in result.rows]))
    result.summary["psnr_noisy"] = float(np.mean([r["psnr_noisy"] for r in result.rows]))
    result.summary["ssim_noisy"] = float(np.mean([r["ssim_noisy"] for r in result.rows]))
    return result


def check_evaluation_outputs(
    model: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    save_images: str | os.PathLike[str] | None = None,
    files: Mapping[str, str | os.PathLike[str] | None] | None = None,
    overwrite: bool = False,
) -> None:
    """Refuse results that would replace the model, a noisy or clean input, or one another:
    ``save_images``'s ``<id>.png`` strips and ``files`` (option name -> result file, e.g. the
    CLI's ``--json``, ``--csv``, ``--report``); and, unless ``overwrite``, strips that would
    replace files already in ``save_images`` (result files are rewritten, as results are).

    Raises:
        OutputError: one line naming the option and the file.
    """
    outputs = {name: Path(path) for name, path in (files or {}).items() if path is not None}
    if not outputs and save_images is None:
        return  # nothing to write: the model and data are checked where they are read
    inputs, idents = pair_files(data)  # (SIDD blocks: no ids; their strips are NN_KK.png)
    if Path(model).exists():
        inputs.append(model_file(model))
    strips = (
        [Path(save_images) / f"{ident}.png" for ident in idents] if save_images is not None else []
    )
    for strip in strips:
        outputs[f"--save-images ({strip.name})"] = strip
    check_results(outputs, inputs)
    check_new_outputs(strips, overwrite=overwrite)


def evaluate(
    model: str | os.PathLike[str],
    data: str | os.PathLike[str],
    *,
    net: str = "unet",
    tile: int | None = None,
    overlap: int | None = None,
    ensemble: bool = False,
    device: str = "auto",
    guard: bool = True,
    ssim_convention: str = "skimage",
    save_images: str | os.PathLike[str] | None = None,
    progress: bool = True,
    lpips: LPIPS | bool = False,
    lpips_backbone: str | os.PathLike[str] | None = None,
    lpips_heads: str | os.PathLike[str] | None = None,
    on_image: Callable[[str, np.ndarray, np.ndarray, np.ndarray], object] | None = None,
    overwrite: bool = False,
) -> EvaluationResult:
    """Load ``model`` and score it on ``data``; see the module docstring for formats.

    ``overwrite``: let ``save_images`` strips replace files of the same name already there.

    ``lpips=True`` loads LPIPS from local weights only (``sassid.lpips.load_lpips``); when they
    are missing, LPIPS is skipped and ``result.notes`` says why.
    """
    check_evaluation_outputs(model, data, save_images=save_images, overwrite=overwrite)  # first
    notes: list[str] = []
    metric: LPIPS | None = lpips if isinstance(lpips, LPIPS) else None
    if lpips is True:
        metric, reason = load_lpips(lpips_backbone, lpips_heads)
        if metric is None:
            notes.append(reason)
    denoiser = Denoiser.from_model(
        model, net=net, tile=tile, overlap=overlap, ensemble=ensemble, device=device, guard=guard
    )
    result = evaluate_denoiser(
        denoiser,
        data,
        ssim_convention=ssim_convention,
        save_images=save_images,
        progress=progress,
        lpips=metric,
        on_image=on_image,
    )
    result.notes.extend(notes)
    return result
