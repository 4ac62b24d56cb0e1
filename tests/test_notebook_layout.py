"""Where the notebook plumbing lives after the split: the synthetic scales as YAML overlays,
ME-GraphAU Table 3's rows read from afg.reference (one source), the notebook figures in afg.viz,
the fake DISFA release in afg.data — each against hand-written expectations."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

from afg import reference
from afg.data.fake_release import make_fake_disfa_release
from afg.data.transforms import denormalize
from afg.models.me_graphau import TABLE3_ROWS
from afg.papers.me_graphau_table3 import table3_variants
from afg.papers.notebook_setup import (
    CONFIGS_DIR,
    NotebookSetup,
    read_overlay,
    synthetic_overlay,
)
from afg.viz import plot_alignment, plot_label_rates, plot_roi_reconstructions


def test_overlay_entries_merge_every_paper_then_the_papers_own():
    a = synthetic_overlay("au_gcn", quick=False)
    assert (a["epochs"], a["folds"], a.get("lr")) == (8, 2, None)
    # every_paper's faces and size, the paper's own entries on top
    assert (a["set"]["data.n_subjects"], a["set"]["data.images_per_subject"], a["set"]["data.size"]) == (30, 40, 112)
    assert a["set"]["recipe.optimizer.name"] == "adam"
    assert synthetic_overlay("svml_rgcn", quick=False)["folds"] == 2  # folds from the paper's entry
    assert synthetic_overlay("no_such_paper", quick=False)["folds"] == 3  # folds from every_paper
    m = synthetic_overlay("me_graphau", quick=False)
    assert (m["epochs"], m["folds"], m["lr"], m["set"]["model.weights"]) == (8, 2, 1e-3, "synthetic-long")
    q = synthetic_overlay("emotion_gcn", quick=True)
    assert (q["epochs"], q["set"]["model.class_weights"], q["set"]["model.weights"]) == (1, "none", None)
    assert "model.backbone" not in synthetic_overlay("au_gcn", quick=True)["set"]


def test_one_default_pretraining_for_the_overlay_the_notebooks_and_the_demo():
    # configs/synthetic/default.yaml, every notebook's PRETRAINING default and `afg demo` name the
    # same preset, afg.pretrain.DEFAULT_PRETRAINING; changing it in one place only fails here
    import re
    from pathlib import Path

    from afg import demo
    from afg.pretrain import DEFAULT_PRETRAINING, PRETRAIN_PRESETS

    assert DEFAULT_PRETRAINING in PRETRAIN_PRESETS and DEFAULT_PRETRAINING != "synthetic"
    for paper in ("me_graphau", "mafg_ccfg", "emotion_gcn", "svml_rgcn"):
        assert synthetic_overlay(paper, quick=False)["set"]["model.weights"] == DEFAULT_PRETRAINING, paper
    notebooks = sorted((Path(__file__).parents[1] / "notebooks" / "py").glob("0*.py"))
    found = {nb.name: re.search(r'^PRETRAINING = "([^"]+)"', nb.read_text(), re.M) for nb in notebooks}
    found = {name: m.group(1) for name, m in found.items() if m}
    assert len(found) == 8 and set(found.values()) == {DEFAULT_PRETRAINING}, found
    assert NotebookSetup().pretraining == DEFAULT_PRETRAINING
    assert {c["model"]["weights"] for c in demo.demo_configs(quick=False).values()} == {DEFAULT_PRETRAINING}


def test_the_paper_notebooks_run_two_seeds_by_default_and_pass_them_to_their_table():
    # issue #26: "at least 2 seeds where the budget allows" — notebooks 02-06 default SEEDS to
    # [0, 1] and hand them to the paper's table (setup.ablation or setup.run_seeds), not to a copy
    import re
    from pathlib import Path

    folder = Path(__file__).parents[1] / "notebooks" / "py"
    for name in ("02_me_graphau", "03_mafg_ccfg", "04_au_gcn", "05_emotion_gcn", "06_svml_rgcn",
                 "08_paper_figures"):
        text = (folder / f"{name}.py").read_text()
        assert re.search(r"^SEEDS = \[0, 1\] ", text, re.M), name
        assert "seeds=SEEDS)" in text or "seeds=setup.run_seeds(SEEDS))" in text, name


def test_overlay_files_reject_misspelt_keys(tmp_path):
    for mode in ("quick", "default"):
        spec = read_overlay(CONFIGS_DIR / "synthetic" / f"{mode}.yaml")
        assert set(spec["papers"]) == set(reference.PAPERS)
    bad = tmp_path / "bad.yaml"
    bad.write_text("every_paper: {epochs: 1}\npapers:\n  au_gcn: {epoch: 3}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: papers.au_gcn: unknown key 'epoch'"):
        read_overlay(bad)
    bad.write_text("every_papers: {epochs: 1}\n")
    with pytest.raises(ValueError, match="unknown key 'every_papers'"):
        read_overlay(bad)


def test_every_stage_that_sets_a_learning_rate_gets_the_overlays():
    d = NotebookSetup(quick=False, epochs=3).config("me_graphau")
    assert d.recipe.optimizer.lr == 1e-3 and d.recipe.epochs == 3
    assert [(s.epochs, s.optimizer.get("lr")) for s in d.recipe.stages] == [(3, None), (3, 1e-3)]
    a = NotebookSetup(quick=False, epochs=5).config("au_gcn")  # auto-encoder stage: half, at least 1
    assert [s.epochs for s in a.recipe.stages] == [2, 5]


def test_table3_rows_are_read_from_the_reference_table():
    """The rows as the paper's Table 3 defines them (written here by hand from the paper)."""
    s1, s2 = "me_graphau_stage1", "me_graphau"
    expected = [
        (1, "Backbone (WBCE)", s1, {"use_afg": False, "loss": "wbce"}, None),
        (2, "+AFG (WBCE)", s1, {"use_fgg": False, "loss": "wbce"}, None),
        (3, "+AFG, L_WA", s1, {"use_fgg": False}, None),
        (4, "+AFG+FGG, L_WA", s1, {}, None),
        (5, "+AFG+MEFL, L_WA", s2, {"lam": 0.0, "use_fgg": False}, 3),
        (6, "+AFG+FGG+MEFL, L_WA", s2, {"lam": 0.0}, 4),
        (7, "+AFG+FGG+MEFL, L_WA+L_E", s2, {}, 4),
    ]
    got = [(r["row"], r["label"], r["model"], r["options"], r.get("init_from")) for r in TABLE3_ROWS]
    assert got == expected
    assert [r["label"] for r in TABLE3_ROWS] == list(reference.variants("me_graphau/table3"))


def test_table3_variants_are_the_reference_rows_on_a_two_stage_recipe():
    base = NotebookSetup(quick=True, threads=0).config("me_graphau")
    variants = table3_variants(base, stage2_lr=1e-3)
    ref = reference.variants("me_graphau/table3")
    assert list(variants) == list(ref)
    for name, ov in variants.items():
        cfg = base.override(ov)
        model_opts = {k: v for k, v in ref[name].items() if k.startswith("model.") and k != "model.name"}
        assert all(cfg.model[k[len("model."):]] == v for k, v in model_opts.items()), name
        (stage,) = cfg.recipe.stages
        if ref[name].get("recipe.stages") == []:  # stage 1 alone
            assert cfg.model["name"] == "me_graphau_stage1" and stage.init_from is None, name
        else:  # stage 2 from the same fold's run of row 3 or 4
            row = "+AFG, L_WA" if ref[name].get("model.use_fgg") is False else "+AFG+FGG, L_WA"
            assert cfg.model["name"] == "me_graphau" and stage.init_from == f"@variant:{row}", name
            assert stage.optimizer["lr"] == 1e-3


def test_plot_label_rates_bar_heights_are_percent():
    fig = plot_label_rates({"synthetic": [0.1, 0.5], "real": [0.2, 0.25]}, ["AU01", "AU02"])
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == pytest.approx([10.0, 50.0, 20.0, 25.0])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["AU01", "AU02"]


def test_plot_roi_reconstructions_shows_crops_over_reconstructions():
    torch.manual_seed(0)
    target, recon = torch.randn(3, 3, 8, 8), torch.randn(3, 3, 8, 8)
    fig = plot_roi_reconstructions(target, recon, roi_names=["a", "b", "c"], max_rois=2)
    assert len(fig.axes) == 4  # 2 rows x 2 ROIs
    shown = fig.axes[2].images[0].get_array()  # row 1 (recon), ROI 0, axes in row-major order
    np.testing.assert_allclose(shown, denormalize(recon[0]).permute(1, 2, 0).numpy(), atol=1e-6)
    assert fig.axes[1].get_title() == "b"


def test_plot_alignment_draws_the_box_and_marks_failures():
    img = np.zeros((20, 20, 3), np.uint8)
    ok = {"status": "ok", "box": [2, 3, 12, 15], "source_landmarks": np.ones((5, 2)), "image": img,
          "landmarks": np.ones((5, 2)), "score": 0.99}
    fig = plot_alignment([img, img], [ok, {"status": "no face"}], titles=["a", "b"])
    (box,) = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (2, 3, 10, 12)
    assert fig.axes[3].texts[0].get_text() == "no face"


def test_fake_disfa_release_has_the_official_layout(tmp_path):
    from afg.data.datasets.disfa import DISFA_CODED_AUS

    root = make_fake_disfa_release(tmp_path / "DISFA", frames_per_subject=2, size=32)
    for subj in ("SN001", "SN013", "SN003"):
        files = sorted((root / "ActionUnit_Labels" / subj).glob("*.txt"))
        assert len(files) == len(DISFA_CODED_AUS)
        assert files[0].read_text().splitlines()[0].startswith("1,")
    assert sorted(p.name for p in (root / "Images_LeftCamera" / "SN001").iterdir()) == ["0.png", "1.png"]
    assert [p.name for p in (root / "Images_LeftCamera" / "SN013").iterdir()] == ["0.png"]  # one missing
