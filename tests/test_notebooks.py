"""Every numbered notebook: paired with its jupytext ``py:percent`` file, committed without outputs,
a tagged ``parameters`` cell with the required knobs, and executed top to bottom in quick mode
(papermill) with figures and runs written to temporary folders."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
REQUIRED = ("QUICK", "DATASET", "DATA_ROOT", "DEVICE", "EPOCHS", "FOLDS", "SEED")


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
    py = nb_path.with_suffix(".py")
    assert py.exists(), f"{py.name} (jupytext py:percent pair) missing"
    a = [(c.cell_type, c.source.strip()) for c in jupytext.read(nb_path).cells]
    b = [(c.cell_type, c.source.strip()) for c in jupytext.read(py).cells]
    assert a == b, f"{nb_path.name} and {py.name} are out of sync (run: jupytext --sync {py})"


@pytest.mark.notebook
@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_in_quick_mode(nb_path, tmp_path, monkeypatch):
    import papermill as pm

    monkeypatch.setenv("AFG_FIGURES_DIR", str(tmp_path / "figures"))
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
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
