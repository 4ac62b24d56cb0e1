"""What the numbered notebooks (``notebooks/00_*`` … ``08_*``) import, in one place.

Nothing is defined here; each name lives in the module that owns its job:

* :mod:`afg.experiments.notebook_setup` — :class:`NotebookSetup` (the papermill parameters →
  configs, ablations and sweeps; the synthetic scales are the YAML overlays
  ``configs/synthetic/{quick,default}.yaml``), :func:`reference_dir`.
* :mod:`afg.experiments.analysis` — :func:`fold_noise`, :func:`noise_note`, :func:`ordering`
  (with the paired statistics and verdicts).
* :mod:`afg.experiments.results` — :func:`predictions`, :func:`load_stage_model`,
  :func:`dataset_attr`, :func:`first_images`.
* :mod:`afg.experiments.probes` — :func:`ccfg_paper_vs_code`, :func:`au_relation_graphs`,
  :func:`disfa_training_labels`, :data:`DISFA_REFERENCE_AUS`.
* :mod:`afg.viz` — :func:`~afg.viz.plot_roi_reconstructions` and every other figure.
"""
from __future__ import annotations

from ..viz.rois import plot_roi_reconstructions
from .analysis import fold_noise, noise_note, ordering
from .notebook_setup import CONFIGS_DIR, PAPER_DATASETS, NotebookSetup, _set_epochs, reference_dir
from .probes import (
    DISFA_REFERENCE_AUS,
    au_relation_graphs,
    ccfg_paper_vs_code,
    disfa_training_labels,
)
from .results import dataset_attr, first_images, load_stage_model, predictions

__all__ = [
    "CONFIGS_DIR",
    "DISFA_REFERENCE_AUS",
    "PAPER_DATASETS",
    "NotebookSetup",
    "_set_epochs",
    "au_relation_graphs",
    "ccfg_paper_vs_code",
    "dataset_attr",
    "disfa_training_labels",
    "first_images",
    "fold_noise",
    "load_stage_model",
    "noise_note",
    "ordering",
    "plot_roi_reconstructions",
    "predictions",
    "reference_dir",
]
