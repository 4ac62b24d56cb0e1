"""afg.experiments.fresh_identities: a larger test set of new synthetic identities, shown as the
held-out fold is (benchmarks/synth_stability.py --fresh)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from afg.config import ConfigError
from afg.experiments import DataSpec, build_data, fresh_identities, item_subjects


def _spec(**kw) -> DataSpec:
    base = {"n_subjects": 6, "images_per_subject": 3, "size": 40, "folds": 3, "fold": 1}
    base.update(kw)
    return DataSpec(**base)


def test_new_identities_disjoint_from_every_fold():
    spec = _spec()
    fresh = fresh_identities(spec, n_subjects=4)
    assert len(fresh) == 4 * 3
    train, held = build_data(spec)
    seen = set(item_subjects(train)) | set(item_subjects(held))
    new = set(item_subjects(fresh))
    assert len(new) == 4 and not new & seen
    # other faces, not the fold's faces renumbered
    a = fresh[0]["image"]
    assert all(not torch.equal(a, held[i]["image"]) for i in range(len(held)))
    # the same population: the profile's AUs, labels of the same width
    assert fresh[0]["au"].shape == held[0]["au"].shape


def test_shown_as_the_held_out_fold_is():
    spec = _spec(resize=48, img_size=40, hflip=True)
    fresh = fresh_identities(spec, n_subjects=2)
    x1, x2 = fresh[1]["image"], fresh[1]["image"]
    assert x1.shape[-2:] == (40, 40)          # centre crop of the 48 px render
    assert torch.equal(x1, x2)                # no random crop or flip
    _, held = build_data(spec)
    assert held[0]["image"].shape == x1.shape


def test_seed_offset_gives_other_identities_and_is_repeatable():
    spec = _spec()
    a, b = fresh_identities(spec, 2, seed_offset=1000), fresh_identities(spec, 2, seed_offset=2000)
    again = fresh_identities(spec, 2, seed_offset=1000)
    assert torch.equal(a[0]["image"], again[0]["image"])
    assert not torch.equal(a[0]["image"], b[0]["image"])
    assert np.array_equal(item_subjects(a), item_subjects(b))  # numbered alike, drawn apart


@pytest.mark.parametrize("kw,n", [({"dataset": "disfa", "root": "x"}, 2), ({}, 0)])
def test_refuses_what_it_cannot_make(kw, n):
    with pytest.raises(ConfigError):
        fresh_identities(_spec(**kw), n_subjects=n)
