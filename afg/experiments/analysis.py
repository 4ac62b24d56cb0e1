"""Paired statistics of ablation runs, and verdicts against the papers' own differences.

Every variant of an :class:`~afg.experiments.Ablation` runs on the same folds and seeds, so two
variants are compared on the *pairs* of runs that share a (fold, seed): the fold-to-fold noise
(which identities are tested) cancels in the difference, and what remains is the noise of training.

For a variant ``v`` against a reference ``r`` with paired differences ``d_k = v_k − r_k`` over
the ``n`` pairs both have:

* ``delta`` = ``d̄`` = (1/n) Σ_k d_k,
* ``ci_low``, ``ci_high`` = ``d̄ ∓ t_{(1+c)/2, n−1} · s_d / √n`` (Student-t interval at confidence
  ``c``, ``s_d`` the sample standard deviation of the ``d_k``, ddof = 1),
* ``p_value``: the two-sided paired t-test of ``d̄ = 0`` (:func:`scipy.stats.ttest_rel`),
  ``t = d̄ / (s_d / √n)`` on ``n − 1`` degrees of freedom.

With ``n < 2`` the interval and the p-value are NaN (one pair says nothing about the noise).

Verdicts (:func:`verdict`, :func:`paper_verdicts`) set each row's Δ against the reference row
next to the paper's Δ between the same two rows: **reproduced** (same sign, our interval excludes
0), **contradicted** (opposite sign — or the paper reports no difference — and our interval
excludes 0), **unresolved** (our interval includes 0, or fewer than 2 pairs), **no claim** (the
paper has no number for one of the two rows).

Each verdict also says whether the paper's Δ lies inside our interval (**magnitude**:
``consistent``, or ``paper below CI`` / ``paper above CI``): "reproduced" is a statement about
the sign only, and on synthetic faces the magnitudes are not expected to match real data.

How many pairs a row needs (:func:`pairs_needed`, :func:`resolution_cost`): the smallest ``n`` at
which a two-sided paired t-test at level α detects a true mean difference δ with probability
(power) ≥ 1 − β, given the standard deviation σ of the paired differences. Under the alternative
``t = d̄ / (s_d / √n)`` follows a noncentral t distribution with ``n − 1`` degrees of freedom and
noncentrality ``λ = √n · δ / σ``, so with ``c = t_{1−α/2, n−1}``::

    power(n) = P(T'_{n−1, λ} > c) + P(T'_{n−1, λ} < −c)

(both tails: the exact power, not the normal approximation ``n ≈ ((z_{1−α/2} + z_{1−β}) σ/δ)²``).

Run-to-run noise and rankings: :func:`fold_noise` (per variant: mean, std over runs with
ddof = 1, min–max range), :func:`noise_note` (the sentence printed under a table),
:func:`spread_by_label` (which labels make a row's mean move from run to run) and
:func:`ordering` (our ranking of a table's rows next to the paper's, with Kendall's τ between the
two and, where the per-run values are known, each row's paired Δ and verdict).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..reference import load_table, table_info
from .tidy import tidy_from_runs

__all__ = ["SYNTHETIC_MAGNITUDE_NOTE", "VERDICTS", "fold_noise", "format_delta_ci", "magnitude", "noise_note",
           "ordering", "paired_comparison", "paired_power", "pairs_needed", "paper_verdicts",
           "recorded_seconds", "replication_table", "resolution_cost", "resolution_note",
           "spread_by_label", "verdict", "verdict_note"]

#: the verdict labels, in the order counts are printed
VERDICTS = ("reproduced", "contradicted", "unresolved", "no claim")
#: what every verdict table built on synthetic faces says about magnitudes
SYNTHETIC_MAGNITUDE_NOTE = "on synthetic faces the magnitudes are not expected to match the paper's real-data Δ"
#: the largest pair count :func:`pairs_needed` searches
MAX_PAIRS = 10**7


def _pair_key(df: pd.DataFrame) -> pd.Series:
    """One hashable key per row: ``(fold, seed)``, or ``(fold,)`` without a seed column (missing
    seeds, i.e. runs without a seed override, form their own value)."""
    cols = ["fold"] + (["seed"] if "seed" in df.columns else [])
    parts = [df[c].astype(object).where(df[c].notna(), None) for c in cols]
    return pd.Series(list(zip(*parts)), index=df.index)


def _keyed_runs(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with each row's (fold, seed) pair key in ``_key``; refuses a variant with two values
    of one metric for one key (pairing needs one run per variant, fold and seed)."""
    df = df.assign(_key=_pair_key(df))
    dup = df.duplicated(["variant", "metric", "_key"])
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(f"variant {row['variant']!r} has two {row['metric']!r} values for (fold, seed) "
                         f"{row['_key']}; one run per variant, fold and seed is expected")
    return df


def paired_comparison(tidy: pd.DataFrame, reference: str, metric: str,
                      confidence: float = 0.95) -> pd.DataFrame:
    """Paired differences variant − ``reference`` of ``metric`` over the (fold, seed) pairs both have.

    Args:
        tidy: the tidy ablation frame (:meth:`Ablation.run`): columns ``variant``, ``fold``,
            optional ``seed``, ``metric``, ``value``.
        reference: the variant every other variant is compared with.
        metric: the metric to compare (``f1_mean``, ``accuracy`` …).
        confidence: level of the Student-t interval.

    Returns:
        DataFrame indexed by variant (the reference excluded; variants in order of appearance)
        with ``delta``, ``ci_low``, ``ci_high``, ``p_value``, ``n`` (pairs) and ``sd`` (the standard
        deviation of the paired differences, ddof = 1; NaN with fewer than 2 pairs). A run whose
        (fold, seed) the reference lacks (or the reverse) is left out. ``attrs`` hold
        ``reference``, ``metric`` and ``confidence``.
    """
    from scipy import stats  # local: SciPy (~0.5 s) only for the statistical tests

    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    missing = {"variant", "fold", "metric", "value"} - set(tidy.columns)
    if missing:
        raise ValueError(f"tidy frame lacks columns {sorted(missing)} (expected variant, fold, "
                         "[seed,] metric, value)")
    df = tidy[tidy["metric"] == metric]
    if reference not in set(df["variant"]):
        raise KeyError(f"reference variant {reference!r} has no {metric!r} values; variants: "
                       f"{list(dict.fromkeys(tidy['variant']))}")
    df = _keyed_runs(df)
    wide = df.pivot(index="_key", columns="variant", values="value")
    ref = wide[reference]
    rows = {}
    for v in dict.fromkeys(df["variant"]):
        if v == reference:
            continue
        both = wide[[v, reference]].dropna()
        a, b = both[v].to_numpy(float), ref.loc[both.index].to_numpy(float)
        d = a - b
        n = len(d)
        delta = float(d.mean()) if n else float("nan")
        lo = hi = p = sd = float("nan")
        if n >= 2:
            sd = float(d.std(ddof=1))
            half = stats.t.ppf(0.5 + confidence / 2.0, n - 1) * sd / np.sqrt(n)
            lo, hi = delta - half, delta + half
            p = float(stats.ttest_rel(a, b).pvalue)
        rows[v] = {"delta": delta, "ci_low": lo, "ci_high": hi, "p_value": p, "n": n, "sd": sd}
    out = pd.DataFrame.from_dict(rows, orient="index",
                                 columns=["delta", "ci_low", "ci_high", "p_value", "n", "sd"])
    out["n"] = out["n"].astype(int)
    out.index.name = "variant"
    out.attrs.update(reference=reference, metric=metric, confidence=confidence)
    return out


def verdict(ci_low: float, ci_high: float, paper_delta: float) -> str:
    """One row's verdict (see the module docstring) from our interval and the paper's Δ."""
    if paper_delta is None or np.isnan(paper_delta):
        return "no claim"
    if np.isnan(ci_low) or np.isnan(ci_high) or ci_low <= 0.0 <= ci_high:
        return "unresolved"
    ours = 1.0 if ci_low > 0 else -1.0
    return "reproduced" if np.sign(paper_delta) == ours else "contradicted"


def magnitude(ci_low: float, ci_high: float, paper_delta: float) -> str:
    """Whether the paper's Δ lies inside our interval: ``"consistent"``, ``"paper below CI"``,
    ``"paper above CI"``; ``"–"`` without an interval (n < 2) or without a paper Δ."""
    if paper_delta is None or np.isnan(paper_delta) or np.isnan(ci_low) or np.isnan(ci_high):
        return "–"
    if paper_delta < ci_low:
        return "paper below CI"
    if paper_delta > ci_high:
        return "paper above CI"
    return "consistent"


def paired_power(n: int | np.ndarray, delta: float, sd: float, alpha: float = 0.05) -> np.ndarray:
    """Exact power of the two-sided paired t-test with ``n`` pairs (see the module docstring):
    ``P(T' > c) + P(T' < −c)``, ``T'`` noncentral t with ``n − 1`` df and ``λ = √n·|δ|/σ``,
    ``c = t_{1−α/2, n−1}``. ``n`` may be an array (every entry ≥ 2)."""
    from scipy import stats  # local: SciPy (~0.5 s) only for the statistical tests

    n = np.asarray(n, dtype=float)
    if np.any(n < 2):
        raise ValueError("the paired t-test needs n >= 2 pairs")
    df = n - 1.0
    c = stats.t.ppf(1.0 - alpha / 2.0, df)
    nc = np.sqrt(n) * abs(float(delta)) / float(sd)
    upper = stats.nct.sf(c, df, nc)
    lower = stats.nct.cdf(-c, df, nc)  # SciPy gives NaN far out in this tail (λ ≫ c): it is 0 there
    upper = np.where(np.isnan(upper), (nc > c).astype(float), upper)
    return upper + np.nan_to_num(lower, nan=0.0)


def pairs_needed(delta: float, sd: float, power: float = 0.8, alpha: float = 0.05) -> int:
    """The smallest number of (fold, seed) pairs ``n ≥ 2`` at which a two-sided paired t-test at
    level ``alpha`` detects a true mean difference ``delta`` with probability ≥ ``power``, given
    the standard deviation ``sd`` of the paired differences (noncentral t, df = n − 1, both tails;
    :func:`paired_power`). Only ``|delta| / sd`` matters; the sign of ``delta`` does not.

    ``sd = 0`` with ``delta ≠ 0`` gives 2 (a noiseless difference is certain from the first
    interval); ``delta = 0`` is never detected and, like NaN inputs, a negative ``sd``, more than
    :data:`MAX_PAIRS` pairs or ``power ≤ alpha``, raises ``ValueError``.

    >>> pairs_needed(0.5, 1.0)   # Cohen's d = 0.5 at 80 % power (G*Power: 34)
    34
    """
    for name, v in (("delta", delta), ("sd", sd), ("power", power), ("alpha", alpha)):
        if v is None or not np.isfinite(float(v)):
            raise ValueError(f"pairs_needed: {name} must be a finite number, got {v!r}")
    if not 0.0 < alpha < 1.0 or not 0.0 < power < 1.0:
        raise ValueError(f"pairs_needed: alpha and power must lie in (0, 1), got {alpha}, {power}")
    if power <= alpha:
        raise ValueError(f"pairs_needed: power {power} <= alpha {alpha} is reached without data")
    if sd < 0:
        raise ValueError(f"pairs_needed: sd must be >= 0, got {sd}")
    if delta == 0:
        raise ValueError("pairs_needed: delta = 0 is never detected (the power stays at alpha)")
    if sd == 0:
        return 2

    def ok(n: int) -> bool:
        return bool(paired_power(n, delta, sd, alpha) >= power)

    from scipy.stats import norm  # local: SciPy (~0.5 s) only for the statistical tests

    # bracket around the normal approximation, then bisect (the power rises with n)
    guess = ((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * sd / abs(delta)) ** 2
    lo, hi = max(2, int(guess * 0.9) - 1), min(MAX_PAIRS + 1, int(guess * 1.1) + 8)
    if ok(lo):
        lo, hi = 1, lo  # ok(1) is never asked: 2 is the smallest answer
    while not ok(hi):
        if hi > MAX_PAIRS:
            raise ValueError(f"pairs_needed: more than {MAX_PAIRS} pairs for |delta|/sd = {abs(delta) / sd:.2e}")
        lo, hi = hi, min(MAX_PAIRS + 1, hi * 2)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def _pairs_or_inf(delta: float, sd: float, power: float = 0.8, alpha: float = 0.05) -> float:
    """:func:`pairs_needed` for a table cell: NaN when ``delta`` or ``sd`` is unknown, ``inf``
    when no number of pairs suffices (``delta = 0`` or beyond :data:`MAX_PAIRS`)."""
    if delta is None or sd is None or np.isnan(delta) or np.isnan(sd):
        return float("nan")
    try:
        return float(pairs_needed(delta, sd, power, alpha))
    except ValueError:
        return float("inf")


def format_delta_ci(delta: float, lo: float, hi: float, scale: float = 1.0, digits: int = 1) -> str:
    """``"+1.2 [-0.3, +2.7]"`` (``scale``: 100 for percent points); ``"+1.2 [n<2]"`` without an interval."""
    if delta is None or np.isnan(delta):
        return "–"
    if np.isnan(lo) or np.isnan(hi):
        return f"{delta * scale:+.{digits}f} [n<2]"
    return f"{delta * scale:+.{digits}f} [{lo * scale:+.{digits}f}, {hi * scale:+.{digits}f}]"


def paper_verdicts(tidy: pd.DataFrame, table: str, reference: str, column: str | None = None,
                   metric: str | None = None, confidence: float = 0.95,
                   paper: Mapping[str, float] | None = None, scale: float | None = None,
                   power: float = 0.8) -> pd.DataFrame:
    """Each row's paired Δ against ``reference`` next to the paper's Δ for the same two rows.

    Args:
        tidy: the tidy ablation frame (variant names = the paper's row names).
        table: ``"paper/table"`` of :mod:`afg.reference` (its values and unit).
        reference: the reference row (e.g. ME-GraphAU Table 3's ``"Backbone (WBCE)"``).
        column: the paper's column (default: the first whose metric is ``metric``, or the first).
        metric: our metric key (default: the column's).
        paper: ``{row: value}`` in the paper's unit instead of the table's column.
        scale: our fraction → the paper's unit (default 100 for ``unit: percent``).

    Returns:
        rows = our variants except the reference, columns ``Δ ours``, ``CI low``, ``CI high``,
        ``p``, ``n`` (pairs), ``Δ paper`` (both in the paper's unit), ``verdict``, ``magnitude``
        (:func:`magnitude`), ``sd`` (of the paired differences, the paper's unit) and
        ``pairs needed (Δ paper)`` / ``pairs needed (Δ ours)`` (:func:`pairs_needed` at ``power``
        and ``1 − confidence``, given our ``sd``; ``inf``: no number suffices);
        ``attrs``: ``counts`` (per verdict), ``kendall_tau`` (our mean ordering of every row
        against the paper's, secondary), ``n_pairs`` (the fewest pairs of any row), ``reference``,
        ``table``, ``column``, ``metric``, ``confidence``.
    """
    info = table_info(table)
    if column is None:
        if metric is not None and metric in info["metrics"]:
            column = info["columns"][info["metrics"].index(metric)]
        else:
            column = info["columns"][0]
    metric = metric or dict(zip(info["columns"], info["metrics"]))[column]
    if scale is None:
        scale = 100.0 if info.get("unit") == "percent" else 1.0
    if paper is None:
        paper = load_table(table)[column].to_dict()
    paper_s = pd.Series(dict(paper), dtype=float)
    cmp = paired_comparison(tidy, reference, metric, confidence)
    p_ref = paper_s.get(reference, np.nan)
    out = pd.DataFrame(index=cmp.index)
    out["Δ ours"] = cmp["delta"] * scale
    out["CI low"] = cmp["ci_low"] * scale
    out["CI high"] = cmp["ci_high"] * scale
    out["p"] = cmp["p_value"]
    out["n"] = cmp["n"]
    out["Δ paper"] = [paper_s.get(v, np.nan) - p_ref for v in cmp.index]
    out["verdict"] = [verdict(lo, hi, pd_) for lo, hi, pd_ in
                      zip(out["CI low"], out["CI high"], out["Δ paper"])]
    _add_power_columns(out, cmp["sd"] * scale, power, 1.0 - confidence)
    counts = {k: int((out["verdict"] == k).sum()) for k in VERDICTS}
    means = tidy[tidy["metric"] == metric].groupby("variant", sort=False)["value"].mean()
    shared = pd.DataFrame({"ours": means, "paper": paper_s.reindex(means.index)}).dropna()
    tau = float("nan")
    if len(shared) >= 3:
        from scipy.stats import kendalltau  # local: SciPy (~0.5 s) only for the statistical tests

        tau = float(kendalltau(shared["ours"], shared["paper"]).statistic)
    out.index.name = f"{table} ({column}; ours: {metric}) vs {reference!r}"
    out.attrs.update(counts=counts, kendall_tau=tau, n_pairs=int(cmp["n"].min()) if len(cmp) else 0,
                     reference=reference, table=table, column=column, metric=metric,
                     confidence=confidence, power=power)
    return out


def _add_power_columns(out: pd.DataFrame, sd: pd.Series, power: float, alpha: float) -> None:
    """``magnitude``, ``sd`` and the two ``pairs needed`` columns of a verdict table, in place
    (``out`` has ``CI low``, ``CI high``, ``Δ ours``, ``Δ paper``; ``sd`` in the same unit)."""
    out["magnitude"] = [magnitude(lo, hi, p) for lo, hi, p in zip(out["CI low"], out["CI high"], out["Δ paper"])]
    out["sd"] = sd.reindex(out.index).to_numpy(float)
    for which in ("Δ paper", "Δ ours"):
        out[f"pairs needed ({which})"] = [_pairs_or_inf(d, s, power, alpha) for d, s in zip(out[which], out["sd"])]


def recorded_seconds(results: Any) -> dict[str, float]:
    """Mean training seconds per variant of an ablation's runs as recorded in the run cache: the
    wall time of a run trained in this call, else the sum of its epochs' ``time_s`` (training and
    evaluation of every stage, from the evaluation record). ``results``: an :class:`Ablation` (after
    ``run``) or its ``results`` list of ``(variant, fold, seed, RunResult)``."""
    rows = getattr(results, "results", results)
    per: dict[str, list[float]] = {}
    for name, _fold, _seed, res in rows:
        sec = float(res.seconds) if not res.cached and res.seconds > 0 else float(
            sum(h.get("time_s", 0.0) or 0.0 for h in res.history))
        per.setdefault(name, []).append(sec)
    return {k: float(np.mean(v)) for k, v in per.items()}


def resolution_cost(verdicts: pd.DataFrame, seconds: Mapping[str, float] | float,
                    reference: str | None = None) -> pd.DataFrame:
    """What resolving a table's unresolved rows would cost: per unresolved row the pairs it has,
    the pairs :func:`pairs_needed` asks for (the paper's Δ and ours), the extra pairs, and per
    target the total of new runs and minutes.

    A new pair is a new (fold, seed): one run of the row and one of the reference, shared by
    every row. With ``m_r`` extra pairs for row ``r``: ``Σ_r m_r + max_r m_r`` runs and
    ``Σ_r m_r·t_r + max_r m_r·t_ref`` seconds (``t``: :func:`recorded_seconds`). Rows no finite
    number resolves (``inf``) are left out of the totals and counted apart.

    Args:
        verdicts: :func:`paper_verdicts` (or :func:`ordering`) with ``verdict``, ``n`` and the
            ``pairs needed`` columns.
        seconds: ``{variant: seconds per run}`` or one number for every run.
        reference: the reference row (default: ``verdicts.attrs["reference"]``).

    Returns:
        rows = unresolved rows, columns ``n``, ``pairs needed (Δ paper)``, ``extra (Δ paper)``,
        ``pairs needed (Δ ours)``, ``extra (Δ ours)``, ``s/run``; ``attrs["totals"]``:
        ``{"Δ paper": {"runs", "minutes", "unreachable"}, "Δ ours": {...}}``.
    """
    reference = reference or verdicts.attrs.get("reference")
    sec = (lambda v: float(seconds)) if np.isscalar(seconds) else (
        lambda v: float(seconds.get(v, np.nan)))
    rows = verdicts[verdicts["verdict"] == "unresolved"]
    out = pd.DataFrame(index=rows.index)
    out["n"] = rows["n"].astype(int)
    totals = {}
    for which in ("Δ paper", "Δ ours"):
        need = rows[f"pairs needed ({which})"].astype(float)
        extra = (need - out["n"]).clip(lower=0)
        out[f"pairs needed ({which})"] = need
        out[f"extra ({which})"] = extra
        ok = extra[np.isfinite(extra)]
        m = float(ok.max()) if len(ok) else 0.0
        runs = float(ok.sum() + m)
        secs = float(sum(e * sec(v) for v, e in ok.items()) + m * sec(reference))
        totals[which] = {"runs": int(runs), "minutes": secs / 60.0,
                         "unreachable": int(np.isinf(need).sum()), "unknown": int(need.isna().sum())}
    out["s/run"] = [sec(v) for v in out.index]
    out.attrs.update(totals=totals, reference=reference, rows=len(verdicts),
                     power=verdicts.attrs.get("power", 0.8))
    return out


def resolution_note(verdicts: pd.DataFrame, seconds: Mapping[str, float] | float,
                    reference: str | None = None, machine: str = "this machine") -> str:
    """The line printed under a verdict table: what resolving its unresolved rows would cost in
    runs and minutes (:func:`resolution_cost`), for the paper's Δ and for ours."""
    cost = resolution_cost(verdicts, seconds, reference)
    if not len(cost):
        return "No unresolved row: nothing more to run."
    tot = cost.attrs["totals"]
    pw = round(100 * cost.attrs["power"])

    def part(which: str) -> str:
        t = tot[which]
        extra = cost[f"extra ({which})"]
        fin = extra[np.isfinite(extra)]
        txt = (f"{int(fin.max()) if len(fin) else 0} more pairs at most "
               f"({t['runs']} runs, ~{t['minutes']:.0f} min)")
        if t["unreachable"]:
            txt += f"; {t['unreachable']} row(s) unreachable (Δ = 0 or > {MAX_PAIRS:g} pairs)"
        if t["unknown"]:
            txt += f"; {t['unknown']} row(s) without an estimate (n < 2)"
        return txt

    rows = ", ".join(f"{r!r} {int(cost.loc[r, 'n'])} → {_fmt_pairs(cost.loc[r, 'pairs needed (Δ paper)'])}"
                     for r in cost.index)
    return (f"Resolving the {len(cost)} unresolved row(s) at {pw} % power (pairs they have → need for "
            f"the paper's Δ: {rows}): for the paper's Δ {part('Δ paper')}; for our own Δ "
            f"{part('Δ ours')} — at the run times recorded in the run cache on {machine}, one run of "
            f"the row and one of {cost.attrs['reference']!r} per new (fold, seed).")


def _fmt_pairs(v: float) -> str:
    return "–" if np.isnan(v) else "∞" if np.isinf(v) else f"{int(v)}"


def _direction(lo: float, hi: float) -> str:
    """A row's verdict without a paper: ``higher``/``lower`` than the reference (interval excludes
    0) or ``unresolved``."""
    if np.isnan(lo) or np.isnan(hi) or lo <= 0.0 <= hi:
        return "unresolved"
    return "higher" if lo > 0 else "lower"


def _verdicts_of(tidy: pd.DataFrame, reference: str, metric: str, table: str | None, column: str | None,
                 confidence: float, scale: float) -> pd.DataFrame:
    """``Δ``, ``CI low``, ``CI high``, ``n``, ``verdict`` per row: :func:`paper_verdicts` with a
    table, else the paired Δ and its direction."""
    if table is not None:
        v = paper_verdicts(tidy, table, reference, column=column, metric=metric, confidence=confidence)
        return v.rename(columns={"Δ ours": "Δ"})[["Δ", "CI low", "CI high", "n", "verdict"]]
    cmp = paired_comparison(tidy, reference, metric, confidence)
    out = pd.DataFrame({"Δ": cmp["delta"] * scale, "CI low": cmp["ci_low"] * scale,
                        "CI high": cmp["ci_high"] * scale, "n": cmp["n"]}, index=cmp.index)
    out["verdict"] = [_direction(lo, hi) for lo, hi in zip(out["CI low"], out["CI high"])]
    return out


def replication_table(before: pd.DataFrame, after: pd.DataFrame, reference: str, metric: str,
                      table: str | None = None, column: str | None = None, confidence: float = 0.95,
                      scale: float = 1.0) -> pd.DataFrame:
    """Each row's verdict on the runs of ``before`` (the seeds a table was made with), on the runs
    of ``after`` (fresh seeds, the same folds) and on both pooled, and whether it replicated.

    A verdict is :func:`paper_verdicts`'s with a paper ``table`` (reproduced / contradicted /
    unresolved / no claim), else the direction of the paired Δ against ``reference``
    (higher / lower / unresolved). **replicated** is ``yes`` when the fresh seeds give the same
    verdict, ``no`` otherwise (a resolved verdict that becomes unresolved did not replicate, nor
    did an unresolved row that the fresh seeds resolve), ``–`` for rows without a claim.

    Args:
        before, after: tidy frames (:meth:`Ablation.run`) of the same variants and folds on
            disjoint seeds.
        scale: our fraction → the table's unit without a paper ``table`` (100: points).

    Returns:
        rows = variants except ``reference``, columns ``Δ before [CI]``, ``verdict before``,
        ``Δ after [CI]``, ``verdict after``, ``replicated``, ``Δ pooled [CI]``, ``verdict pooled``,
        ``n before``, ``n after``; ``attrs``: ``counts`` (replicated yes / no), ``reference``,
        ``metric``, ``table``, ``seeds_before``, ``seeds_after``.
    """
    def seeds(t: pd.DataFrame) -> list:
        return sorted(t["seed"].dropna().unique().tolist()) if "seed" in t.columns else []

    shared = set(seeds(before)) & set(seeds(after))
    if shared:
        raise ValueError(f"before and after share seeds {sorted(shared)}: replication needs fresh seeds")
    pooled = pd.concat([before, after], ignore_index=True)
    parts = {k: _verdicts_of(t, reference, metric, table, column, confidence, scale)
             for k, t in (("before", before), ("after", after), ("pooled", pooled))}
    if table is not None:
        scale = 100.0 if table_info(table).get("unit") == "percent" else 1.0
    d = 1 if scale >= 10 else 3
    out = pd.DataFrame(index=parts["before"].index)
    for k, v in parts.items():
        v = v.reindex(out.index)
        out[f"Δ {k} [CI]"] = [format_delta_ci(a, lo, hi, 1.0, d) for a, lo, hi in
                               zip(v["Δ"], v["CI low"], v["CI high"])]
        out[f"verdict {k}"] = v["verdict"].to_numpy()
        if k == "after":
            out["replicated"] = ["–" if b == "no claim" else "yes" if b == a else "no"
                                 for b, a in zip(out["verdict before"], out["verdict after"])]
        if k != "pooled":
            out[f"n {k}"] = v["n"].to_numpy()
    out = out[["Δ before [CI]", "verdict before", "Δ after [CI]", "verdict after", "replicated",
               "Δ pooled [CI]", "verdict pooled", "n before", "n after"]]
    out.index.name = f"{table or metric} vs {reference!r}"
    out.attrs.update(counts={k: int((out["replicated"] == k).sum()) for k in ("yes", "no")},
                     reference=reference, metric=metric, table=table, seeds_before=seeds(before),
                     seeds_after=seeds(after), confidence=confidence)
    return out


def verdict_note(verdicts: pd.DataFrame) -> str:
    """The line printed under a verdict table: counts per verdict, the pairs the intervals rest
    on, and Kendall's τ as a secondary summary."""
    a = verdicts.attrs
    counts = a.get("counts", {})
    parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in VERDICTS if counts.get(k, 0) or k != "no claim")
    ns = sorted({int(n) for n in verdicts["n"]}) if len(verdicts) else [0]
    pairs = f"{ns[0]}" if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
    tau = a.get("kendall_tau", float("nan"))
    conf = round(100 * a.get("confidence", 0.95))
    mag = ""
    if "magnitude" in verdicts.columns:
        known = verdicts["magnitude"] != "–"
        mag = (f"; the paper's Δ inside our interval (magnitude consistent) in "
               f"{int((verdicts['magnitude'] == 'consistent').sum())} of {int(known.sum())} rows — "
               f"a verdict compares signs, and {SYNTHETIC_MAGNITUDE_NOTE}")
    return (f"{a.get('table', '')}: {parts} (of {len(verdicts)} rows vs {a.get('reference')!r}; "
            f"{conf} % CIs over {pairs} paired runs); Kendall's τ of the row means vs the paper "
            f"(secondary): {tau:.2f}{mag}")


def spread_by_label(tidy: pd.DataFrame, variant: str, reference: str | None = None,
                    prefix: str = "f1/", scale: float = 100.0) -> pd.DataFrame:
    """Which labels make a variant's mean score move from run to run.

    With ``f_{k,a}`` the score of label ``a`` (metric ``prefix + a``) in run ``k`` (or, with a
    ``reference``, the paired difference ``f_{k,a} − r_{k,a}`` over the (fold, seed) pairs both
    have) and ``m_k = (1/L) Σ_a f_{k,a}`` the run's mean over the ``L`` labels, the variance of the
    mean splits exactly into one share per label::

        Var(m) = (1/L²) Σ_a Σ_b C_ab,   share_a = Σ_b C_ab / Σ_a Σ_b C_ab   (Σ_a share_a = 1)

    where ``C`` is the sample covariance of the labels' scores across runs (ddof = 1). A share is a
    label's own variance plus its covariance with the others: negative when the label moves
    against the rest, and shares spread evenly over the labels when the runs differ as a whole
    rather than by one rare label crossing the 0.5 threshold.

    Args:
        tidy: the tidy ablation frame (:meth:`Ablation.run`) with per-label metrics
            (``f1/AU01`` …).
        variant: the variant whose runs are decomposed.
        reference: decompose the paired difference ``variant − reference`` instead.
        prefix: the per-label metric prefix (``"f1/"``, ``"auc/"``).
        scale: unit of ``mean`` and ``std`` (100: points).

    Returns:
        DataFrame indexed by label (in the frame's order) with ``mean`` and ``std`` (across runs,
        ddof = 1, in ``scale`` units) and ``share``; ``attrs``: ``n`` (runs or pairs),
        ``mean_std`` (the std of the runs' label mean, ``scale`` units) and ``variant`` /
        ``reference``.
    """
    df = tidy[tidy["metric"].astype(str).str.startswith(prefix)]
    if variant not in set(df["variant"]) or (reference is not None and reference not in set(df["variant"])):
        raise KeyError(f"no {prefix}* metrics for {variant!r}" + (f" and {reference!r}" if reference else "")
                       + f"; variants: {list(dict.fromkeys(tidy['variant']))}")
    df = _keyed_runs(df)
    labels = list(dict.fromkeys(m[len(prefix):] for m in df["metric"]))

    def wide(v: str) -> pd.DataFrame:
        w = df[df["variant"] == v].pivot(index="_key", columns="metric", values="value")
        return w[[prefix + a for a in labels]]

    runs = wide(variant)
    if reference is not None:
        ref = wide(reference)
        keys = runs.index.intersection(ref.index)
        runs = runs.loc[keys] - ref.loc[keys]
    runs = runs.dropna()
    x = runs.to_numpy(float) * scale  # (n runs, L labels)
    n = len(x)
    if n < 2:
        raise ValueError(f"{n} run(s) of {variant!r}: the spread needs at least 2")
    cov = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
    total = cov.sum()
    share = cov.sum(axis=1) / total if total > 0 else np.full(len(labels), np.nan)
    out = pd.DataFrame({"mean": x.mean(axis=0), "std": x.std(axis=0, ddof=1), "share": share},
                       index=pd.Index(labels, name="label"))
    out.attrs.update(n=n, mean_std=float(x.mean(axis=1).std(ddof=1)), variant=variant, reference=reference)
    return out


def fold_noise(tidy: pd.DataFrame, metric: str, scale: float = 100.0) -> pd.DataFrame:
    """Per variant: mean, std over folds (ddof=1), min–max range and n, in ``scale`` units.

    The last row, ``"median over variants"``, is the typical fold-to-fold standard deviation —
    differences between variants smaller than about that are noise.
    """
    df = tidy[tidy["metric"] == metric]
    g = df.groupby("variant", sort=False)["value"]
    out = pd.DataFrame({"mean": g.mean() * scale, "std": g.std(ddof=1) * scale,
                        "range": (g.max() - g.min()) * scale, "n_folds": g.count()})
    out.loc["median over variants"] = [np.nan, out["std"].median(), out["range"].median(), np.nan]
    return out.round(2 if scale >= 10 else 4)


def noise_note(tidy: pd.DataFrame, metric: str, scale: float = 100.0, unit: str = "points") -> str:
    """One sentence: the median fold-to-fold std and range of ``metric``."""
    fn = fold_noise(tidy, metric, scale)
    n = int(np.nanmax(fn["n_folds"].to_numpy(dtype=float))) if len(fn) > 1 else 0
    if n < 2:
        return (f"Only one fold was run, so the fold-to-fold noise of {metric} cannot be estimated "
                "here (run with FOLDS >= 2).")
    sd, rg = fn.loc["median over variants", "std"], fn.loc["median over variants", "range"]
    best = fn.drop(index="median over variants")["mean"]
    spread = float(best.max() - best.min())
    d = 1 if scale >= 10 else 3
    u = f" {unit}" if unit else ""
    seeds = "seed" in tidy.columns and tidy["seed"].nunique() > 1
    runs = f"{n} runs (folds × seeds)" if seeds else f"{n} folds"
    return (f"{metric}: run-to-run std ≈ {sd:.{d}f}{u} (median over variants; median range "
            f"{rg:.{d}f}) over {runs}, against a spread of {spread:.{d}f}{u} between the best "
            f"and worst variant — differences of row means below ~{2 * sd:.{d}f}{u} are not "
            "meaningful; a paired Δ [95 % CI] (same fold and seed, Ablation.table(reference=...)) "
            "cancels the fold-to-fold part.")


def ordering(ours: pd.DataFrame | Mapping[str, float], table: str | None = None, column: str | None = None,
             metric: str | None = None, lower_better: bool = False, scale: float = 100.0,
             paper: Mapping[str, float] | None = None, reference: str | None = None,
             tidy: pd.DataFrame | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Our ranking of the rows next to the paper's and, where the per-run values are known, each
    row's paired Δ against a reference row with its verdict against the paper's Δ.

    Kendall's τ between the two rankings: τ = (concordant − discordant pairs) / (n(n−1)/2) over
    the rows both have (:func:`scipy.stats.kendalltau`, τ-b with ties).

    Args:
        ours: ``Ablation.summary()`` (``(metric, mean)`` columns; its ``attrs["runs"]`` carries the
            per-run values) or ``{row: value}``.
        table, column: the paper's table (``"mafg_ccfg/table4"``) and column (``"F1"``); ``metric``
            defaults to the column's metric key.
        paper: ``{row: value}`` instead of ``table``/``column``.
        reference: the row the Δ are taken against (default: the paper's first row we ran).
        tidy: the tidy frame, when ``ours`` does not carry ``attrs["runs"]``.

    Returns:
        rows ordered as ours (best first) with ``ours``, ``paper``, ``rank ours``, ``rank paper``;
        ``df.attrs["kendall_tau"]`` (NaN with fewer than 3 shared rows). With a ``table`` and the
        per-run values also ``Δ ours [95 % CI]`` (paired over the runs sharing a fold and seed,
        :func:`paired_comparison`), ``Δ paper``, ``verdict``, ``magnitude``, ``n``, ``sd`` and the
        ``pairs needed`` columns (:func:`paper_verdicts`); where ``ours`` carries the runs' recorded
        seconds (``attrs["seconds"]`` of ``Ablation.summary``), ``attrs["cost"]``
        (:func:`resolution_note`: what resolving the unresolved rows would cost), also appended
        to the note;
        ``attrs["counts"]`` and ``attrs["note"]`` (the line to print under the table:
        :func:`verdict_note`).
    """
    runs, ours_frame = tidy, ours
    if runs is None and isinstance(ours, pd.DataFrame) and ours.attrs.get("runs"):
        runs = tidy_from_runs(ours.attrs["runs"])
    if paper is None:
        info = table_info(table)
        metric = metric or dict(zip(info["columns"], info["metrics"]))[column]
        paper = load_table(table)[column].dropna().to_dict()
    if isinstance(ours, pd.DataFrame):
        col = (metric, "mean") if isinstance(ours.columns, pd.MultiIndex) else metric
        ours = ours[col].to_dict()
    o = pd.Series({k: float(v) * scale for k, v in ours.items()}, dtype=float)
    df = pd.DataFrame({"ours": o, "paper": pd.Series(dict(paper), dtype=float).reindex(o.index)})
    df["rank ours"] = df["ours"].rank(ascending=lower_better, method="min")
    df["rank paper"] = df["paper"].rank(ascending=lower_better, method="min")
    df = df.sort_values("ours", ascending=lower_better)
    shared = df.dropna()
    tau = float("nan")
    if len(shared) >= 3:
        from scipy.stats import kendalltau  # local: SciPy (~0.5 s) only for the statistical tests

        tau = float(kendalltau(shared["ours"], shared["paper"]).statistic)
    df = df.round(2 if scale >= 10 else 4)
    df.attrs["kendall_tau"] = tau
    df.index.name = table or "row"
    if table is not None and runs is not None and metric in set(runs["metric"]):
        _add_paired_deltas(df, runs, table, column, metric, reference, confidence, scale)
        seconds = getattr(ours_frame, "attrs", {}).get("seconds")
        if seconds and "reference" in df.attrs:
            df.attrs["cost"] = resolution_note(df, seconds)
            df.attrs["note"] = f"{df.attrs['note']}\n{df.attrs['cost']}"
    return df


def _add_paired_deltas(df: pd.DataFrame, runs: pd.DataFrame, table: str, column: str | None, metric: str,
                       reference: str | None, confidence: float, scale: float) -> None:
    """:func:`ordering`'s ``Δ ours [CI]``, ``Δ paper`` and ``verdict`` columns, added in place
    (against ``reference``, default: the table's first row among ``runs``)."""
    ran = set(runs.loc[runs["metric"] == metric, "variant"])
    reference = reference or next((r for r in load_table(table).index if r in ran), None)
    if reference is None:
        return
    ver = paper_verdicts(runs, table, reference, column=column, metric=metric,
                         confidence=confidence, scale=scale)
    d = 1 if scale >= 10 else 3
    df[f"Δ ours [{100 * confidence:g} % CI]"] = [
        "reference" if r == reference else format_delta_ci(
            *ver.loc[r, ["Δ ours", "CI low", "CI high"]], 1.0, d) if r in ver.index else "–"
        for r in df.index]
    df["Δ paper"] = [ver.loc[r, "Δ paper"] if r in ver.index else np.nan for r in df.index]
    df["verdict"] = [ver.loc[r, "verdict"] if r in ver.index else "" for r in df.index]
    df["Δ paper"] = df["Δ paper"].round(2 if scale >= 10 else 4)
    for col in ("magnitude", "n", "sd", "pairs needed (Δ paper)", "pairs needed (Δ ours)"):
        blank = "" if col == "magnitude" else np.nan
        df[col] = [ver.loc[r, col] if r in ver.index else blank for r in df.index]
    df["sd"] = df["sd"].astype(float).round(2 if scale >= 10 else 4)
    df.attrs.update(counts=ver.attrs["counts"], note=verdict_note(ver), reference=reference,
                    n_pairs=ver.attrs["n_pairs"], power=ver.attrs["power"])
