"""recipe.data_seed: the batch order and the selection split's identities on their own seed, so
that a seed's spread can be split into the initialisation's and the data's
(benchmarks/synth_stability.py --vary recipe.data_seed)."""
from __future__ import annotations

import pytest
from test_selection import _cfg
from test_train import TinyData, _model, _recipe

from afg.config import ConfigError
from afg.experiments import config_hash, run, runner
from afg.train import Recipe, fit


class Recorded(TinyData):
    """TinyData that remembers the order its items were read in (workers: 0, in-process)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.order: list[int] = []

    def __getitem__(self, i):
        self.order.append(int(i))
        return super().__getitem__(i)


def _order(**recipe) -> tuple[list[int], list[float]]:
    data = Recorded(30, 0)
    res = fit(_model(0, dropout=0.0), data, None, _recipe(epochs=2, **recipe))
    return data.order, [row["train_loss"] for row in res.history]


def test_order_follows_data_seed_and_nothing_else():
    base, base_loss = _order(seed=0)
    same, _ = _order(seed=0, data_seed=0)
    other_init, other_init_loss = _order(seed=7, data_seed=0)
    other_data, _ = _order(seed=0, data_seed=1)
    plain_seed7, _ = _order(seed=7)
    assert base == same == other_init            # data_seed 0 draws what seed 0 drew
    assert other_data != base and plain_seed7 != base
    assert sorted(other_data[:30]) == list(range(30))  # still every item once an epoch
    # the model is built outside fit and has no dropout: with the order fixed, seed moves nothing
    assert other_init_loss == base_loss


def test_validation_order_seed_and_run_key():
    assert Recipe.from_dict({"seed": 3}).order_seed == 3
    assert Recipe.from_dict({"seed": 3, "data_seed": 5}).order_seed == 5
    with pytest.raises(ConfigError, match="data_seed"):
        Recipe.from_dict({"data_seed": "five"})
    cfg = {"model": {"name": "me_graphau_stage1"}, "data": {"dataset": "synthetic"}}
    # null: the key of every run made before the option existed stays what it was
    assert config_hash(cfg) == config_hash({**cfg, "recipe": {"data_seed": None}})
    assert config_hash(cfg) != config_hash({**cfg, "recipe": {"data_seed": 0}})


def test_selection_split_drawn_with_the_data_seed(tmp_path, monkeypatch):
    seen: list[int] = []
    split = runner.selection_split

    def spy(train, fraction, seed=0):
        seen.append(seed)
        return split(train, fraction, seed=seed)

    monkeypatch.setattr(runner, "selection_split", spy)
    run(_cfg(seed=4), root=tmp_path)
    run(_cfg(seed=4, data_seed=9), root=tmp_path)
    assert seen == [4, 9]
