"""DND sRGB benchmark: reading the noisy images and boxes, and writing the submission bundles.

Input (MATLAB v7.3, h5py): ``info.mat`` whose ``info/boundingboxes`` holds, per image, a
reference to a 4 x 20 array of 1-based boxes (rows b0..b2, columns b1..b3 inclusive), and
``images_srgb/%04d.mat`` with ``InoisySRGB`` float in [0, 1] (stored transposed).

Each 512 x 512 box is denoised with context: up to 80 px around it, clipped at the image border
and rounded down to a multiple of 32 (normally 64 px), as the reference does; the margin is cut
off afterwards. Output: ``bundled/%04d.mat`` per image with ``Idenoised`` (a cell array of the 20
float32 crops in [0, 1]), ``israw = False`` and ``eval_version = "1.0"``, the layout of the
official bundling script (written with plain object arrays, so it works on current NumPy).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from sassid.errors import SassidError
from sassid.io import atomic_path

__all__ = ["CONTEXT", "read_boxes", "read_noisy", "context_window", "iter_crops", "write_bundle"]

CONTEXT = 80


def _h5py():  # noqa: ANN202
    try:
        import h5py
    except ImportError:
        raise SassidError(
            "DND files are MATLAB v7.3; install h5py (pip install 'sassid[mat73]')"
        ) from None
    return h5py


def read_boxes(root: str | os.PathLike[str]) -> list[np.ndarray]:
    """Per image, a (20, 4) int array of 1-based boxes [row0, col0, row1, col1]."""
    h5py = _h5py()
    path = Path(root) / "info.mat"
    if not path.is_file():
        raise SassidError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            refs = f["info"]["boundingboxes"]
            boxes = [np.asarray(f[refs[0][i]]).T.astype(int) for i in range(refs.shape[1])]
    except Exception as exc:  # noqa: BLE001 - h5py raises many types for files of another kind
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SassidError(
            f"{path}: not a DND info.mat with info/boundingboxes ({reason})"
        ) from None
    if not boxes or any(b.ndim != 2 or b.shape[1] != 4 for b in boxes):
        raise SassidError(f"{path}: no (N, 4) bounding boxes in info/boundingboxes")
    return boxes


def read_noisy(root: str | os.PathLike[str], index: int) -> np.ndarray:
    """Image ``index`` (0-based) as (H, W, 3) float32 in [0, 1]."""
    h5py = _h5py()
    path = Path(root) / "images_srgb" / f"{index + 1:04d}.mat"
    if not path.is_file():
        raise SassidError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            image = np.asarray(f["InoisySRGB"], dtype=np.float32).T
    except Exception as exc:  # noqa: BLE001 - h5py raises many types for files of another kind
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SassidError(f"{path}: not a DND image with InoisySRGB ({reason})") from None
    if image.ndim != 3 or image.shape[2] != 3 or not np.isfinite(image).all():
        raise SassidError(f"{path}: InoisySRGB is not a finite (H, W, 3) image")
    return image


def context_window(
    box: np.ndarray, height: int, width: int, context: int = CONTEXT
) -> tuple[slice, slice, slice, slice]:
    """(rows, cols) of the crop with context, and (rows, cols) of the box inside that crop."""
    r0, c0, r1, c1 = int(box[0]) - 1, int(box[1]) - 1, int(box[2]), int(box[3])
    top = min(context, r0) // 32 * 32
    left = min(context, c0) // 32 * 32
    bottom = min(context, height - r1) // 32 * 32
    right = min(context, width - c1) // 32 * 32
    outer = (slice(r0 - top, r1 + bottom), slice(c0 - left, c1 + right))
    inner = (slice(top, top + r1 - r0), slice(left, left + c1 - c0))
    return outer[0], outer[1], inner[0], inner[1]


def iter_crops(
    root: str | os.PathLike[str], denoise: Callable[[np.ndarray], np.ndarray]
) -> Iterator[tuple[int, list[np.ndarray]]]:
    """Per image: its index and the 20 denoised box crops, float32 (H, W, 3) in [0, 1].

    ``denoise`` takes and returns (H, W, 3) float32 in [0, 1].
    """
    for index, boxes in enumerate(read_boxes(root)):
        image = read_noisy(root, index)
        h, w = image.shape[:2]
        crops = []
        for box in boxes:
            rows, cols, inner_rows, inner_cols = context_window(box, h, w)
            out = denoise(image[rows, cols])
            crops.append(np.clip(out[inner_rows, inner_cols], 0, 1).astype(np.float32))
        yield index, crops


def write_bundle(crops: list[np.ndarray], path: str | os.PathLike[str]) -> None:
    """One image's ``bundled/%04d.mat``: Idenoised (cell of crops), israw, eval_version."""
    from scipy.io import savemat

    cells = np.empty((1, len(crops)), dtype=object)
    for i, crop in enumerate(crops):
        cells[0, i] = crop
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        savemat(f, {"Idenoised": cells, "israw": False, "eval_version": "1.0"})
