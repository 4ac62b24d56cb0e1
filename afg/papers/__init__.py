"""The papers' content: what the numbered notebooks (``notebooks/00_*`` … ``08_*``) and the README
gallery compute with the engine (:mod:`afg.experiments`).

* :mod:`.notebook_setup` — :class:`~afg.papers.notebook_setup.NotebookSetup` (the papermill
  parameters → configs, ablations and sweeps; the synthetic scales are the YAML overlays
  ``configs/synthetic/{quick,default}.yaml``), ``reference_dir``.
* :mod:`.sweeps` — every notebook sweep's values, defined once (:data:`~afg.papers.sweeps.SWEEPS`).
* :mod:`.me_graphau_table3` — ME-GraphAU's two-stage recipe and its Table 3.
* :mod:`.figures` — every experiment, figure and table of notebooks 03–06 as functions (notebook 08).
* :mod:`.gallery` — the README's ``docs/gallery`` PNGs and captions.
* :mod:`.probes` — claims that are not ablation rows (CCFG as written vs as coded, AU-GCN's graph on
  DISFA labels, K-NN in-degrees).
* :mod:`.results` — what a notebook reads back from runs and datasets (predictions, models, faces).
* :mod:`.environment` — notebook 00's install check.

Import the submodule you need (``from afg.papers.notebook_setup import NotebookSetup``); the paired
statistics (``fold_noise``, ``noise_note``, ``ordering``) are the engine's, in
:mod:`afg.experiments.analysis`.
"""
