"""The paper notebooks' parameter sweeps, defined once.

Notebooks 03 (MAFG+CCFG Fig. 6: K), 05 (Emotion-GCN Table II: τ, p, GCN layers) and 06 (SVML-RGCN
Fig. 5: t1, t2; Fig. 6: depth) read their sweep values from :data:`SWEEPS` through
:func:`sweep_values`, and notebook 08 builds the same sweeps through
:func:`afg.papers.figures.paper_experiments`, so both ask the run cache for the same runs.

Each sweep has three grids: ``paper`` (the grid the paper reports, run on a release), ``synthetic``
(the synthetic default mode, ``QUICK=False``; the paper grid when not given) and ``quick`` (a smoke
test of the cells).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["SWEEPS", "SweepValues", "sweep_values"]


@dataclass(frozen=True)
class SweepValues:
    """The values one parameter is swept over, per notebook mode."""

    paper: tuple[Any, ...]
    quick: tuple[Any, ...]
    synthetic: tuple[Any, ...] | None = None  # None: the paper grid

    def pick(self, quick: bool, synthetic: bool) -> list[Any]:
        """The grid of a mode: quick, else synthetic default, else the paper's."""
        if quick:
            return list(self.quick)
        return list(self.synthetic if synthetic and self.synthetic is not None else self.paper)


#: ``{(paper, dotted config key): SweepValues}``; the papers' figure and table numbers are in the
#: notebooks' markdown
SWEEPS: dict[tuple[str, str], SweepValues] = {
    ("mafg_ccfg", "model.neighbor_num"): SweepValues(paper=(1, 2, 3, 4, 6), quick=(1, 3)),
    ("emotion_gcn", "model.tau"): SweepValues(paper=(0.0, 0.05, 0.1, 0.15), quick=(0.0, 0.1)),
    ("emotion_gcn", "model.p"): SweepValues(paper=(0.3, 0.5, 0.7), quick=(0.5, 0.7)),
    ("emotion_gcn", "model.gcn_layers"): SweepValues(paper=(1, 2, 3), quick=(1, 2)),
    ("svml_rgcn", "model.t1"): SweepValues(paper=(1e-6, 0.05, 0.1, 0.15, 0.2, 0.25), quick=(0.05, 0.15),
                                           synthetic=(1e-6, 0.1, 0.15, 0.25)),
    ("svml_rgcn", "model.t2"): SweepValues(paper=(0.25, 0.3, 0.35, 0.4, 0.45, 0.5), quick=(0.4, 0.5),
                                           synthetic=(0.3, 0.4, 0.5)),
    ("svml_rgcn", "model.num_layers"): SweepValues(paper=(1, 2, 3), quick=(1, 2)),
}


class _Mode(Protocol):
    quick: bool
    synthetic: bool


def sweep_values(setup: _Mode, paper: str, param: str) -> list[Any]:
    """The values of ``paper``'s sweep of ``param`` in ``setup``'s mode (a
    :class:`~afg.papers.notebook_setup.NotebookSetup`: its ``quick`` and ``synthetic``)."""
    try:
        values = SWEEPS[(paper, param)]
    except KeyError:
        raise KeyError(f"no sweep of {param!r} for {paper!r}; sweeps: {sorted(SWEEPS)}") from None
    return values.pick(bool(setup.quick), bool(setup.synthetic))
