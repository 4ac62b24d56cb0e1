"""Distributed data parallel helpers: the same ``fit`` under ``torchrun --nproc_per_node=N``.

``DistContext.from_env()`` initialises the default process group when ``WORLD_SIZE > 1`` (NCCL
on CUDA, gloo on CPU, or ``$AFG_DIST_BACKEND``; ``torchrun``'s rendezvous variables are used
unchanged, so multi-node runs need nothing else). Local rank ``r`` trains on GPU
``r % device_count``: one GPU per rank under NCCL; gloo also lets ranks share a GPU. Rank 0 logs
and writes checkpoints; evaluation shards the data without padding and gathers every prediction,
so metrics are over the whole evaluation set.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["DistContext"]


@dataclass
class DistContext:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device_type: str = "cpu") -> DistContext:
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_world_size(), dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")))
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        backend = os.environ.get("AFG_DIST_BACKEND") or (
            "nccl" if device_type == "cuda" and torch.cuda.is_available() else "gloo")
        dist.init_process_group(backend=backend)
        return cls(dist.get_world_size(), dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")))

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            t = t.clone()
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def all_gather_objects(self, obj: Any) -> list[Any]:
        if not self.enabled:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]
