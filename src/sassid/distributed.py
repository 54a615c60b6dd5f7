"""Opt-in multi-process training: detected from torchrun's environment, invisible otherwise.

One code path runs on a CPU, one GPU or N GPUs: ``torchrun --nproc_per_node=N sassid train ...``
sets RANK/WORLD_SIZE/LOCAL_RANK; each process trains on its share of the batch, the student is
wrapped in DistributedDataParallel, teachers are not, and only rank 0 logs and writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

__all__ = ["DistInfo", "setup", "teardown", "wrap_student", "barrier", "is_main_process"]


def is_main_process() -> bool:
    """True outside torchrun and on its rank 0: the process that prints and writes."""
    return int(os.environ.get("RANK", "0")) == 0


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(device_kind: str) -> DistInfo:
    """Join the process group torchrun describes (nccl on GPU, gloo on CPU); no-op alone."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap_student(net: nn.Module, info: DistInfo, device: torch.device) -> nn.Module:
    if not info.enabled:
        return net
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(net, device_ids=ids)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
