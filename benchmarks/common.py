"""Provenance for results files: date, machine, command, commit, library versions."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parents[1] / "results"
DATA = Path(
    os.environ.get("SASSID_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
"""The real noisy/clean sets: ``shared/data`` beside the checkout, or ``$SASSID_DATA`` (a copy
of the tree elsewhere, e.g. on a lent machine)."""
OLD_TILING = (512, 128)
"""U-Net tile and overlap of speed results measured before the result recorded them (the
default then); newer results hold their own ``tiling``."""


CPU_FEATURES = ("avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
"""The instruction sets that set this project's CPU speeds (bf16 and int8 convolutions): one
session's machine with AMX ran a BNN training step 2.1x faster than another's."""


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """Which of ``CPU_FEATURES`` the CPU reports (empty where ``cpuinfo`` is unreadable)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return []
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")),
        [],
    )
    return [feature for feature in CPU_FEATURES if feature in flags]


def provenance() -> dict[str, Any]:
    # SASSID_COMMIT, where set, names the commit of a copied tree whose own .git (if any) may
    # be stale: a lent GPU machine's copy reported the session's first commit, not the tree's
    commit = os.environ.get("SASSID_COMMIT", "")
    try:
        commit = (
            commit
            or subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": ", ".join([platform.machine(), f"{os.cpu_count()} CPUs", *cpu_features()]),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": commit,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def stamp(meta: dict[str, Any]) -> str:
    """A results file's provenance sentence: date, machine, versions, commit and command."""
    return (
        f"{meta['date']}, {meta['machine']}, torch {meta['torch']}, {meta['threads']} threads, "
        f"commit {meta['commit']}. Command: `{meta['command']}`."
    )


def matmul_gflops(size: int = 1024, repeats: int = 5, device: str = "cpu") -> float:
    """Float32 matrix-multiply throughput: the same-run baseline that speed ratios refer to."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def eval_pairs_folder(folder: Path, work: Path, count: int) -> tuple[list[Path], Path]:
    """All noisy paths of ``folder``'s pairs, and ``work/eval_pairs`` holding links to its
    first ``count`` pairs (the ones scored)."""
    from sassid.io import find_pairs

    all_pairs = find_pairs(folder)
    eval_dir = work / "eval_pairs"
    eval_dir.mkdir(parents=True, exist_ok=True)
    for ident, noisy, clean in all_pairs[:count]:
        for kind, src in (("noisy", noisy), ("clean", clean)):
            link = eval_dir / f"{ident}_{kind}{src.suffix}"
            if not link.exists():
                link.symlink_to(src)
    return [noisy for _, noisy, _ in all_pairs], eval_dir


def scored_sets(
    names: list[str], data: Path, work: Path, count: int
) -> Iterator[tuple[str, list[Path], Path, list[Any]]]:
    """For each real set of ``names`` present under ``data`` (the others are reported
    skipped): its name, all its noisy paths, its ``eval_pairs_folder`` and the scored pairs
    read from it (``iter_pairs``: id, noisy, clean)."""
    from sassid.pairs import iter_pairs

    for name in names:
        folder = data / name
        if not folder.exists():
            print(f"skipped: {folder} is absent")
            continue
        noisy_paths, eval_dir = eval_pairs_folder(folder, work / name, count)
        yield name, noisy_paths, eval_dir, list(iter_pairs(eval_dir))


def set_absent(name: str) -> bool:
    """Whether the real set ``name`` is missing under ``DATA`` (saying so: the benchmark then
    skips); the demo's photos ship with scikit-image and are never missing."""
    if name == "demo" or (DATA / name).exists():
        return False
    print(f"skipped: {DATA / name} is absent")
    return True


def scored_photos(
    name: str, count: int, iso_like: float | None = None
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """The first ``count`` (id, noisy, clean) HWC photos of the real set ``name`` under
    ``DATA``, or with ``name == "demo"`` the demo's: scikit-image's photos made noisy by
    ``sassid.synth`` at ``iso_like`` (default the demo's) with the demo's seeds, the noise-free
    render as clean."""
    if name == "demo":
        from sassid.constants import DEMO_ISO
        from sassid.demo import demo_photos
        from sassid.synth import add_camera_noise, render_reference

        iso = DEMO_ISO if iso_like is None else iso_like
        return [
            (key, add_camera_noise(p, iso, seed=i), render_reference(p))
            for i, (key, p) in enumerate(demo_photos().items())
        ][:count]
    from sassid.io import find_pairs, read_image

    return [
        (ident, read_image(noisy).pixels, read_image(clean).pixels)
        for ident, noisy, clean in find_pairs(DATA / name)[:count]
    ]


def median_mps(
    forwards: dict[str, Callable[[torch.Tensor], torch.Tensor]], x: torch.Tensor, rounds: int
) -> dict[str, float]:
    """Median MP/s of each forward on ``x``, rounds interleaved so drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in forwards}
    with torch.no_grad():
        for forward in forwards.values():
            forward(x)
        for _ in range(rounds):
            for name, forward in forwards.items():
                start = time.perf_counter()
                forward(x)
                times[name].append(time.perf_counter() - start)
    megapixels = x.shape[-2] * x.shape[-1] / 1e6
    return {name: megapixels / float(np.median(t)) for name, t in times.items()}


def net_psnr(
    run: Path | Any, net: str, photos: list[tuple[str, np.ndarray, np.ndarray]], **options: Any
) -> float:
    """Mean PSNR (dB, uint8) of a trained run's ``net`` over ``photos``, as ``sassid denoise``
    runs it (default tiles, the run's output corrections), or with ``options`` for
    ``Denoiser.from_model`` (e.g. ``noise_gate=0.0, guard=False``: the network's own output).
    ``run``: anything ``Denoiser.from_model`` reads (a path, or a ``models.ModelFile``)."""
    from sassid.inference import Denoiser
    from sassid.metrics import psnr

    denoiser = Denoiser.from_model(run, net=net, device="cpu", **options)
    return float(np.mean([psnr(denoiser.pixels(n), c) for _, n, c in photos]))


def frozen_run_header(
    run: Path, name: str, photos: list[tuple[str, np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    """The first keys of a study that retrains stages on ``run``'s frozen networks: provenance,
    the run, the set and its scored photos' noisy PSNR."""
    from sassid.metrics import psnr

    return {
        "meta": provenance(),
        "model": str(run),
        "set": name,
        "images": len(photos),
        "noisy": float(np.mean([psnr(n, c) for _, n, c in photos])),
    }


def write_results(name: str, payload: dict[str, Any], markdown: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)


def conv_macs(net: torch.nn.Module, size: int = 256) -> dict[str, int]:
    """Multiply-adds of each convolution of ``net`` (module name -> count) on one
    ``size`` x ``size`` RGB input."""
    macs: dict[str, int] = {}
    hooks = [
        module.register_forward_hook(
            lambda m, _a, out, name=name: macs.__setitem__(
                name, out[0].numel() * m.weight[0].numel()
            )
        )
        for name, module in net.named_modules()
        if isinstance(module, torch.nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            net(torch.zeros(1, 3, size, size))
    finally:
        for hook in hooks:
            hook.remove()
    return macs


def int8_gemm_gops(size: int = 1024, repeats: int = 5, threads: int | None = None) -> float | None:
    """u8 x s8 matrix-multiply throughput through onnxruntime (MatMulInteger: the integer GEMM
    kernel its int8 convolutions run on): the ceiling an int8 network approaches on this CPU.
    None without onnx/onnxruntime."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return None
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["c"])],
        "gemm",
        [
            helper.make_tensor_value_info("a", TensorProto.UINT8, [size, size]),
            helper.make_tensor_value_info("b", TensorProto.INT8, [size, size]),
        ],
        [helper.make_tensor_value_info("c", TensorProto.INT32, [size, size])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    rng = np.random.default_rng(0)
    feeds = {
        "a": rng.integers(0, 256, (size, size), dtype=np.uint8),
        "b": rng.integers(-128, 128, (size, size), dtype=np.int8),
    }
    session.run(None, feeds)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        session.run(None, feeds)
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9
