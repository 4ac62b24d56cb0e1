"""afg.papers (notebook_setup, figures, sweeps): parameter → config mapping, noise and ordering tables,
the paper-vs-code CCFG comparison, dataset attribute lookup (no training)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Subset

from afg.experiments.analysis import fold_noise, noise_note, ordering
from afg.papers.figures import paper_experiments
from afg.papers.notebook_setup import NotebookSetup, _set_epochs
from afg.papers.probes import ccfg_paper_vs_code
from afg.papers.results import dataset_attr
from afg.papers.sweeps import SWEEPS, sweep_values


def test_quick_and_default_configs_scale_the_synthetic_recipe():
    q = NotebookSetup(quick=True, threads=0).config("mafg_ccfg")
    assert (q.model["img_size"], q.data.size, q.data.n_subjects, q.data.images_per_subject) == (64, 64, 3, 4)
    assert (q.recipe.epochs, q.recipe.max_steps_per_epoch, q.recipe.batch_size) == (1, 2, 4)
    d = NotebookSetup(quick=False, epochs=7, seed=3).config("mafg_ccfg", {"model.use_gnn": False})
    assert (d.model["img_size"], d.data.n_subjects, d.recipe.epochs, d.recipe.seed) == (112, 30, 7, 3)
    # the narrow ResNet: from scratch in quick mode, landmark-pretrained (afg.pretrain) by default
    assert (q.model["backbone"], q.model["weights"]) == ("resnet_tiny", None)
    assert (d.model["backbone"], d.model["weights"], d.model["pretrained"]) == ("resnet_tiny", "synthetic-long", False)
    assert d.recipe.max_steps_per_epoch is None and d.model["use_gnn"] is False
    assert NotebookSetup(quick=True, threads=0).fold_list() == [1] and NotebookSetup().fold_list() == [1, 2, 3]
    # ME-GraphAU's default mode: 8 epochs per stage at lr 1e-3 in both stages (paper: 1e-4, 1e-6)
    m = NotebookSetup(quick=False).config("me_graphau")
    assert m.recipe.optimizer.lr == 1e-3 and m.recipe.batch_size == 16
    assert [(s.epochs, s.optimizer.get("lr")) for s in m.recipe.stages] == [(8, None), (8, 1e-3)]
    assert NotebookSetup(quick=True, threads=0).config("me_graphau").recipe.stages[1].optimizer["lr"] == 1e-6
    a = NotebookSetup(quick=False).config("au_gcn")  # every paper's faces, §4.1's sample, Adam 1e-3
    assert (a.data.n_subjects, a.data.images_per_subject) == (30, 40)
    assert (a.recipe.optimizer.name, a.recipe.optimizer.lr) == ("adam", 1e-3)
    assert [s.epochs for s in a.recipe.stages] == [4, 8]


def test_per_paper_folds_and_augmentation_of_the_default_mode():
    setup = NotebookSetup(quick=False)
    # 02-06 run folds 1-2 of the 3-fold partition, without a paper all three; FOLDS overrides
    assert setup.fold_list("me_graphau") == setup.fold_list("mafg_ccfg") == setup.fold_list("au_gcn") == [1, 2]
    assert setup.fold_list() == [1, 2, 3]
    abl = setup.ablation("mafg_ccfg", {"Baseline": {}})
    assert abl.folds == [1, 2] and abl.k == 3
    assert NotebookSetup(quick=False, folds=3).fold_list("mafg_ccfg") == [1, 2, 3]
    assert NotebookSetup(quick=True, threads=0).fold_list("mafg_ccfg") == [1]
    assert "folds=[1, 2]" in setup.describe("me_graphau")
    # MAFG+CCFG trains on random crops of 128 px renders with flips; nobody else augments
    m = setup.config("mafg_ccfg")
    assert (m.data.hflip, m.data.resize, m.data.size, m.recipe.epochs) == (True, 128, 112, 16)
    assert m.recipe.schedule.warmup_epochs == 1.0  # one epoch of warm-up, MAFG+CCFG only
    assert {setup.config(p).recipe.schedule.warmup_epochs for p in ("me_graphau", "emotion_gcn", "svml_rgcn")} == {0.0}
    e = setup.config("me_graphau")
    assert (e.data.hflip, e.data.resize) == (False, None)
    q = NotebookSetup(quick=True, threads=0).config("mafg_ccfg")
    assert (q.data.hflip, q.data.resize) == (False, None)
    # Emotion-GCN: balanced BP4D-profile expressions drawn from their prototypes, 60 identities
    # (the other papers keep 30), Adam 1e-3 for 10 epochs on folds 1-2; the real-data recipe keeps
    # the paper's SGD
    g = setup.config("emotion_gcn")
    assert (g.data.profile, g.recipe.epochs) == ("bp4d", 10)
    assert g.data.options == {"balance": "expression", "expression_draw": "prototype"}
    assert (g.data.n_subjects, g.data.images_per_subject) == (60, 40)
    assert {setup.config(p).data.n_subjects for p in ("me_graphau", "mafg_ccfg", "au_gcn", "svml_rgcn")} == {30}
    assert NotebookSetup(quick=True, threads=0).config("emotion_gcn").data.options == {"balance": "expression"}
    assert (g.recipe.optimizer.name, g.recipe.optimizer.lr) == ("adam", 1e-3)
    assert setup.fold_list("emotion_gcn") == [1, 2]
    s = setup.config("svml_rgcn")
    assert s.recipe.optimizer.lr_mult == {"head": 1.0, "backbone": 1.0} and s.recipe.schedule.step_epochs == 4
    assert s.data.options == {"balance": "emotions"} and s.recipe.epochs == 6
    assert NotebookSetup(quick=True, threads=0).config("emotion_gcn").recipe.optimizer.name == "sgd"


def test_real_dataset_uses_the_papers_recipe_and_needs_a_root(tmp_path):
    with pytest.raises(ValueError, match="DATA_ROOT"):
        NotebookSetup(dataset="disfa")
    cfg = NotebookSetup(dataset="disfa", data_root=str(tmp_path)).config("mafg_ccfg")
    assert cfg.data.dataset == "disfa" and cfg.data.root == str(tmp_path)
    assert cfg.model["backbone"] == "resnet50"
    with pytest.raises(FileNotFoundError):
        NotebookSetup(dataset="disfa", data_root=str(tmp_path)).config("svml_rgcn")


def test_staged_recipes_get_epochs_per_stage():
    d = {"recipe": {"epochs": 1, "stages": [{"name": "autoencoder", "epochs": 1}, {"name": "full", "epochs": 1}]}}
    out = _set_epochs(d, 6)
    assert [s["epochs"] for s in out["recipe"]["stages"]] == [3, 6] and out["recipe"]["epochs"] == 6
    assert d["recipe"]["stages"][0]["epochs"] == 1  # input untouched


def _tidy(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"variant": v, "fold": i + 1, "metric": "f1_mean", "value": x}
                         for v, xs in values.items() for i, x in enumerate(xs)])


def test_fold_noise_is_the_std_over_folds():
    fn = fold_noise(_tidy({"a": [0.5, 0.6, 0.7], "b": [0.2, 0.2, 0.2]}), "f1_mean")
    assert fn.loc["a", "std"] == pytest.approx(10.0)
    assert fn.loc["a", "range"] == pytest.approx(20.0)
    assert fn.loc["b", "std"] == pytest.approx(0.0)
    assert fn.loc["median over variants", "std"] == pytest.approx(5.0)
    assert "5.0 points" in noise_note(_tidy({"a": [0.5, 0.6, 0.7], "b": [0.2, 0.2, 0.2]}), "f1_mean")
    assert "cannot be estimated" in noise_note(_tidy({"a": [0.5]}), "f1_mean")


def test_ordering_against_a_paper_column():
    same = ordering({"x": 0.1, "y": 0.2, "z": 0.3}, paper={"x": 1.0, "y": 2.0, "z": 3.0})
    assert list(same.index) == ["z", "y", "x"] and same.attrs["kendall_tau"] == pytest.approx(1.0)
    rev = ordering({"x": 0.1, "y": 0.2, "z": 0.3}, paper={"x": 3.0, "y": 2.0, "z": 1.0})
    assert rev.attrs["kendall_tau"] == pytest.approx(-1.0)
    low = ordering({"x": 0.1, "y": 0.2}, paper={"x": 1.0, "y": 2.0}, lower_better=True)
    assert list(low.index) == ["x", "y"] and np.isnan(low.attrs["kendall_tau"])
    t4 = ordering({"ResNet50": 0.5, "Baseline+MAFG+CCFG": 0.6}, "mafg_ccfg/table4", "F1")
    assert t4.loc["Baseline+MAFG+CCFG", "paper"] == pytest.approx(66.6)


def test_ccfg_paper_vs_code_on_real_tensors():
    torch.manual_seed(0)
    df = ccfg_paper_vs_code(torch.randn(2, 3, 64, 64), num_classes=4, img_size=64)
    paper, code = df.iloc[0], df.iloc[1]
    assert paper["distinct CCFG vectors per image"] == 4 and code["distinct CCFG vectors per image"] == 1
    assert code["max |v_i - v_j| (CCFG, same image)"] == 0.0 < paper["max |v_i - v_j| (CCFG, same image)"]
    # Eq. 12's phi_i is pooling + FC (no BatchNorm); the authors' shared block is updated N times
    assert pd.isna(paper["BN num_batches_tracked after 1 step"])
    assert code["BN num_batches_tracked after 1 step"] == 4


def test_dataset_attr_unwraps_subsets():
    class Base(torch.utils.data.Dataset):
        au_names = ("AU01", "AU02")

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i

    sub = Subset(Subset(Base(), [0, 1, 2]), [0])
    assert dataset_attr(sub, "au_names") == ("AU01", "AU02")
    assert dataset_attr(sub, "missing", "x") == "x"


def test_paper_experiments_share_configs_with_the_notebooks():
    setup = NotebookSetup(quick=True, threads=0)
    exps = paper_experiments(setup)
    assert {k.split("/")[0] for k in exps} == {"mafg_ccfg", "au_gcn", "emotion_gcn", "svml_rgcn"}
    assert list(exps["mafg_ccfg/ablation"].variants)[-1] == "Baseline+MAFG+CCFG"
    assert exps["mafg_ccfg/sweep:neighbor_num"].values == [1, 3]  # SWEEPS' quick grid
    # the full model of the ablation and the K sweep at the base K are the same run
    from afg.experiments import config_hash

    abl = {n: c for n, _, _, c in exps["mafg_ccfg/ablation"].configs()}
    sw = {n: c for n, _, _, c in exps["mafg_ccfg/sweep:neighbor_num"].configs()}
    assert config_hash(abl["Baseline+MAFG+CCFG"]) == config_hash(sw["neighbor_num=3"])
    ends = paper_experiments(setup, subset="ends")
    assert list(ends["svml_rgcn/ablation"].variants) == ["baseline", "svml_rgcn"]
    real = paper_experiments(NotebookSetup(dataset="jaffe", data_root="/nonexistent"))
    assert {k.split("/")[0] for k in real} == {"svml_rgcn"}
    # on a release the sweeps are the paper's grids, as notebook 06 runs them (Fig. 5: six t1 values)
    assert real["svml_rgcn/sweep:t1"].values == [1e-6, 0.05, 0.1, 0.15, 0.2, 0.25]
    assert paper_experiments(NotebookSetup())["svml_rgcn/sweep:t1"].values == [1e-6, 0.1, 0.15, 0.25]


def test_sweep_values_pick_the_grid_of_the_notebook_mode():
    class Mode:
        def __init__(self, quick, synthetic):
            self.quick, self.synthetic = quick, synthetic

    t2 = ("svml_rgcn", "model.t2")
    assert sweep_values(Mode(True, True), *t2) == [0.4, 0.5]
    assert sweep_values(Mode(True, False), *t2) == [0.4, 0.5]
    assert sweep_values(Mode(False, True), *t2) == [0.3, 0.4, 0.5]
    assert sweep_values(Mode(False, False), *t2) == [0.25, 0.3, 0.35, 0.4, 0.45, 0.5]
    # no synthetic grid of its own: the paper's
    assert sweep_values(Mode(False, True), "mafg_ccfg", "model.neighbor_num") == [1, 2, 3, 4, 6]
    with pytest.raises(KeyError, match="no sweep"):
        sweep_values(Mode(False, True), "mafg_ccfg", "model.tau")


def test_every_sweep_is_defined_once_and_read_by_its_notebook():
    """Notebooks 03, 05 and 06 take each sweep's values from afg.papers.sweeps (no grid literal of
    their own), and every SWEEPS entry is read by the notebook of its paper."""
    import re
    from pathlib import Path

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "py"
    sources = {p: (nb / f).read_text() for p, f in (("mafg_ccfg", "03_mafg_ccfg.py"),
                                                     ("emotion_gcn", "05_emotion_gcn.py"),
                                                     ("svml_rgcn", "06_svml_rgcn.py"))}
    for paper, param in SWEEPS:
        assert f'sweep_values(setup, "{paper}", "{param}")' in sources[paper], (paper, param)
    for paper, src in sources.items():
        # a sweep grid literal of the notebook's own, e.g. K_VALUES = [1, 3]
        grids = re.findall(r"^\s*(?:(?:K_VALUES|TAUS|PS|LAYERS|T1_VALUES|T2_VALUES),? ?)+ = [\[(]", src,
                           flags=re.M)
        assert not grids, (paper, grids)


def test_pretraining_parameter_sets_the_default_modes_backbone_init(tmp_path):
    # default mode: every paper's backbone starts from the named pretraining (hash differs per name)
    from afg.experiments.runner import config_hash

    assert "weights" not in NotebookSetup(quick=False, pretraining="synthetic-long").config("au_gcn").model  # no CNN
    for paper in ("me_graphau", "mafg_ccfg", "emotion_gcn", "svml_rgcn"):
        short = NotebookSetup(quick=False, pretraining="synthetic").config(paper)
        long = NotebookSetup(quick=False).config(paper)  # the default: DEFAULT_PRETRAINING
        assert short.model["weights"] == "synthetic" and long.model["weights"] == "synthetic-long", paper
        assert config_hash(short) != config_hash(long)
    own = tmp_path / "bb.pt"
    own.write_bytes(b"")  # any existing file is accepted here; loading checks it
    assert NotebookSetup(quick=False, pretraining=str(own)).config("emotion_gcn").model["weights"] == str(own)
    assert "pretraining=synthetic-long" in NotebookSetup(quick=False).describe()
    assert "pretraining=synthetic " in NotebookSetup(quick=False, pretraining="synthetic").describe() + " "
    # quick mode trains from scratch whatever the parameter says; real data keeps its recipe's weights
    assert NotebookSetup(quick=True, threads=0, pretraining="synthetic-long").config("emotion_gcn").model["weights"] is None
    real = NotebookSetup(dataset="disfa", data_root=str(tmp_path), pretraining="synthetic-long").config("mafg_ccfg")
    assert real.model.get("weights") != "synthetic-long"
    with pytest.raises(ValueError, match="PRETRAINING='synthetic-lng': give a named pretraining"):
        NotebookSetup(quick=False, pretraining="synthetic-lng")


def test_default_mode_computes_in_bf16_where_the_cpu_has_it_and_says_so(monkeypatch):
    """Every paper's default mode asks for ``recipe.amp: auto`` + channels_last (bf16 autocast on a
    CPU with native bf16, float32 elsewhere); quick mode stays float32, the same numbers on every
    CI machine; ``describe`` names what this machine's runs compute in."""
    import importlib

    ev = importlib.import_module("afg.train.evaluate")
    papers = ("me_graphau", "mafg_ccfg", "au_gcn", "emotion_gcn", "svml_rgcn")
    for paper in papers:
        d = NotebookSetup(quick=False).config(paper)
        assert (d.recipe.amp, d.recipe.channels_last) == ("auto", True), paper
        assert all(st.amp == "auto" for st in d.recipe.resolved_stages()), paper
        q = NotebookSetup(quick=True, threads=0).config(paper)
        assert (q.recipe.amp, q.recipe.channels_last) == ("none", False), paper
    monkeypatch.setattr(ev, "cpu_has_bf16", lambda: True)
    assert "precision=bfloat16-autocast" in NotebookSetup(quick=False).describe("emotion_gcn")
    assert NotebookSetup(quick=False).precision() == "bfloat16 autocast"
    assert "precision=float32" in NotebookSetup(quick=True, threads=0).describe()
    monkeypatch.setattr(ev, "cpu_has_bf16", lambda: False)
    assert "precision=float32" in NotebookSetup(quick=False).describe("me_graphau")


def test_seeds_run_every_row_per_seed_except_in_quick_mode():
    assert NotebookSetup(quick=False).run_seeds([0, 1]) == [0, 1]
    assert NotebookSetup(quick=False).run_seeds(None) is None
    assert NotebookSetup(quick=True, threads=0).run_seeds([0, 1]) == [0]
    abl = NotebookSetup(quick=False).ablation("mafg_ccfg", {"a": {}, "b": {}}, seeds=[0, 1])
    assert abl.seeds == [0, 1] and len(list(abl.configs())) == 2 * 2 * 2   # rows x folds x seeds
    assert NotebookSetup(quick=True, threads=0).ablation("mafg_ccfg", {"a": {}}, seeds=[0, 1]).seeds == [0]
