"""Noisy/clean pairs from any supported source, for evaluation and validation.

Sources: a folder of ``<id>_noisy.*`` + ``<id>_clean.*`` files, ``noisy/`` + ``clean/``
folders, or SIDD validation (a folder or one of ``ValidationNoisyBlocksSrgb.mat`` /
``ValidationGtBlocksSrgb.mat``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sassid.errors import SassidError
from sassid.io import find_pairs, read_image, source_path
from sassid.pixels import from_pixels, to_pixels

__all__ = ["iter_pairs", "pair_files"]


def iter_pairs(data: str | os.PathLike[str]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(id, noisy, clean) HWC arrays from any supported data source."""
    path = source_path(data)
    sidd = _sidd_validation_files(path)
    if sidd is not None:
        from sassid.formats.sidd import read_blocks

        noisy, clean = read_blocks(sidd[0]), read_blocks(sidd[1])
        for n in range(noisy.shape[0]):
            for k in range(noisy.shape[1]):
                yield f"{n:02d}_{k:02d}", noisy[n, k], clean[n, k]
        return
    for ident, noisy_path, clean_path in find_pairs(path):
        noisy, clean = read_image(noisy_path).pixels, read_image(clean_path).pixels
        if noisy.shape != clean.shape:
            raise SassidError(
                f"{noisy_path}: size {noisy.shape} differs from {clean_path} ({clean.shape})"
            )
        if noisy.dtype != clean.dtype:
            # Scores compare like with like: the 16-bit one is rounded to 8 bit.
            high = noisy_path if noisy.dtype == np.uint16 else clean_path
            warnings.warn(f"{high}: 16-bit, scored at 8 bit like its partner", stacklevel=2)
            noisy = from_pixels(to_pixels(noisy), np.uint8)
            clean = from_pixels(to_pixels(clean), np.uint8)
        yield ident, noisy, clean


def pair_files(data: str | os.PathLike[str]) -> tuple[list[Path], list[str]]:
    """Every file ``iter_pairs(data)`` reads (noisy and clean), and the ids it will yield,
    from their names alone (SIDD blocks' ``NN_KK`` from the noisy array's shape, read from the
    .mat file's header; none where it cannot be read): what a result written beside them must
    not replace."""
    path = source_path(data)
    sidd = _sidd_validation_files(path)
    if sidd is not None:
        from sassid.formats.sidd import block_shape

        shape = block_shape(sidd[0])
        ids = (
            [f"{n:02d}_{k:02d}" for n in range(shape[0]) for k in range(shape[1])]
            if shape and len(shape) == 5
            else []
        )
        return list(sidd), ids
    pairs = find_pairs(path)
    return [file for _, noisy, clean in pairs for file in (noisy, clean)], [p[0] for p in pairs]


def _sidd_validation_files(path: Path) -> tuple[Path, Path] | None:
    folder = path if path.is_dir() else path.parent
    noisy, clean = folder / "ValidationNoisyBlocksSrgb.mat", folder / "ValidationGtBlocksSrgb.mat"
    if (path.is_dir() or path.suffix == ".mat") and noisy.exists():
        if not clean.exists():
            raise SassidError(f"{clean}: missing (needed beside {noisy.name})")
        return noisy, clean
    return None
