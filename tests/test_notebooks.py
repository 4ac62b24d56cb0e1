"""Every numbered notebook: paired with its jupytext ``py:percent`` file (``notebooks/py/``), committed without outputs,
a tagged ``parameters`` cell with the required knobs, and executed top to bottom in quick mode
(papermill) with figures, runs and caches in temporary folders; each must write its figures (PDF
and PNG, see :data:`FIGURES`) and show its tables' rows (:data:`TABLE_ROWS`; notebook 08 also its
exported LaTeX/Markdown tables)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REQUIRED = ("QUICK", "DATASET", "DATA_ROOT", "DEVICE", "EPOCHS", "FOLDS", "SEED")

#: the figures (``afg.viz.save_figure`` names) each notebook writes unconditionally in quick mode
FIGURES = {
    "00_quickstart": ["00_synth_au_gallery", "00_me_graphau_f1", "00_knn_graph"],
    "01_data_preparation": ["01_synth_au_gallery", "01_rates_disfa", "01_rates_emotionet",
                            "01_mtcnn_alignment", "01_prepared_faces", "01_cooccurrence_disfa",
                            "01_cooccurrence_graph_disfa"],
    "02_me_graphau": ["02_table3_per_au_f1", "02_fig4_knn_3", "02_fig4_knn_4", "02_fig4_knn_7"],
    "03_mafg_ccfg": ["mafg_ccfg_k_sweep", "mafg_ccfg_gradcam"],
    "04_au_gcn": ["au_gcn_rois", "au_gcn_table1_disfa", "au_gcn_reconstructions"],
    "05_emotion_gcn": ["emotion_gcn_adjacency", "emotion_gcn_table2_sweeps", "emotion_gcn_confusion",
                       "emotion_gcn_cosine"],
    "06_svml_rgcn": ["svml_rgcn_relations", "svml_rgcn_sweeps", "svml_rgcn_gradcam"],
    "07_visualisation_gallery": ["07_synth_gallery", "07_rois", "07_adjacency_heatmaps",
                                 "07_relations_and_emotion_adjacency", "07_knn_graphs",
                                 "07_gradcam_me-graphau", "07_gradcam_mafg_ccfg", "07_au_f1",
                                 "07_sweep_k", "07_confusion_matrix", "07_cosine_similarity"],
    "08_paper_figures": ["au_gcn_rois", "au_gcn_table1_disfa", "au_gcn_reconstructions",
                         "emotion_gcn_adjacency", "emotion_gcn_confusion", "emotion_gcn_cosine",
                         "svml_rgcn_relations", "svml_rgcn_gradcam"],
}
#: row labels that must appear in a notebook's displayed outputs (its tables)
TABLE_ROWS = {
    "02_me_graphau": ["+AFG, L_WA", "+AFG+FGG, L_WA", "+AFG+FGG+MEFL, L_WA+L_E"],
    "08_paper_figures": ["mafg_ccfg/ablation", "au_gcn/ablation", "emotion_gcn/ablation",
                         "svml_rgcn/ablation"],
}
#: notebook 08 exports one ablation table per paper (first and last row in quick mode)
EXPORTED = ("mafg_ccfg", "au_gcn", "emotion_gcn", "svml_rgcn")


def test_every_notebook_has_its_expected_outputs_listed():
    assert sorted(FIGURES) == [p.stem for p in NOTEBOOKS]


def _output_text(nb: dict) -> str:
    """All text of the executed notebook's outputs (streams, plain-text and HTML results)."""
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            for key in ("text/plain", "text/html", "text/markdown"):
                parts.append("".join(out.get("data", {}).get(key, "")))
    return "\n".join(parts)


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 1, "no notebooks found in notebooks/"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_clean_paired_and_parameterised(nb_path):
    jupytext = pytest.importorskip("jupytext")  # a dev dependency; absent on a bare GPU image

    nb = json.loads(nb_path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), \
        f"{nb_path.name} is committed with outputs"
    first = code[0]
    assert "parameters" in first.get("metadata", {}).get("tags", []), "first code cell must be tagged 'parameters'"
    src = "".join(first["source"])
    for name in REQUIRED:
        assert f"{name} =" in src, f"parameters cell lacks {name}"
    py = nb_path.parent / "py" / f"{nb_path.stem}.py"
    assert py.exists(), f"notebooks/py/{py.name} (jupytext py:percent pair) missing"
    a = [(c.cell_type, c.source.strip()) for c in jupytext.read(nb_path).cells]
    b = [(c.cell_type, c.source.strip()) for c in jupytext.read(py).cells]
    assert a == b, f"{nb_path.name} and {py.name} are out of sync (run: jupytext --sync {py})"


@pytest.mark.notebook
@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_in_quick_mode(nb_path, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("AFG_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AFG_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    committed = {p.name: p.read_bytes() for p in (REPO / "docs" / "gallery").glob("*")}
    pm.execute_notebook(
        str(nb_path),
        str(tmp_path / nb_path.name),
        parameters={"QUICK": True},
        cwd=str(nb_path.parent),
        kernel_name="python3",
        progress_bar=False,
        log_output=False,
        request_save_on_cell_execute=False,
    )
    figures = tmp_path / "figures"
    for name in FIGURES[nb_path.stem]:
        for ext in ("pdf", "png"):
            f = figures / f"{name}.{ext}"
            assert f.is_file() and f.stat().st_size > 1000, f"{nb_path.name} did not write {f.name}"
    text = _output_text(json.loads((tmp_path / nb_path.name).read_text()))
    for row in TABLE_ROWS.get(nb_path.stem, []):
        assert row in text, f"{nb_path.name}: no table row {row!r} in its outputs"
    if nb_path.stem == "08_paper_figures":
        for paper in EXPORTED:
            assert (figures / f"{paper}_ablation.tex").read_text().count(r"\\") >= 2, paper
            rows = [ln for ln in (figures / f"{paper}_ablation.md").read_text().splitlines()
                    if ln.startswith("|")]
            assert len(rows) >= 4, (paper, rows)  # header, rule, first and last variant
        from afg.papers.gallery import GALLERY_FILES

        # the README gallery of the quick run lands in the figures folder, never in docs/gallery
        assert sorted(p.name for p in (figures / "gallery").iterdir()) == sorted(GALLERY_FILES)
    assert {p.name: p.read_bytes() for p in (REPO / "docs" / "gallery").glob("*")} == committed
