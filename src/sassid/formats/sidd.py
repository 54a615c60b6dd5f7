"""SIDD sRGB: validation/benchmark block files and the two submission formats.

Blocks are uint8 arrays indexed [image n, block k, H, W, C], 40 x 32 x 256 x 256 x 3 in the
official files. ``.mat`` files are read as MATLAB v5 (SciPy) or v7.3 (HDF5, via h5py; MATLAB
stores column-major, so the axes come reversed and are transposed back).

Submissions:
- old server: ``SubmitSrgb.mat`` with key ``DenoisedBlocksSrgb``, uint8, the noisy array's shape;
- Kaggle: ``SubmitSrgb.csv`` with header ``ID,BLOCK`` and one row per block, ID = n * K + k
  (0-based, row-major over image and block) and BLOCK the base64 of the block's raw uint8 bytes
  in H x W x C order.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import numpy as np

from sassid.errors import SassidError
from sassid.io import atomic_path

__all__ = ["read_blocks", "write_submit_mat", "write_kaggle_csv", "read_kaggle_csv"]


def _first_key(keys: list[str], path: Path) -> str:
    keys = [k for k in keys if not k.startswith("__") and not k.startswith("#")]
    if not keys:
        raise SassidError(f"{path}: holds no array")
    return keys[0]


def read_blocks(path: str | os.PathLike[str], key: str | None = None) -> np.ndarray:
    """The 5-D uint8 block array of a SIDD ``.mat`` file (v5 or v7.3)."""
    path = Path(path)
    if not path.is_file():
        raise SassidError(f"{path}: no such file")
    with open(path, "rb") as f:
        is_hdf5 = f.read(8) == b"\x89HDF\r\n\x1a\n" or (
            f.seek(512) == 512 and f.read(8) == b"\x89HDF\r\n\x1a\n"
        )
    if is_hdf5:
        try:
            import h5py
        except ImportError:
            raise SassidError(
                f"{path}: MATLAB v7.3 file; install h5py (pip install 'sassid[mat73]')"
            ) from None
        with h5py.File(path, "r") as f:
            name = key or _first_key(list(f.keys()), path)
            blocks = np.asarray(f[name]).transpose(tuple(range(f[name].ndim))[::-1])
    else:
        from scipy.io import loadmat

        try:
            data = loadmat(path)
        except Exception as exc:  # noqa: BLE001 - SciPy raises several types for bad files
            raise SassidError(f"{path}: not a readable .mat file ({exc})") from None
        blocks = data[key or _first_key(list(data), path)]
    if blocks.ndim != 5 or blocks.shape[-1] != 3:
        raise SassidError(f"{path}: expected [image, block, H, W, 3] blocks, got {blocks.shape}")
    return np.ascontiguousarray(blocks.astype(np.uint8, copy=False))


def write_submit_mat(blocks: np.ndarray, path: str | os.PathLike[str]) -> None:
    """The old SIDD server's ``SubmitSrgb.mat``: key ``DenoisedBlocksSrgb``, uint8."""
    from scipy.io import savemat

    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        savemat(f, {"DenoisedBlocksSrgb": np.asarray(blocks, dtype=np.uint8)})


def write_kaggle_csv(blocks: np.ndarray, path: str | os.PathLike[str]) -> None:
    """Kaggle's ``ID,BLOCK`` CSV: base64 of each block's raw uint8 bytes."""
    blocks = np.asarray(blocks, dtype=np.uint8)
    n_images, n_blocks = blocks.shape[:2]
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        f.write("ID,BLOCK\n")
        for n in range(n_images):
            for k in range(n_blocks):
                data = base64.b64encode(np.ascontiguousarray(blocks[n, k]).tobytes()).decode()
                f.write(f"{n * n_blocks + k},{data}\n")


def read_kaggle_csv(
    path: str | os.PathLike[str], block_shape: tuple[int, int, int] = (256, 256, 3)
) -> np.ndarray:
    """Blocks of a Kaggle CSV, (N, H, W, C) in ID order."""
    rows = Path(path).read_text().splitlines()[1:]
    decoded = sorted((int(i), b) for i, b in (r.split(",", 1) for r in rows))
    return np.stack(
        [np.frombuffer(base64.b64decode(b), np.uint8).reshape(block_shape) for _, b in decoded]
    )
