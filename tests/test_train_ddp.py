"""DDP: a two-process gloo run (torch.multiprocessing spawn) matches one process on the same data."""
from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_train import TinyData, _model, _recipe, _strip

from afg.train import evaluate, fit

RECIPE = {"epochs": 2, "batch_size": 8, "optimizer": {"name": "sgd", "lr": 0.1, "momentum": 0.9},
              "schedule": {"name": "constant"}, "device": "cpu"}  # gloo on the CPU (forks)


def _worker(rank: int, world: int, port: int, out: str, recipe: dict | None = None) -> None:
    """One gloo rank training TinyAU with ``recipe`` (default :data:`RECIPE`); rank 0 writes the
    evaluation before training, the history and the trained model's device to ``out/ddp.json``."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        model = _model(norm="none", dropout=0.0)
        ev_before = evaluate(model, TinyData(13, 1), batch_size=4)  # uneven shards, no padding
        res = fit(model, TinyData(32, 0), TinyData(13, 1), _recipe(**(recipe or RECIPE)),
                  run_dir=os.path.join(out, "run"))
        if rank == 0:
            with open(os.path.join(out, "ddp.json"), "w") as fh:
                json.dump({"eval": ev_before, "history": _strip(res.history),
                           "device": str(next(res.model.parameters()).device)}, fh)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_matches_one_process(tmp_path):
    model = _model(norm="none", dropout=0.0)
    ev_ref = evaluate(model, TinyData(13, 1), batch_size=4)
    ref = fit(model, TinyData(32, 0), TinyData(13, 1), _recipe(**RECIPE))
    # fork spares each child re-importing torch (the code path is the same), but cannot follow
    # a process whose autograd has run on CUDA (its device threads): spawn then
    method = "spawn" if torch.cuda.is_initialized() else "fork"
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True,
                       start_method=method)
    got = json.loads((tmp_path / "ddp.json").read_text())
    assert got["eval"] == pytest.approx(ev_ref, abs=1e-6)  # gathered over ranks = whole set
    hist = _strip(ref.history)
    assert len(got["history"]) == len(hist) == 2
    for a, b in zip(got["history"], hist):
        assert a.keys() == b.keys()
        for k in a:
            assert a[k] == pytest.approx(b[k], rel=1e-4, abs=1e-5), k
    assert (tmp_path / "run" / "best.pt").exists()
