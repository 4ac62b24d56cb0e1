"""The README gallery (afg.papers.gallery): small PNGs written atomically, a caption file that
names the runs, quick runs kept out of the committed docs/gallery, and the verdict table figure."""
from __future__ import annotations

import re
import warnings

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import afg
from afg.data import synth
from afg.papers.gallery import (
    DOCS_GALLERY,
    GALLERY_FILES,
    gallery_folder,
    write_gallery,
    write_png,
)
from afg.papers.notebook_setup import NotebookSetup
from afg.viz import VERDICT_COLORS, plot_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _noisy_figure():
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.imshow(np.random.default_rng(0).random((200, 250, 3)))
    return fig


def test_write_png_lowers_the_resolution_until_the_file_fits(tmp_path):
    big = write_png(_noisy_figure(), tmp_path / "big.png", dpi=110, max_bytes=10**9)
    small = write_png(_noisy_figure(), tmp_path / "small.png", dpi=110, max_bytes=60_000)
    assert big.read_bytes()[:8] == PNG_SIGNATURE == small.read_bytes()[:8]
    assert big.stat().st_size > 60_000 >= small.stat().st_size
    assert Image.open(small).size[0] < Image.open(big).size[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.png", "small.png"]  # no temporary left
    with pytest.warns(UserWarning, match="above 100"):
        write_png(_noisy_figure(), tmp_path / "tiny.png", max_bytes=100)
    assert (tmp_path / "tiny.png").is_file()


def test_write_png_gives_the_same_bytes_for_the_same_figure(tmp_path):
    a = write_png(_noisy_figure(), tmp_path / "a.png")
    b = write_png(_noisy_figure(), tmp_path / "b.png")
    assert a.read_bytes() == b.read_bytes()
    assert b"Matplotlib" not in a.read_bytes()  # no version metadata to churn the committed files


def test_a_quick_run_never_writes_into_the_committed_gallery(tmp_path, monkeypatch):
    monkeypatch.setenv("AFG_FIGURES_DIR", str(tmp_path / "figs"))
    quick = NotebookSetup(quick=True)
    assert gallery_folder(quick) == tmp_path / "figs" / "gallery"
    assert gallery_folder(quick, tmp_path / "x") == tmp_path / "x"
    with pytest.raises(ValueError, match="QUICK run would overwrite"):
        gallery_folder(quick, DOCS_GALLERY)
    assert gallery_folder(NotebookSetup(quick=False)) == DOCS_GALLERY
    with pytest.raises(ValueError, match="must include the setup's seed 0"):
        write_gallery(quick, tmp_path / "g", seeds=[1, 2])
    assert not (tmp_path / "g").exists()


def test_plot_table_fits_every_column_and_colours_the_verdicts():
    df = pd.DataFrame({"Δ ours [95 % CI]": ["reference", "+19.8 [+11.6, +27.9]", "+0.1 [-1.0, +1.2]"],
                       "verdict": ["reference", "reproduced", "unresolved"]},
                      index=pd.Index(["Backbone (WBCE)", "+AFG+FGG+MEFL, L_WA+L_E", "x"], name="row"))
    fig = plot_table(df, title="t", note="a note " * 40)
    assert fig.cell_text[0] == ["row", "Δ ours [95 % CI]", "verdict"]
    assert fig.cell_text[2] == ["+AFG+FGG+MEFL, L_WA+L_E", "+19.8 [+11.6, +27.9]", "reproduced"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (table,) = fig.axes[0].tables
    cells = table.get_celld()
    for (r, c), cell in cells.items():  # no text spills out of its cell (long row names included)
        text = cell.get_text().get_window_extent(renderer)
        box = cell.get_window_extent(renderer)
        assert box.x0 <= text.x0 + 0.5 and text.x1 <= box.x1 + 0.5, (r, c, cell.get_text().get_text())
    assert matplotlib.colors.to_hex(cells[2, 2].get_facecolor()) == VERDICT_COLORS["reproduced"]
    assert matplotlib.colors.to_hex(cells[3, 2].get_facecolor()) == VERDICT_COLORS["unresolved"]
    note = fig.texts[-1]
    assert note.get_text().count("\n") >= 1 and note.get_window_extent(renderer).x1 <= fig.bbox.x1 + 1
    plt.close(fig)


@pytest.mark.slow
def test_write_gallery_in_quick_mode(tmp_path, monkeypatch):
    """Five small valid PNGs and a caption file naming the runs, mode and versions; a second call
    (every run from the cache) rewrites byte-identical files."""
    monkeypatch.setenv("AFG_FIGURES_DIR", str(tmp_path / "figs"))
    setup = NotebookSetup(quick=True)
    runs = tmp_path / "runs"
    files = write_gallery(setup, root=runs)
    assert list(files) == list(GALLERY_FILES)
    assert all(p.parent == tmp_path / "figs" / "gallery" for p in files.values())
    for name, path in files.items():
        if name.endswith(".png"):
            assert path.read_bytes()[:8] == PNG_SIGNATURE, name
            Image.open(path).verify()
            assert 2_000 < path.stat().st_size < 150_000, (name, path.stat().st_size)
    caption = files["README.md"].read_text()
    for name in GALLERY_FILES[:-1]:
        assert f"`{name}`" in caption
    assert "{" not in caption and "K=3 nearest" in caption  # every field filled in
    assert "mode **quick**" in caption and f"afg {afg.__version__}" in caption
    assert f"synthetic generator v{synth.GENERATOR_VERSION}" in caption
    assert "backbone init `random`" in caption  # quick mode trains from scratch
    assert "forward passes in float32" in caption  # quick mode: float32 on every machine
    named = set(re.findall(r"`([a-z_0-9]+-[0-9a-f]{12})`", caption))
    assert {n.split("-")[0] for n in named} == {"me_graphau", "emotion_gcn"}
    assert named <= {p.name for p in runs.iterdir()}
    assert "folds [1] × seeds [0] (7 runs)" in caption and "unresolved" in caption
    # figures scored against the truth (#45): Grad-CAM against chance, graphs against baselines
    assert "AU01" in caption and "(chance 0." in caption and "plain backbone:" in caption
    assert caption.count("Spearman r = ") == 3 and "nodes relabelled at random" in caption
    assert "magnitude consistent" in caption and "Resolving the" in caption
    before = {k: p.read_bytes() for k, p in files.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # nothing above the size limit
        again = write_gallery(setup, root=runs)
    assert {k: p.read_bytes() for k, p in again.items()} == before
