"""Paired statistics of ablations (afg.experiments.analysis) against SciPy, verdicts on hand-made
deltas, and the Δ [CI] column / selection note of Ablation tables and their exports."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from afg.experiments import (
    SELECTED_ON_TEST,
    Ablation,
    ExperimentConfig,
    paired_comparison,
    paper_verdicts,
    to_latex,
    to_markdown,
    verdict,
    verdict_note,
)


def _tidy() -> pd.DataFrame:
    """Variants A (reference), B, C on folds 1-3 × seeds 0-1; A lacks (fold 2, seed 1), so B's and
    C's run there is unmatched; a second metric that must be ignored."""
    rng = np.random.default_rng(3)
    rows = []
    for v, shift in (("A", 0.0), ("B", 0.02), ("C", -0.01)):
        for fold in (1, 2, 3):
            for seed in (0, 1):
                if v == "A" and (fold, seed) == (2, 1):
                    continue
                val = 0.5 + 0.03 * fold + shift + rng.normal(0, 0.003)
                rows.append({"variant": v, "fold": fold, "seed": seed, "metric": "f1_mean", "value": val})
                rows.append({"variant": v, "fold": fold, "seed": seed, "metric": "auc_mean", "value": 9.0})
    return pd.DataFrame(rows)


def _paired(tidy, v, ref="A", metric="f1_mean"):
    t = tidy[tidy.metric == metric].set_index(["fold", "seed"])
    a, b = t[t.variant == v]["value"], t[t.variant == ref]["value"]
    both = a.index.intersection(b.index)
    return a.loc[both].to_numpy(), b.loc[both].to_numpy()


@pytest.mark.parametrize("confidence", [0.95, 0.8])
def test_paired_comparison_equals_scipy_ttest_rel_and_t_interval(confidence):
    tidy = _tidy()
    out = paired_comparison(tidy, "A", "f1_mean", confidence=confidence)
    assert list(out.index) == ["B", "C"] and list(out.columns) == ["delta", "ci_low", "ci_high", "p_value", "n", "sd"]
    for v in ("B", "C"):
        a, b = _paired(tidy, v)
        assert len(a) == 5  # the unmatched (fold 2, seed 1) run is left out
        d = a - b
        ci = stats.t.interval(confidence, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
        assert out.loc[v, "n"] == 5
        assert out.loc[v, "delta"] == pytest.approx(d.mean(), abs=1e-12)
        assert out.loc[v, "sd"] == pytest.approx(np.std(d, ddof=1), abs=1e-12)
        assert out.loc[v, "p_value"] == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-10)
        assert (out.loc[v, "ci_low"], out.loc[v, "ci_high"]) == pytest.approx(ci, abs=1e-12)
    assert out.loc["B", "ci_low"] > 0 > out.loc["C", "ci_high"]


def test_paired_comparison_without_seeds_and_bad_input():
    tidy = _tidy()
    one_seed = tidy[tidy.seed == 0].drop(columns="seed")
    out = paired_comparison(one_seed, "A", "f1_mean")
    a, b = _paired(tidy[tidy.seed == 0], "B")
    assert out.loc["B", "n"] == 3 and out.loc["B", "p_value"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    single = paired_comparison(one_seed[one_seed.fold == 1], "A", "f1_mean")
    assert single.loc["B", "n"] == 1 and np.isnan(single.loc["B", "ci_low"]) and np.isnan(single.loc["B", "p_value"])
    with pytest.raises(KeyError, match="reference variant 'Z'"):
        paired_comparison(tidy, "Z", "f1_mean")
    with pytest.raises(ValueError, match="two 'f1_mean' values"):
        paired_comparison(pd.concat([tidy, tidy.iloc[:1]]), "A", "f1_mean")


def test_verdict_logic_on_hand_made_deltas():
    assert verdict(0.5, 2.0, 1.3) == "reproduced"
    assert verdict(-2.0, -0.1, -0.4) == "reproduced"
    assert verdict(0.5, 2.0, -1.0) == "contradicted"
    assert verdict(-3.0, -1.0, 0.7) == "contradicted"
    assert verdict(0.5, 2.0, 0.0) == "contradicted"  # the paper reports no difference, we find one
    assert verdict(-0.5, 2.0, 1.3) == "unresolved"
    assert verdict(0.0, 2.0, 1.3) == "unresolved"  # an interval touching 0 does not exclude it
    assert verdict(float("nan"), float("nan"), 1.3) == "unresolved"  # fewer than 2 pairs
    assert verdict(0.5, 2.0, float("nan")) == "no claim"


def test_paper_verdicts_against_me_graphau_table3():
    """Rows of Table 3 (paper, ResNet-50: 59.1, 60.4, 63.0, 63.7) with hand-made paired runs:
    row 2 clearly above the backbone (reproduced), row 3 clearly below (contradicted), row 4
    inside the noise (unresolved)."""
    names = ["Backbone (WBCE)", "+AFG (WBCE)", "+AFG, L_WA", "+AFG+FGG, L_WA"]
    offsets = {names[0]: [0, 0, 0, 0], names[1]: [0.02, 0.03, 0.025, 0.02],
               names[2]: [-0.02, -0.03, -0.025, -0.02], names[3]: [0.01, -0.01, 0.02, -0.015]}
    rows = [{"variant": v, "fold": f, "seed": s, "metric": "f1_mean", "value": 0.4 + 0.05 * f + off[k]}
            for v, off in offsets.items() for k, (f, s) in enumerate([(1, 0), (1, 1), (2, 0), (2, 1)])]
    out = paper_verdicts(pd.DataFrame(rows), "me_graphau/table3", names[0], column="ResNet-50")
    assert list(out["verdict"]) == ["reproduced", "contradicted", "unresolved"]
    assert list(out["Δ paper"]) == pytest.approx([60.4 - 59.1, 63.0 - 59.1, 63.7 - 59.1])
    assert out.loc["+AFG (WBCE)", "Δ ours"] == pytest.approx(100 * np.mean(offsets[names[1]]))
    assert set(out["n"]) == {4} and out.attrs["counts"] == {
        "reproduced": 1, "contradicted": 1, "unresolved": 1, "no claim": 0}
    means = [0.475 + np.mean(offsets[v]) for v in names]
    tau = stats.kendalltau(means, [59.1, 60.4, 63.0, 63.7]).statistic
    assert out.attrs["kendall_tau"] == pytest.approx(tau)
    note = verdict_note(out)
    assert "1 reproduced, 1 contradicted, 1 unresolved" in note and "over 4 paired runs" in note


def _abl(selection: str) -> Ablation:
    cfg = ExperimentConfig.from_dict({"model": {"name": "baseline", "num_classes": 3},
                                      "data": {"folds": 3},
                                      "recipe": {"selection": selection}})
    abl = Ablation(cfg, {"A": {}, "B": {"model.dropout": 0.1}, "C": {"model.dropout": 0.2}},
                   folds=3, seeds=[0, 1])
    abl.tidy = _tidy()  # as if run: the table reads the tidy frame only
    return abl


def test_table_delta_column_and_notes_reach_the_exports():
    abl = _abl("test")
    table = abl.table(["f1_mean"], reference="A")
    cmp = paired_comparison(abl.tidy, "A", "f1_mean")
    col = "Δ f1_mean [95 % CI]"
    assert table.loc["A", col] == "reference"
    d, lo, hi = 100 * cmp.loc["B", ["delta", "ci_low", "ci_high"]]
    assert table.loc["B", col] == f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]"
    note = table.attrs["note"]
    assert SELECTED_ON_TEST in note and "over 5 runs sharing a fold and seed" in note
    assert "3 folds × 2 seeds" in note
    md = to_markdown(table)
    assert col in md.splitlines()[0] and SELECTED_ON_TEST in md
    tex = to_latex(table, caption="Tiny")
    assert r"$\Delta$" in tex and SELECTED_ON_TEST in tex and r"\caption{Tiny." in tex
    # the Δ column is never bolded as a "best" value
    assert tex.count(r"\textbf") == 1
    assert abl.compare("A", "f1_mean").equals(cmp)
    honest = _abl("val").table(["f1_mean"]).attrs["note"]
    assert SELECTED_ON_TEST not in honest and "validation split of the training subjects" in honest


def test_ordering_adds_paired_deltas_and_verdicts_from_a_summary():
    """A notebook's ``ordering(abl.summary(...), table, column)`` cell shows each row's Δ [CI]
    and verdict (the summary carries the per-run values), and the verdict counts as its note."""
    from afg.experiments.analysis import ordering

    names = ["Backbone (WBCE)", "+AFG (WBCE)", "+AFG, L_WA"]
    offsets = {names[0]: [0, 0, 0, 0], names[1]: [0.02, 0.03, 0.025, 0.02], names[2]: [0.01, -0.01, 0.02, -0.015]}
    rows = [{"variant": v, "fold": f, "seed": s, "metric": "f1_mean", "value": 0.4 + 0.05 * f + off[k]}
            for v, off in offsets.items() for k, (f, s) in enumerate([(1, 0), (1, 1), (2, 0), (2, 1)])]
    cfg = ExperimentConfig.from_dict({"model": {"name": "baseline", "num_classes": 8}})
    abl = Ablation(cfg, {n: {} for n in names}, folds=[1, 2], seeds=[0, 1])
    abl.tidy = pd.DataFrame(rows)
    order = ordering(abl.summary(["f1_mean"]), "me_graphau/table3", "ResNet-50")
    direct = paper_verdicts(abl.tidy, "me_graphau/table3", names[0], column="ResNet-50")
    assert order.loc[names[0], "Δ ours [95 % CI]"] == "reference"
    assert order.loc[names[1], "verdict"] == direct.loc[names[1], "verdict"] == "reproduced"
    assert order.loc[names[2], "verdict"] == "unresolved"
    lo, hi = direct.loc[names[1], ["CI low", "CI high"]]
    assert order.loc[names[1], "Δ ours [95 % CI]"].endswith(f"[{lo:+.1f}, {hi:+.1f}]")
    assert order.attrs["note"] == verdict_note(direct) and order.attrs["counts"]["reproduced"] == 1


def test_export_tables_carry_delta_verdicts_and_the_test_fold_warning(tmp_path):
    from afg.papers.figures import export_tables

    names = ["ResNet50", "ResNet50+MAFG", "Baseline+MAFG+CCFG"]
    rng = np.random.default_rng(1)
    rows = [{"variant": v, "fold": f, "seed": s, "metric": m, "value": 0.5 + 0.03 * i + rng.normal(0, 0.002)}
            for i, v in enumerate(names) for f in (1, 2) for s in (0, 1)
            for m in ("f1_mean", "acc_mean", "auc_mean")]
    cfg = ExperimentConfig.from_dict({"model": {"name": "mafg_ccfg", "num_classes": 8},
                                      "recipe": {"selection": "test"}})
    abl = Ablation(cfg, {n: {} for n in names}, folds=[1, 2], seeds=[0, 1])
    abl.tidy = pd.DataFrame(rows)
    abl.paper, abl.tables, abl.metric = "mafg_ccfg", ["mafg_ccfg/table4"], "f1_mean"
    index = export_tables({"mafg_ccfg/ablation": abl}, tmp_path)
    assert list(index["table"]) == ["mafg_ccfg_ablation", "mafg_ccfg_table4_vs_paper", "mafg_ccfg_table4_verdicts"]
    md = (tmp_path / "mafg_ccfg_ablation.md").read_text()
    assert "Δ f1_mean [95 % CI]" in md and SELECTED_ON_TEST in md and "over 4 runs sharing a fold and seed" in md
    assert SELECTED_ON_TEST in (tmp_path / "mafg_ccfg_table4_vs_paper.tex").read_text()
    ver = (tmp_path / "mafg_ccfg_table4_verdicts.md").read_text()
    assert ver.count("reproduced") == 3 and "2 reproduced, 0 contradicted, 0 unresolved" in ver
    assert SELECTED_ON_TEST in ver


def test_export_tables_skip_verdicts_when_the_reference_row_lacks_the_tables_metric(tmp_path):
    """Emotion-GCN: the single-task row predicts no valence, so Table III (CCC) has no paired Δ
    against it; the ablation table and the comparison with the paper are still written."""
    from afg.papers.figures import export_tables

    rows = [{"variant": v, "fold": f, "metric": m, "value": 0.3 + 0.01 * f}
            for v in ("single_task", "emotion_gcn") for f in (1, 2)
            for m in (("accuracy",) if v == "single_task" else ("accuracy", "ccc_valence", "ccc_arousal"))]
    cfg = ExperimentConfig.from_dict({"model": {"name": "emotion_gcn", "num_classes": 7}})
    abl = Ablation(cfg, {"single_task": {}, "emotion_gcn": {}}, folds=[1, 2])
    abl.tidy = pd.DataFrame(rows)
    abl.paper, abl.tables, abl.metric = "emotion_gcn", ["emotion_gcn/table3"], "accuracy"
    index = export_tables({"emotion_gcn/ablation": abl}, tmp_path)
    assert list(index["table"]) == ["emotion_gcn_ablation", "emotion_gcn_table3_vs_paper"]


# ---------------------------------------------------------------- power: pairs needed (#45)
def _power_scipy(n, d):
    """Two-sided paired t-test power from scipy.stats.nct, written out independently."""
    c = stats.t.ppf(0.975, n - 1)
    nc = d * np.sqrt(n)
    return stats.nct.sf(c, n - 1, nc) + stats.nct.cdf(-c, n - 1, nc)


@pytest.mark.parametrize(("d", "expected"), [(0.5, 34), (0.8, 15), (0.2, 199), (1.0, 10), (0.3, 90)])
def test_pairs_needed_matches_power_tables_and_is_minimal_under_scipy_nct(d, expected):
    """G*Power / Cohen's tables for a two-sided paired t-test at α = 0.05, 80 % power (d = δ/σ);
    the answer n is the first whose exact power (both tails, SciPy's noncentral t) reaches 0.8."""
    from afg.experiments import pairs_needed

    n = pairs_needed(d * 2.5, 2.5)
    assert n == expected
    assert _power_scipy(n, d) >= 0.8 > _power_scipy(n - 1, d)
    assert pairs_needed(-d * 2.5, 2.5) == n  # the sign does not matter


def test_pairs_needed_counts_both_tails_and_differs_from_the_normal_approximation():
    from afg.experiments import pairs_needed
    from afg.experiments.analysis import paired_power

    # with a large effect the lower tail is negligible but the t quantile is not: the normal
    # approximation ((1.96 + 0.84) / 1.5)² = 3.5 -> 4 pairs, the exact answer is 6
    assert pairs_needed(1.5, 1.0) == 6
    assert paired_power(6, 1.5, 1.0) == pytest.approx(_power_scipy(6, 1.5))
    # the wrong-direction tail is included: at δ tiny the power is α (both tails), not α/2
    assert paired_power(50, 1e-9, 1.0) == pytest.approx(0.05, abs=1e-6)
    # other power / alpha: 90 % power, α = 0.01, d = 0.5 (exact power 0.9007 at 63, 0.8949 at 62)
    n = pairs_needed(0.5, 1.0, power=0.9, alpha=0.01)
    assert n == 63 and paired_power(n, 0.5, 1.0, 0.01) >= 0.9 > paired_power(n - 1, 0.5, 1.0, 0.01)


def test_pairs_needed_edge_cases():
    from afg.experiments import pairs_needed
    from afg.experiments.analysis import paired_power

    # a large effect: SciPy's noncentral t returns NaN for the far lower tail at λ ≫ c (n = 8: λ = 22);
    # the power there is 1, and the answer is the first n that reaches 0.8 (n = 3, power 1.0 vs 0.62)
    assert pairs_needed(18.0, 2.29) == 3 and paired_power(8, 18.0, 2.29) == pytest.approx(1.0)
    assert paired_power(2, 18.0, 2.29) < 0.8

    assert pairs_needed(1.0, 0.0) == 2  # noiseless: the first interval decides
    assert pairs_needed(100.0, 1.0) == 2  # enormous effect: the fewest pairs a t-test has
    for args, match in [((0.0, 1.0), "never detected"), ((float("nan"), 1.0), "finite"),
                        ((1.0, float("nan")), "finite"), ((1.0, -1.0), "sd must be"),
                        ((1e-6, 1.0), "more than"), ((1.0, 1.0, 0.01), "without data")]:
        with pytest.raises(ValueError, match=match):
            pairs_needed(*args)


def test_verdict_tables_carry_sd_pairs_needed_magnitude_and_the_cost_note():
    """paper_verdicts on hand-made runs: the paired sd, pairs needed for the paper's Δ and for
    ours (pairs_needed on those numbers), whether the paper's Δ lies inside our interval, and the
    cost of resolving the unresolved row at the recorded run times."""
    from afg.experiments import pairs_needed
    from afg.experiments.analysis import magnitude, resolution_cost, resolution_note

    names = ["Backbone (WBCE)", "+AFG (WBCE)", "+AFG, L_WA", "+AFG+FGG, L_WA"]
    offsets = {names[0]: [0, 0, 0, 0], names[1]: [0.012, 0.014, 0.013, 0.013],
               names[2]: [-0.02, -0.03, -0.025, -0.02], names[3]: [0.04, -0.03, 0.05, -0.02]}
    rows = [{"variant": v, "fold": f, "seed": s, "metric": "f1_mean", "value": 0.4 + 0.05 * f + off[k]}
            for v, off in offsets.items() for k, (f, s) in enumerate([(1, 0), (1, 1), (2, 0), (2, 1)])]
    out = paper_verdicts(pd.DataFrame(rows), "me_graphau/table3", names[0], column="ResNet-50")
    d = 100 * np.array(offsets[names[3]])
    assert out.loc[names[3], "sd"] == pytest.approx(d.std(ddof=1))
    assert out.loc[names[3], "pairs needed (Δ paper)"] == pairs_needed(63.7 - 59.1, d.std(ddof=1))
    assert out.loc[names[3], "pairs needed (Δ ours)"] == pairs_needed(d.mean(), d.std(ddof=1))
    # +AFG (WBCE): Δ ours 1.3 [1.2, 1.4], paper 60.4 − 59.1 = 1.3 → inside; +AFG, L_WA: the paper
    # (+3.9) lies above our negative interval; +AFG+FGG, L_WA: +1.0 [−5.7, +7.7] holds +4.6
    assert list(out["magnitude"]) == ["consistent", "paper above CI", "consistent"]
    assert magnitude(1.0, 2.0, 0.5) == "paper below CI" and magnitude(np.nan, np.nan, 1.0) == "–"
    assert "magnitude consistent) in 2 of 3 rows" in verdict_note(out)
    assert "not expected to match" in verdict_note(out)
    cost = resolution_cost(out, {names[0]: 60.0, names[3]: 120.0})
    assert list(cost.index) == [names[3]]
    extra = out.loc[names[3], "pairs needed (Δ paper)"] - 4
    # one run of the row and one of the reference per new pair
    assert cost.attrs["totals"]["Δ paper"] == {"runs": int(2 * extra), "minutes": pytest.approx(extra * 3.0),
                                               "unreachable": 0, "unknown": 0}
    note = resolution_note(out, {names[0]: 60.0, names[3]: 120.0})
    assert f"4 → {int(extra) + 4}" in note and f"{int(2 * extra)} runs" in note
    assert resolution_note(out[out["verdict"] != "unresolved"], 1.0).startswith("No unresolved row")


def test_ordering_note_carries_the_cost_of_resolving_at_the_recorded_run_times():
    """Ablation.summary carries each variant's recorded seconds per run (a fresh run's wall time,
    a cached run's epochs' time_s), and the ordering table's note adds the cost line."""
    from types import SimpleNamespace

    from afg.experiments.analysis import ordering, recorded_seconds, resolution_note

    names = ["Backbone (WBCE)", "+AFG (WBCE)", "+AFG, L_WA"]
    offsets = {names[0]: [0, 0, 0, 0], names[1]: [0.02, 0.03, 0.025, 0.02], names[2]: [0.01, -0.01, 0.02, -0.015]}
    keys = [(1, 0), (1, 1), (2, 0), (2, 1)]
    rows = [{"variant": v, "fold": f, "seed": s, "metric": "f1_mean", "value": 0.4 + 0.05 * f + off[k]}
            for v, off in offsets.items() for k, (f, s) in enumerate(keys)]
    cfg = ExperimentConfig.from_dict({"model": {"name": "baseline", "num_classes": 8}})
    abl = Ablation(cfg, {n: {} for n in names}, folds=[1, 2], seeds=[0, 1])
    abl.tidy = pd.DataFrame(rows)
    run = {"selection": "val", "precision": "float32"}
    abl.results = [(v, f, s, SimpleNamespace(cached=True, seconds=0.0, history=[{"time_s": 20.0}, {"time_s": 40.0}],
                                             **run)) for v in names for f, s in keys]
    abl.results[0] = (names[0], 1, 0, SimpleNamespace(cached=False, seconds=120.0, history=[], **run))
    assert recorded_seconds(abl) == {names[0]: pytest.approx(75.0), names[1]: 60.0, names[2]: 60.0}
    order = ordering(abl.summary(["f1_mean"]), "me_graphau/table3", "ResNet-50")
    direct = paper_verdicts(abl.tidy, "me_graphau/table3", names[0], column="ResNet-50")
    assert order.attrs["cost"] == resolution_note(direct, recorded_seconds(abl))
    assert order.attrs["note"].endswith(order.attrs["cost"]) and "unresolved row(s)" in order.attrs["cost"]
    assert order.loc[names[2], "pairs needed (Δ paper)"] == direct.loc[names[2], "pairs needed (Δ paper)"]
