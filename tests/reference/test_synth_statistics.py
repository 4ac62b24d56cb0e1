"""The synthetic label model against the real DISFA and EmotioNet label lists (issue 3)."""
from __future__ import annotations

import numpy as np
import pytest

from afg.data.stats import conditional_probabilities, occurrence_rates
from afg.data.synth import sample_au_labels
from afg.data.synth.labels import target_statistics


def _real(reference_dir, name):
    return np.concatenate([np.loadtxt(reference_dir / name / f"fold{k}_test_labels.txt", ndmin=2)
                           for k in (1, 2, 3)])


@pytest.mark.parametrize("profile", ["disfa", "emotionet"])
def test_synthetic_labels_match_real_statistics(reference_dir, profile):
    real = _real(reference_dir, profile)
    r_real = occurrence_rates(real)
    m_real = conditional_probabilities(real)
    # the constants written into the code are the real figures
    t = target_statistics(profile)
    assert np.abs(t["rates"] - r_real).max() < 1e-4
    assert abs(t["none"] - (real.sum(1) == 0).mean()) < 1e-4
    y = sample_au_labels(profile, 50_000, seed=0)
    assert np.abs(occurrence_rates(y) - r_real).max() < 0.01
    frequent = r_real >= 0.04
    err = np.abs(conditional_probabilities(y) - m_real)[frequent]
    assert err.max() < 0.05, f"max |P(j|i) - real| = {err.max():.3f}"
    # and not trivially: independent labels with the same rates would fail the conditionals
    indep = (np.random.default_rng(0).random(y.shape) < r_real).astype(float)
    assert np.abs(conditional_probabilities(indep) - m_real)[frequent].max() > 0.05
