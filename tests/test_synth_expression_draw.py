"""Balanced expression labels drawn from EMFACS prototypes (``expression_draw="prototype"``)."""
from __future__ import annotations

import numpy as np
import pytest

from afg.data.synth import SynthFaces
from afg.data.synth.labels import (
    EXPRESSION_NAMES,
    PROFILES,
    labels_from_aus,
    sample_balanced_labels,
    sample_labels,
)


@pytest.mark.parametrize("by", ["expression", "emotions"])
def test_prototype_draw_is_balanced_and_consistent(by):
    lab = sample_balanced_labels("bp4d", 700, np.random.default_rng(3), by=by, draw="prototype")
    y = lab["expression"]
    counts = np.bincount(y, minlength=7)
    expected = np.full(7, 100) if by == "expression" else np.r_[0, np.full(6, 700 // 6)]
    assert np.abs(counts - expected).max() <= 1
    # every label is the one the AUs give under the shared rule
    again = labels_from_aus("bp4d", lab["aus"], np.random.default_rng(0))
    np.testing.assert_array_equal(again["expression"], y)
    np.testing.assert_array_equal(again["emotions"], lab["emotions"])


def test_prototype_faces_show_their_prototype_and_few_other_aus():
    aus = PROFILES["bp4d"]
    proto = sample_balanced_labels("bp4d", 1400, np.random.default_rng(0), draw="prototype")
    busy = sample_balanced_labels("bp4d", 1400, np.random.default_rng(0))
    happy = proto["expression"] == EXPRESSION_NAMES.index("Happy")
    assert proto["aus"][happy, aus.index(12)].all()  # the key AU of happiness is always shown
    for c in range(7):  # fewer AUs per face than the co-occurrence model's busy patterns
        assert proto["aus"][proto["expression"] == c].sum(1).mean() < busy["aus"][busy["expression"] == c].sum(1).mean()
    neutral = proto["expression"] == 0
    assert proto["aus"][neutral].sum(1).mean() < 1.0


def test_labels_from_aus_is_how_sample_labels_derives_them():
    a = sample_labels("disfa", 300, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    from afg.data.synth.labels import _sample_profile_aus

    b = labels_from_aus("disfa", _sample_profile_aus("disfa", 300, rng), rng)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_synthfaces_expression_draw_option():
    ds = SynthFaces("bp4d", n_subjects=2, images_per_subject=14, balance="expression", expression_draw="prototype")
    assert np.bincount(ds.labels()["expression"], minlength=7).tolist() == [4] * 7
    assert "expression_draw='prototype'" in repr(ds)
    with pytest.raises(ValueError, match="needs balance"):
        SynthFaces("bp4d", n_subjects=1, images_per_subject=4, expression_draw="prototype")
    with pytest.raises(ValueError, match="expression_draw"):
        SynthFaces("bp4d", n_subjects=1, images_per_subject=4, balance="expression", expression_draw="posed")
    with pytest.raises(ValueError, match="draw"):
        sample_balanced_labels("bp4d", 10, np.random.default_rng(0), draw="posed")
