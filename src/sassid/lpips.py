"""LPIPS (Zhang et al., CVPR 2018, AlexNet variant v0.1), computed only from local weights.

No package ships the ImageNet AlexNet backbone, and a random backbone gives meaningless numbers,
so LPIPS runs only when both files are on disk:

- the backbone ``alexnet-owt-7be5be79.pth`` (torchvision's key layout ``features.{0,3,6,8,10}``),
  looked for at ``--lpips-backbone`` or ``$TORCH_HOME/hub/checkpoints/`` (default TORCH_HOME
  ``~/.cache/torch``);
- the linear heads ``alex.pth`` (v0.1, keys ``lin{0..4}.model.1.weight``), at
  ``--lpips-heads`` or inside an installed ``lpips`` package (found without importing it).

Otherwise :func:`load_lpips` returns None and a one-line reason. The metric: inputs scaled to
[-1, 1], shifted and scaled per channel, five ReLU taps of AlexNet, each unit-normalised over
channels, squared differences weighted by the 1x1 heads, averaged over space, summed over taps.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from sassid.pixels import dtype_max

__all__ = ["ALEXNET_FILE", "LPIPS", "load_lpips", "lpips_note"]

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
# (in, out, kernel, stride, padding, max-pool before) for torchvision's features.{0,3,6,8,10}
_ALEX = (
    (3, 64, 11, 4, 2, False),
    (64, 192, 5, 1, 2, True),
    (192, 384, 3, 1, 1, True),
    (384, 256, 3, 1, 1, False),
    (256, 256, 3, 1, 1, False),
)
_FEATURE_INDEX = (0, 3, 6, 8, 10)


class LPIPS(nn.Module):
    """Perceptual distance between (B, 3, H, W) images in [-1, 1]; returns (B,)."""

    shift: Tensor
    scale: Tensor

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(i, o, k, s, p) for i, o, k, s, p, _ in _ALEX)
        self.heads = nn.ModuleList(nn.Conv2d(o, 1, 1, bias=False) for _, o, *_ in _ALEX)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1))

    def features(self, x: Tensor) -> list[Tensor]:
        taps = []
        h = (x - self.shift) / self.scale
        for conv, (*_, pool) in zip(self.convs, _ALEX, strict=True):
            if pool:
                h = nn.functional.max_pool2d(h, 3, 2)
            h = conv(h).relu()
            taps.append(h)
        return taps

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        total = torch.zeros(x.shape[0], device=x.device)
        for head, fx, fy in zip(self.heads, self.features(x), self.features(y), strict=True):
            nx = fx / (fx.square().sum(1, keepdim=True).sqrt() + 1e-10)
            ny = fy / (fy.square().sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + head((nx - ny).square()).mean(dim=(1, 2, 3))
        return total

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        """LPIPS of two HWC uint8/uint16 images."""
        top = dtype_max(a.dtype)

        def prep(img: np.ndarray) -> Tensor:
            t = torch.from_numpy(img.astype(np.float32).transpose(2, 0, 1))[None]
            return t / top * 2 - 1

        from sassid.metrics import MetricError

        if min(a.shape[:2]) < 32:  # AlexNet's stride-4 11x11 conv and three 3x3 max-pools
            raise MetricError(f"LPIPS needs at least 32x32 pixels, got {a.shape[1]}x{a.shape[0]}")
        with torch.inference_mode():
            return float(self(prep(a), prep(b))[0])


def _default_backbone() -> Path:
    home = os.environ.get("TORCH_HOME", os.path.join(os.path.expanduser("~"), ".cache", "torch"))
    return Path(home) / "hub" / "checkpoints" / ALEXNET_FILE


def _default_heads() -> Path | None:
    spec = importlib.util.find_spec("lpips")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "weights" / "v0.1" / "alex.pth"


def load_lpips(
    backbone: str | os.PathLike[str] | None = None, heads: str | os.PathLike[str] | None = None
) -> tuple[LPIPS | None, str]:
    """The metric and "", or None and the reason it is skipped (one line)."""
    backbone_path = Path(backbone) if backbone else _default_backbone()
    heads_path = Path(heads) if heads else _default_heads()
    if not backbone_path.is_file():
        return None, f"LPIPS skipped: no AlexNet backbone at {backbone_path} ({lpips_note()})"
    if heads_path is None or not heads_path.is_file():
        return None, (
            "LPIPS skipped: no linear heads (pass --lpips-heads alex.pth, or "
            "pip install lpips --no-deps)"
        )
    weights = []
    for path in (backbone_path, heads_path):
        try:
            with warnings.catch_warnings():  # torch's notes on pickle protocols
                warnings.simplefilter("ignore")
                weights.append(torch.load(path, map_location="cpu", weights_only=True))
        except Exception:  # noqa: BLE001 - any unpickling failure means a file of another kind
            return None, f"LPIPS skipped: {path}: not a PyTorch state_dict"
    features, lins = weights
    try:
        metric = LPIPS()
        state = dict(metric.state_dict())
        for i, index in enumerate(_FEATURE_INDEX):
            for kind in ("weight", "bias"):
                state[f"convs.{i}.{kind}"] = features[f"features.{index}.{kind}"]
            state[f"heads.{i}.weight"] = lins[f"lin{i}.model.1.weight"]
        metric.load_state_dict(state)
    except (KeyError, RuntimeError, TypeError, IndexError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"LPIPS skipped: unusable weights ({reason})"
    return metric.eval(), ""


def lpips_note() -> str:
    return (
        "the ImageNet AlexNet weights are not shipped by any package; "
        f"place {ALEXNET_FILE} there or pass --lpips-backbone"
    )
