from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch
from scipy.io import loadmat

from sassid.formats.dnd import context_window, iter_crops, read_boxes, write_bundle
from sassid.inference import Denoiser
from sassid.submit import submit_dnd
from tests.helpers import write_tiny_model


def _fabricate(
    root: Path, boxes: list[np.ndarray], size: tuple[int, int] = (200, 260)
) -> list[np.ndarray]:
    (root / "images_srgb").mkdir(parents=True)
    images = []
    with h5py.File(root / "info.mat", "w") as info:
        refs = []
        for i, b in enumerate(boxes):
            refs.append(info.create_dataset(f"#refs#/b{i}", data=b.T.astype(float)).ref)
        group = info.create_group("info")
        group.create_dataset("boundingboxes", data=np.array([refs], dtype=h5py.ref_dtype))
    for i in range(len(boxes)):
        image = np.random.default_rng(i).random((*size, 3)).astype(np.float32)
        with h5py.File(root / "images_srgb" / f"{i + 1:04d}.mat", "w") as f:
            f["InoisySRGB"] = image.T
        images.append(image)
    return images


def test_boxes_and_context_margins(tmp_path: Path) -> None:
    boxes = [np.array([[11, 21, 74, 84], [101, 151, 164, 214]])]  # 64 x 64 boxes, 1-based
    _fabricate(tmp_path, boxes)
    assert np.array_equal(read_boxes(tmp_path)[0], boxes[0])
    rows, cols, inner_rows, inner_cols = context_window(boxes[0][1], 200, 260)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (
        100 - 64,
        164 + 32,
        150 - 64,
        214 + 32,
    )
    assert (inner_rows.start, inner_cols.start) == (64, 64)
    assert context_window(boxes[0][0], 200, 260)[0].start == 10  # 10 px above: rounds to 0


def test_identity_crops_and_bundle(tmp_path: Path) -> None:
    boxes = [np.array([[11, 21, 74, 84], [101, 151, 164, 214]])]
    images = _fabricate(tmp_path, boxes)
    ((index, crops),) = list(iter_crops(tmp_path, lambda x: x))
    assert index == 0 and np.array_equal(crops[0], images[0][10:74, 20:84])
    write_bundle(crops, tmp_path / "0001.mat")
    stored = loadmat(tmp_path / "0001.mat")
    assert stored["Idenoised"].shape == (1, 2) and stored["Idenoised"][0, 1].shape == (64, 64, 3)
    assert str(stored["eval_version"][0]) == "1.0" and not stored["israw"].any()


def test_submit_dnd(tmp_path: Path) -> None:
    (image,) = _fabricate(tmp_path / "dnd", [np.array([[11, 21, 74, 84]])])
    model = write_tiny_model(tmp_path / "model.pt")
    written = submit_dnd(
        model, tmp_path / "dnd", tmp_path / "out", ensemble=False, device="cpu", progress=False
    )
    assert [p.name for p in written] == ["0001.mat"]
    crop = loadmat(written[0])["Idenoised"][0, 0]
    assert (
        crop.dtype == np.float32
        and crop.shape == (64, 64, 3)
        and 0 <= crop.min() <= crop.max() <= 1
    )
    # the box denoised inside its context window (none above and left, where the image leaves
    # 10 and 20 px; 64 px below and right), then cut out and clipped: not the box alone
    denoiser = Denoiser.from_model(model, tile=0, device="cpu", guard=False)

    def run(image01: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(image01.transpose(2, 0, 1)))[None] * 255
        return denoiser.tensor(x)[0].numpy().transpose(1, 2, 0) / 255

    window = np.clip(run(image[10 : 74 + 64, 20 : 84 + 64]), 0, 1)
    np.testing.assert_allclose(crop, window[:64, :64], atol=1e-6)
    alone = np.clip(run(image[10:74, 20:84]), 0, 1)
    assert np.abs(crop - alone).max() > 1e-3
