"""Numbers that cannot go stale (afg.docs): every marked number of README.md and docs/ equals what
its results file (docs/results/<name>.json, written by the command that measured it) says, the
README, the docs pages and the notebooks' Markdown cells (the docs site renders them as pages)
quote no measured number outside markers, and the writers fill the files the pages read."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from afg import docs
from afg.measured import write_results

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "docs" / "results"


def test_every_page_agrees_with_its_results_files():
    """The check `make docs-numbers` leaves clean; a failure names file:line, the marker and both
    values (rerun `python -m afg.docs` after the measuring command wrote its file)."""
    bad = docs.check_pages(docs.page_paths(REPO), RESULTS)
    assert not bad, "\n".join(bad)


def test_every_committed_results_file_is_complete():
    for path in sorted(RESULTS.glob("*.json")):
        record = json.loads(path.read_text())
        assert record["name"] == path.stem
        assert {"command", "date", "commit", "machine", "precision", "data"} <= set(record), path


def test_the_readme_is_one_screen_deep_and_quotes_no_measurement_by_hand():
    text = (REPO / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 200
    first_command = next(i for i, line in enumerate(lines, 1) if line.startswith("make "))
    assert first_command <= 40, f"first command on line {first_command}"
    assert docs.unmarked_numbers(text) == []
    assert not re.search(r"(?<![\w/])#\d{2,}\b", text), "issue numbers belong in the history, not the README"
    assert not re.search(r"`[0-9a-f]{7,40}`", text), "commit hashes belong in results files, not the README"


#: measured-looking numbers that are settings, not measurements, page by page (a notebook by its
#: ``notebooks/NN_name.ipynb`` path): each must stay in this list by name (a new number on any page
#: or in a notebook's Markdown fails the tests below until it comes from a results file through a
#: marker — in a notebook: until the note points at what the notebook prints or at the results
#: file and docs page that render it — or is added here as a setting or a paper's own value)
SETTINGS = {
    # the data-wait goal, and the cluster tooling's own settings: the test cluster's memory share,
    # the lowered time limit, the lock's poll interval, heartbeat and staleness age
    "docs/cluster.md": ["10 %", "90 %", "1 min", "0.5 s", "5 s", "10 s", "120 s", "120 s", "120 s"],
}


@pytest.mark.parametrize("page", [p.relative_to(REPO).as_posix() for p in docs.page_paths(REPO)])
def test_no_page_quotes_a_measurement_by_hand(page):
    """Every page of README.md and docs/ (synthetic.md included): a number with
    a unit of time, a percentage or a ratio outside a marker is a setting listed in SETTINGS."""
    found = [hit.split(": ", 1)[1].strip("'") for hit in docs.unmarked_numbers((REPO / page).read_text())]
    assert found == SETTINGS.get(page, []), docs.unmarked_numbers((REPO / page).read_text())


NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def notebook_unmarked_numbers(path: Path) -> list[str]:
    """:func:`afg.docs.unmarked_numbers` over the Markdown cells of a notebook (code, raw cells and
    outputs are not prose), one ``cell C line N: ...`` each (C counts every cell from 0, as
    ``nb.cells`` and the ``# %%`` headers of the ``notebooks/py/`` pair do)."""
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for c, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "markdown":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            out += [f"cell {c} {hit}" for hit in docs.unmarked_numbers(source)]
    return out


@pytest.mark.parametrize("notebook", [p.relative_to(REPO).as_posix() for p in NOTEBOOKS])
def test_no_notebook_note_quotes_a_measurement_by_hand(notebook):
    """The notebooks' Markdown cells (the closing notes above all) point at what the notebook
    prints when run, or at the results file and docs page that render it (docs/results.md), and
    quote no time, percentage or ratio by hand; the .ipynb is what the docs site renders, and
    tests/test_notebooks.py keeps it in sync with its notebooks/py/ pair."""
    hits = notebook_unmarked_numbers(REPO / notebook)
    found = [hit.split(": ", 1)[1].strip("'") for hit in hits]
    assert found == SETTINGS.get(notebook, []), hits


def test_the_notebook_scan_reads_markdown_cells_and_nothing_else(tmp_path):
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "\n", "It took 11.8 min, F1 49 %."]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "source": "print('12 %, 3 min')",
         "outputs": [{"output_type": "stream", "name": "stdout", "text": "12 %, 3 min\n"}]},
        {"cell_type": "raw", "metadata": {}, "source": "20 min"},
        {"cell_type": "markdown", "metadata": {}, "source": "a 95 % CI at 7×7 tokens, `2.5 min` in code,\n"
                                                           "<!-- results:x:y -->3.1<!-- /results --> min; 4.3×"},
    ]}
    path = tmp_path / "99_planted.ipynb"
    path.write_text(json.dumps(nb))
    assert notebook_unmarked_numbers(path) == ["cell 0 line 3: '11.8 min'", "cell 0 line 3: '49 %'",
                                               "cell 3 line 2: '4.3×'"]


def test_values_render_from_the_results_file(tmp_path):
    write_results("bench", {"f1": {"a": 58.91, "b": None}, "rows": [{"x": 1}], "name": "z"},
                  command="python bench.py", precision="bf16", folder=tmp_path)
    page = ("F1 <!-- results:bench:f1.a:.1f -->?<!-- /results --> and "
            "<!-- results:bench:rows.0.x -->?<!-- /results -->, "
            "<!-- results:bench:f1.b -->?<!-- /results -->, "
            "<!-- results:bench:@precision -->?<!-- /results -->, "
            "<!-- results:other:k -->?<!-- /results -->")
    assert docs.render_text(page, tmp_path) == (
        "F1 <!-- results:bench:f1.a:.1f -->58.9<!-- /results --> and "
        "<!-- results:bench:rows.0.x -->1<!-- /results -->, "
        "<!-- results:bench:f1.b -->—<!-- /results -->, "
        "<!-- results:bench:@precision -->bf16<!-- /results -->, "
        f"<!-- results:other:k -->{docs.NOT_MEASURED}<!-- /results -->")
    assert docs.mark("bench", "f1.a", 58.91, ".1f") == "<!-- results:bench:f1.a:.1f -->58.9<!-- /results -->"
    example = "`<!-- results:bench:f1.a -->1<!-- /results -->`\n```\n<!-- results:x:y -->2<!-- /results -->\n```\n"
    assert docs.render_text(example, tmp_path) == example  # markers in code are examples
    with pytest.raises(KeyError, match=r"no 'f1\.c'"):
        docs.render_text("<!-- results:bench:f1.c -->?<!-- /results -->", tmp_path)


def test_a_planted_stale_number_fails_the_check(tmp_path):
    """A page that says 58.9 where its results file now says 61.2 is caught, with file and line."""
    write_results("demo", {"f1_mean": {"me_graphau": 61.2}}, command="python -m afg demo", folder=tmp_path)
    page = tmp_path / "page.md"
    page.write_text("# t\n\nME-GraphAU F1 <!-- results:demo:f1_mean.me_graphau:.1f -->58.9<!-- /results -->.\n")
    bad = docs.check_pages([page], tmp_path)
    assert bad == [f"{page}:3: results:demo:f1_mean.me_graphau:.1f: page says '58.9', results file says '61.2'"]
    assert docs.main(["--results", str(tmp_path), str(page)]) == 0  # render in place...
    assert docs.check_pages([page], tmp_path) == []  # ...and the page agrees again
    assert "61.2" in page.read_text()


def test_the_per_paper_table_takes_a_new_results_file_without_editing_the_page(tmp_path):
    page = "<!-- results-block:papers -->\nold\n<!-- /results-block -->\n"
    empty = docs.render_text(page, tmp_path)
    assert empty.count("\n| ") == 2 + len(docs.PAPER_ROWS) - 1  # header, rule, one row per paper
    write_results("replication_x", {"summary": [{"paper": "AU-GCN", "replicated": "2 / 3"}]},
                  command="afg ablate x --replicate 2,3", folder=tmp_path)
    table = docs.render_text(page, tmp_path)
    header = table.splitlines()[1]
    assert header.endswith("| replicated |")
    au_gcn = next(line for line in table.splitlines() if line.startswith("| AU-GCN"))
    assert au_gcn.endswith("| 2 / 3 |")
    me = next(line for line in table.splitlines() if line.startswith("| ME-GraphAU"))
    assert me.endswith("| not measured yet |")  # no file for it yet: said so
    write_results("bad", {"summary": {"paper": "Nope", "x": 1}}, command="c", folder=tmp_path)
    with pytest.raises(ValueError, match="unknown paper 'Nope'"):
        docs.render_text(page, tmp_path)


def test_a_table_block_renders_one_list_of_a_results_file_filtered(tmp_path):
    write_results("loc", {"scores": [{"au": "AU01", "model": "a", "hit": 1.0}, {"au": "mean", "model": "a", "hit": 0.5},
                                     {"au": "mean", "model": "b", "hit": 0.25}], "rows": [{"x": 1}]},
                  command="python cam.py", folder=tmp_path)
    page = "<!-- results-block:table:loc:scores:au=mean -->\nold\n<!-- /results-block -->\n"
    lines = docs.render_text(page, tmp_path).splitlines()[1:-1]
    assert lines == ["| au | hit | model |", "|---|---|---|", "| mean | 0.5 | a |", "| mean | 0.25 | b |"]  # keys sorted
    whole = docs.render_text("<!-- results-block:table:loc -->\n<!-- /results-block -->\n", tmp_path)
    assert "| x |" in whole and "| 1 |" in whole  # without a key: data.rows
    with pytest.raises(ValueError, match=r"data\.hit"):
        docs.render_text("<!-- results-block:table:loc:hit -->\n<!-- /results-block -->\n", tmp_path)


def test_unmarked_numbers_finds_measurements_outside_markers_and_code():
    text = ("takes 11.8 min and 4.28× chance\n"
            "`3.1 min` in code, <!-- results:demo:minutes:.1f -->3.1<!-- /results --> min marked\n"
            "```\n12 %\n```\n112 px, 3 folds, F1 49 %, a 95 % CI, 7×7 tokens, 2 × 2 seeds\n"
            "80 % power, a 1×k kernel, 6× faster, 3.3× k\n")
    assert docs.unmarked_numbers(text) == ["line 1: '11.8 min'", "line 1: '4.28×'", "line 6: '49 %'",
                                           "line 7: '6×'", "line 7: '3.3×'"]


def test_notebook_finish_writes_time_and_verdict_counts(tmp_path, monkeypatch):
    """The closing cell of a notebook: in the synthetic default mode a results file with the wall
    time, new run folders and each table's verdict counts, and a summary for the per-paper table."""
    from afg.papers.notebook_setup import NotebookSetup

    monkeypatch.setenv("AFG_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    order = pd.DataFrame({"ours": [1.0]})
    order.attrs.update(counts={"reproduced": 5, "contradicted": 0, "unresolved": 1, "no claim": 0},
                       kendall_tau=0.8095, n_pairs=4)
    setup = NotebookSetup(quick=False)
    (tmp_path / "runs" / "me_graphau-abc").mkdir(parents=True)
    (tmp_path / "runs" / "me_graphau-abc" / "config.yaml").write_text("x: 1\n")
    data = setup.finish("02_me_graphau", {"me_graphau/table3": order}, seeds=[0, 1])
    record = json.loads((tmp_path / "results" / "notebook_02.json").read_text())
    assert record["data"] == json.loads(json.dumps(data))
    assert data["runs_trained"] == 1 and data["seeds"] == [0, 1]
    assert data["tables"]["me_graphau/table3"] == {"reproduced": 5, "contradicted": 0, "unresolved": 1,
                                                   "no claim": 0, "pairs": 4, "kendall_tau": 0.81}
    assert data["summary"]["paper"] == "ME-GraphAU"
    assert "table3: 5 / 0 / 1 (4 pairs)" in data["summary"].values()
    assert record["command"].startswith("jupyter execute notebooks/02_me_graphau.ipynb")
    NotebookSetup(quick=True).finish("02_me_graphau", {"me_graphau/table3": order})
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["notebook_02.json"]  # quick: printed only
