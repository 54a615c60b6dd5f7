"""Benchmark submissions: SIDD (old-server .mat and Kaggle CSV) and DND (per-image bundles).

Like the reference's submission scripts, the x8 self-ensemble is on unless turned off.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from sassid.constants import PIXEL_MAX
from sassid.formats import dnd, sidd
from sassid.inference import Denoiser
from sassid.outputs import check_results, ensure_folder

__all__ = ["submit_sidd", "submit_dnd"]


def submit_sidd(
    model: str | os.PathLike[str],
    noisy_blocks: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    net: str = "unet",
    ensemble: bool = True,
    device: str = "auto",
    progress: bool = True,
) -> tuple[Path, Path]:
    """Denoise every block of ``BenchmarkNoisyBlocksSrgb.mat``; write SubmitSrgb.mat and .csv."""
    mat, csv = Path(output) / "SubmitSrgb.mat", Path(output) / "SubmitSrgb.csv"
    check_results({"SubmitSrgb.mat": mat, "SubmitSrgb.csv": csv}, [Path(noisy_blocks)])
    ensure_folder(output)
    blocks = sidd.read_blocks(noisy_blocks)
    # the model's own gate on every block: a benchmark scores the method, not per-block choices
    denoiser = Denoiser.from_model(
        model, net=net, tile=0, ensemble=ensemble, device=device, guard=False
    )
    out = np.empty_like(blocks)
    n_images, n_blocks = blocks.shape[:2]
    with tqdm(total=n_images * n_blocks, unit="block", disable=not progress) as bar:
        for n in range(n_images):
            for k in range(n_blocks):
                out[n, k] = denoiser.pixels(blocks[n, k])
                bar.update(1)
    sidd.write_submit_mat(out, mat)
    sidd.write_kaggle_csv(out, csv)
    return mat, csv


def submit_dnd(
    model: str | os.PathLike[str],
    root: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    net: str = "unet",
    ensemble: bool = True,
    device: str = "auto",
    progress: bool = True,
) -> list[Path]:
    """Denoise the DND boxes (with context margins); write ``bundled/%04d.mat`` per image."""
    folder = ensure_folder(Path(output) / "bundled")
    # as for SIDD, the model's own gate (``tensor`` never applies the per-photo guard)
    denoiser = Denoiser.from_model(
        model, net=net, tile=0, ensemble=ensemble, device=device, guard=False
    )

    def run(crop01: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(crop01.transpose(2, 0, 1)))[None] * PIXEL_MAX
        return (denoiser.tensor(x)[0].cpu().numpy().transpose(1, 2, 0) / PIXEL_MAX).astype(
            np.float32
        )

    written = []
    for index, crops in tqdm(dnd.iter_crops(root, run), unit="image", disable=not progress):
        path = folder / f"{index + 1:04d}.mat"
        dnd.write_bundle(crops, path)
        written.append(path)
    return written
