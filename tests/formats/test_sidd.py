from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
from scipy.io import loadmat, savemat

from sassid.errors import SassidError
from sassid.formats.sidd import (
    block_shape,
    read_blocks,
    read_kaggle_csv,
    write_kaggle_csv,
    write_submit_mat,
)


def _blocks(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((2, 3, 32, 32, 3)) * 255).astype(np.uint8)


def test_v5_round_trip(tmp_path: Path) -> None:
    blocks = _blocks()
    savemat(tmp_path / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": blocks})
    assert np.array_equal(read_blocks(tmp_path / "ValidationNoisyBlocksSrgb.mat"), blocks)
    assert block_shape(tmp_path / "ValidationNoisyBlocksSrgb.mat") == blocks.shape  # header only


def test_v73_hdf5_is_transposed_back(tmp_path: Path) -> None:
    blocks = _blocks(1)
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as f:
        f["BenchmarkNoisyBlocksSrgb"] = blocks.transpose(4, 3, 2, 1, 0)  # MATLAB column-major
    assert np.array_equal(read_blocks(path), blocks)
    assert block_shape(path) == blocks.shape
    path.write_bytes(b"not a mat file")
    assert block_shape(path) is None


def test_submission_formats(tmp_path: Path) -> None:
    blocks = _blocks(2)
    write_submit_mat(blocks, tmp_path / "SubmitSrgb.mat")
    stored = loadmat(tmp_path / "SubmitSrgb.mat")["DenoisedBlocksSrgb"]
    assert stored.dtype == np.uint8 and np.array_equal(stored, blocks)
    write_kaggle_csv(blocks, tmp_path / "SubmitSrgb.csv")
    lines = (tmp_path / "SubmitSrgb.csv").read_text().splitlines()
    assert lines[0] == "ID,BLOCK" and len(lines) == 1 + 6
    back = read_kaggle_csv(tmp_path / "SubmitSrgb.csv", (32, 32, 3))
    assert np.array_equal(back, blocks.reshape(6, 32, 32, 3))


def test_bad_files(tmp_path: Path) -> None:
    (tmp_path / "x.mat").write_bytes(b"nope")
    with pytest.raises(SassidError, match="x.mat: not a readable .mat"):
        read_blocks(tmp_path / "x.mat")
    savemat(tmp_path / "y.mat", {"a": np.zeros((4, 4))})
    with pytest.raises(SassidError, match="expected"):
        read_blocks(tmp_path / "y.mat")
