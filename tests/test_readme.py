"""The README's quick tour runs as written: its Python blocks, in order, in one namespace (the run
goes to a temporary run cache), and what it prints is what the comments say."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_the_readme_has_a_three_step_tour():
    blocks = python_blocks((REPO / "README.md").read_text())
    assert len(blocks) == 3
    assert "create_model(" in blocks[0] and "run(" in blocks[1] and "Predictor(" in blocks[2]


@pytest.mark.slow
def test_the_readme_code_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)  # the tour names configs/ relative to the checkout
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    namespace: dict = {}
    for block in python_blocks((REPO / "README.md").read_text()):
        exec(compile(block, "README.md", "exec"), namespace)  # the README's own code
    out = capsys.readouterr().out
    assert "torch.Size([2, 8])" in out
    result = namespace["result"]
    assert Path(result.run_dir).parent == tmp_path / "runs"
    assert 0.0 <= result.metrics["f1_mean"] <= 1.0 and 0.0 <= result.metrics["auc_mean"] <= 1.0
    table = namespace["table"]
    assert len(table) == 2 and (table["status"] == "ok").all()
    aus = namespace["predictor"].output_columns
    assert aus[:2] == ["AU01", "AU02"] and ((table[aus] >= 0) & (table[aus] <= 1)).all().all()
