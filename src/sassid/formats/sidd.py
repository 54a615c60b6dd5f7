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

__all__ = ["SIDD_KEYS", "read_blocks", "write_submit_mat", "write_kaggle_csv", "read_kaggle_csv"]


# The arrays of the official files (and of our own submission), by the name MATLAB gave them.
SIDD_KEYS = (
    "BenchmarkNoisyBlocksSrgb",
    "ValidationNoisyBlocksSrgb",
    "ValidationGtBlocksSrgb",
    "DenoisedBlocksSrgb",
)


def _pick_key(keys: list[str], path: Path) -> str:
    """The array to read: the known SIDD name present, else the only array in the file."""
    arrays = [k for k in keys if not k.startswith("__") and not k.startswith("#")]
    known = [k for k in arrays if k in SIDD_KEYS]
    if len(known) == 1:
        return known[0]
    if len(arrays) == 1:
        return arrays[0]
    if not arrays:
        raise SassidError(f"{path}: holds no array")
    raise SassidError(
        f"{path}: holds several arrays ({', '.join(arrays)}) and not one of {', '.join(SIDD_KEYS)}"
    )


def _to_uint8(blocks: np.ndarray, path: Path) -> np.ndarray:
    """Blocks scaled by their type: uint8 as stored, uint16 / 257, float in [0, 1] x 255
    (MATLAB's im2double convention); rounded half up."""
    if blocks.dtype == np.uint8:
        return blocks
    if blocks.dtype == np.uint16:
        return ((blocks.astype(np.uint32) * 2 + 257) // 514).astype(np.uint8)
    if np.issubdtype(blocks.dtype, np.floating):
        if not np.isfinite(blocks).all() or blocks.min() < 0 or blocks.max() > 1:
            raise SassidError(f"{path}: float blocks must lie in [0, 1] (im2double)")
        return np.floor(blocks.astype(np.float64) * 255 + 0.5).astype(np.uint8)
    raise SassidError(f"{path}: blocks of type {blocks.dtype} (need uint8, uint16 or float)")


HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def _is_hdf5(path: Path) -> bool:
    """MATLAB v7.3 files are HDF5, with the signature at 0 or after a 512-byte user block."""
    with open(path, "rb") as f:
        return f.read(8) == HDF5_MAGIC or (f.seek(512) == 512 and f.read(8) == HDF5_MAGIC)


def _read_array(path: Path, key: str | None) -> np.ndarray:
    if _is_hdf5(path):
        try:
            import h5py
        except ImportError:
            raise SassidError(
                f"{path}: MATLAB v7.3 file; install h5py (pip install 'sassid[mat73]')"
            ) from None
        with h5py.File(path, "r") as f:
            name = key or _pick_key(list(f.keys()), path)
            if name not in f or not hasattr(f[name], "ndim"):
                raise SassidError(f"{path}: no array {name!r}")
            return np.asarray(f[name]).transpose(tuple(range(f[name].ndim))[::-1])
    from scipy.io import loadmat

    data = loadmat(path)
    name = key or _pick_key(list(data), path)
    if name not in data:
        raise SassidError(f"{path}: no array {name!r}")
    return np.asarray(data[name])


def block_shape(path: str | os.PathLike[str], key: str | None = None) -> tuple[int, ...] | None:
    """The shape of the block array ``read_blocks`` would read, from the file's headers alone
    (SciPy's ``whosmat``, or the HDF5 dataset's shape); None where it cannot be told."""
    path = Path(path)
    try:
        if _is_hdf5(path):
            import h5py

            with h5py.File(path, "r") as h:
                name = key or _pick_key(list(h.keys()), path)
                return tuple(int(n) for n in h[name].shape[::-1])
        from scipy.io import whosmat

        shapes = {name: shape for name, shape, _ in whosmat(path)}
        return tuple(int(n) for n in shapes[key or _pick_key(list(shapes), path)])
    except Exception:  # noqa: BLE001 - unreadable: read_blocks will say why
        return None


def read_blocks(path: str | os.PathLike[str], key: str | None = None) -> np.ndarray:
    """The 5-D uint8 block array of a SIDD ``.mat`` file (v5 or v7.3), from the array named
    ``key`` or the known SIDD name in the file; uint16 and float [0, 1] blocks are scaled.

    Raises:
        SassidError: not a readable .mat, no or several candidate arrays, wrong shape or
            range, or no blocks; one line naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise SassidError(f"{path}: no such file")
    try:
        blocks = _read_array(path, key)
    except SassidError:
        raise
    except Exception as exc:  # noqa: BLE001 - SciPy and h5py raise many types for bad files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SassidError(f"{path}: not a readable .mat file ({reason})") from None
    if blocks.ndim != 5 or blocks.shape[-1] != 3:
        raise SassidError(f"{path}: expected [image, block, H, W, 3] blocks, got {blocks.shape}")
    if blocks.size == 0:
        raise SassidError(f"{path}: holds no blocks (shape {blocks.shape})")
    return np.ascontiguousarray(_to_uint8(blocks, path))


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
    try:
        rows = Path(path).read_text().splitlines()[1:]
        decoded = sorted((int(i), b) for i, b in (r.split(",", 1) for r in rows))
        return np.stack(
            [np.frombuffer(base64.b64decode(b), np.uint8).reshape(block_shape) for _, b in decoded]
        )
    except (OSError, ValueError) as exc:  # binascii.Error is a ValueError
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SassidError(
            f"{path}: not a SIDD Kaggle CSV of {block_shape} blocks ({reason})"
        ) from None
