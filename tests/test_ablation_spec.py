"""Ablation files as a typed config (afg.experiments.AblationSpec), the checks before any work
(afg.experiments.checks) and the command line's layout: `import afg.cli` loads no torch, the demo
does not go through the command line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from torch.utils.data import Subset

from afg.config import ConfigError
from afg.experiments import (
    ABLATION_KEYS,
    AblationSpec,
    ExperimentConfig,
    apply_to_stages,
    load_data_config,
)
from afg.experiments.checks import (
    check_checkpoint_fits,
    check_checkpoint_model,
    check_data,
    check_experiment,
    check_model,
)
from afg.experiments.executors import ExecutorSpec

REPO = Path(__file__).resolve().parents[1]


def tiny() -> dict:
    return {"model": {"name": "baseline", "backbone": "resnet_tiny", "img_size": 64},
            "data": {"dataset": "synthetic", "profile": "disfa", "n_subjects": 3, "images_per_subject": 2,
                     "size": 64, "folds": 3, "fold": 1},
            "recipe": {"epochs": 2, "batch_size": 2, "device": "cpu"}}


@pytest.fixture
def base_file(tmp_path) -> Path:
    (tmp_path / "cfg").mkdir()
    p = tmp_path / "cfg" / "tiny.yaml"
    p.write_text(yaml.safe_dump(tiny()))
    return p


# ------------------------------------------------------------------------------ AblationSpec
def test_keys_are_the_fields_in_file_order_and_the_spec_round_trips():
    assert ABLATION_KEYS == ("base", "set", "folds", "seeds", "metrics", "reference", "variants",
                             "description", "name", "executor")
    d = {"base": "x.yaml", "set": {"recipe.epochs": 1}, "folds": [1, 3], "seeds": [0, 1],
         "metrics": ["f1_mean"], "variants": {"a": {}, "b": ["model.dropout=0.5"], "c": None},
         "executor": {"name": "slurm", "partition": "gpu"}}
    spec = AblationSpec.from_dict(d)
    assert isinstance(spec.executor, ExecutorSpec)
    assert (spec.executor.name, spec.executor.partition, spec.executor.time_min) == ("slurm", "gpu", 240)
    assert AblationSpec.from_dict(spec.to_dict()) == spec
    assert spec.variant_overrides() == {"a": {}, "b": ["model.dropout=0.5"], "c": {}}  # null = the base


@pytest.mark.parametrize("data, message", [
    ({"base": "x.yaml", "variants": {"a": {}}, "varients": {}},
     "unknown key 'varients'; valid keys: base, set, folds, seeds, metrics, reference, variants, "
     "description, name, executor"),
    ({"variants": {"a": {}}}, "'base' (the experiment config) is required"),
    ({"base": ["x.yaml"], "variants": {"a": {}}}, "'base' must be a path or a mapping"),
    ({"base": "x.yaml", "variants": {"a": {}}, "folds": "three"},
     "'folds' must be an integer k or a list of 1-based folds"),
    ({"base": "x.yaml", "variants": {"a": {}}, "seeds": [0, "one"]}, "'seeds' must be a list of integers"),
    ({"base": "x.yaml", "variants": {"a": {}}, "seeds": 3}, "'seeds' must be a list of integers"),
    ({"base": "x.yaml", "variants": {"a": {}}, "metrics": "f1_mean"}, "'metrics' must be a list of metric names"),
    ({"base": "x.yaml", "variants": {"a": {}}, "set": "recipe.epochs=1"},
     "'set' must be a mapping or a list of key=value"),
    ({"base": "x.yaml"}, "'variants' must be a non-empty mapping name -> overrides"),
    ({"base": "x.yaml", "variants": {}}, "'variants' must be a non-empty mapping name -> overrides"),
    ({"base": "x.yaml", "variants": {"a": 3}}, "variant 'a': overrides must be a mapping or a list of key=value"),
    ({"base": "x.yaml", "variants": {"a": {}}, "executor": {"name": "pbs"}}, "executor.name: 'pbs' is not one of"),
    ({"base": "x.yaml", "variants": {"a": {}}, "executor": {"partiton": "gpu"}},
     "unknown config key 'partiton' for ExecutorSpec"),
])
def test_a_wrong_key_or_shape_is_one_line(data, message):
    with pytest.raises(ConfigError) as exc:
        AblationSpec.from_dict(data)
    assert str(exc.value).startswith(message), str(exc.value)


def test_load_reads_yaml_and_refuses_what_is_not_a_mapping(tmp_path):
    (tmp_path / "list.yaml").write_text("- base\n- variants\n")
    with pytest.raises(ConfigError, match="top level must be a mapping with keys base, set"):
        AblationSpec.load(tmp_path / "list.yaml")
    (tmp_path / "bad.yaml").write_text("base: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        AblationSpec.load(tmp_path / "bad.yaml")


def test_build_gives_every_run_with_its_overrides_fold_and_seed(base_file):
    spec = AblationSpec.from_dict({"base": "tiny.yaml", "set": {"recipe.epochs": 1}, "folds": [1, 3],
                                   "seeds": [5, 6], "variants": {"plain": {}, "drop": {"model.dropout": 0.5}}})
    abl = spec.build(folder=base_file.parent)
    runs = [(name, fold, seed, c.model.get("dropout"), c.data.fold, c.recipe.seed, c.recipe.epochs)
            for name, fold, seed, c in abl.configs()]
    assert runs == [(name, f, s, drop, f, s, 1) for name, drop in (("plain", None), ("drop", 0.5))
                    for f in (1, 3) for s in (5, 6)]  # 2 variants x 2 folds x 2 seeds, by hand
    # the same runs as the Ablation written by hand (same configs: same run-cache keys)
    from afg.experiments import Ablation, config_hash

    by_hand = Ablation(ExperimentConfig.from_dict({**tiny(), "recipe": {**tiny()["recipe"], "epochs": 1}}),
                       {"plain": {}, "drop": {"model.dropout": 0.5}}, folds=[1, 3], seeds=[5, 6])
    assert [config_hash(c) for *_, c in abl.configs()] == [config_hash(c) for *_, c in by_hand.configs()]


def test_build_checks_every_run_and_names_the_variant(base_file):
    def fails(data: dict, message: str) -> None:
        with pytest.raises(ConfigError) as exc:
            AblationSpec.from_dict({"base": "tiny.yaml", **data}).build(folder=base_file.parent)
        assert message in str(exc.value), str(exc.value)

    fails({"variants": {"bad": {"model.dropuot": 0.1}}},
          "variant 'bad': model.dropuot: model 'baseline' has no option 'dropuot'")
    fails({"variants": {"bad": {"recipe.lrr": 0.1}}}, "variant 'bad': unknown config key 'recipe.lrr'")
    fails({"variants": {"a": {}}, "folds": [1, 5]}, "data.fold: 5 is not in 1..3")
    fails({"variants": {"a": {}}, "reference": "me_graphau/table9"}, "reference: me_graphau has no table 'table9'")
    with pytest.raises(ConfigError, match=r"base config not found: nope\.yaml"):
        AblationSpec.from_dict({"base": "nope.yaml", "variants": {"a": {}}}).build(folder=base_file.parent)
    with pytest.raises(ConfigError, match=r"base\.model\.name is required"):
        AblationSpec.from_dict({"base": {"data": {"dataset": "synthetic"}}, "variants": {"a": {}}}).build()


def test_a_reference_without_variants_takes_the_papers_rows():
    from afg.reference import variants

    spec = AblationSpec.from_dict({"base": "configs/me_graphau_synthetic.yaml", "reference": "me_graphau/table3"})
    rows = spec.variant_overrides()
    assert rows == variants("me_graphau/table3") and len(rows) == 7


def test_set_reaches_the_stages_that_set_the_field(capsys):
    cfg = ExperimentConfig.from_dict({**tiny(), "recipe": {**tiny()["recipe"], "stages": [
        {"name": "s1", "epochs": 4}, {"name": "s2", "optimizer": {"lr": 0.1}}]}})
    out = apply_to_stages(cfg.override({"recipe.epochs": 1, "recipe.optimizer.lr": 0.5}),
                          {"recipe.epochs": 1, "recipe.optimizer.lr": 0.5}, quiet=True)
    assert capsys.readouterr().out == ""
    assert [(r.epochs, r.optimizer.lr) for r in out.recipe.resolved_stages()] == [(1, 0.5), (1, 0.5)]
    assert [(r.epochs, r.optimizer.lr) for r in cfg.recipe.resolved_stages()] == [(4, cfg.recipe.optimizer.lr),
                                                                                 (2, 0.1)]


def test_data_config_is_an_experiment_or_a_bare_data_section(tmp_path):
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(tiny()))
    (tmp_path / "data.yaml").write_text(yaml.safe_dump({"dataset": "synthetic", "profile": "bp4d", "fold": 2}))
    cfg, describes = load_data_config(tmp_path / "exp.yaml", ["data.fold=3"])
    assert describes and cfg.model["name"] == "baseline" and cfg.data.fold == 3
    cfg, describes = load_data_config(tmp_path / "data.yaml")
    assert not describes and (cfg.data.profile, cfg.data.fold) == ("bp4d", 2)
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump({"dataset": "synthetic", "profil": "bp4d"}))
    with pytest.raises(ConfigError, match=r"typo\.yaml: unknown config key 'profil'"):
        load_data_config(tmp_path / "typo.yaml")


# ------------------------------------------------------------------------------ checks
def test_model_and_data_checks_name_the_key_and_the_closest_names():
    with pytest.raises(ConfigError, match=r"^model\.name: unknown model 'me_grapau'; closest: me_graphau\b"):
        check_model({"name": "me_grapau"})
    with pytest.raises(ConfigError, match=r"^m\.neighbours: model 'me_graphau' has no option 'neighbours'"):
        check_model({"name": "me_graphau", "neighbours": 3}, "m")
    with pytest.raises(ConfigError, match=r"^data\.profile: unknown synthetic profile 'ck\+'"):
        check_data(ExperimentConfig.from_dict({"data": {"profile": "ck+"}}).data)
    stage_model = {**tiny(), "recipe": {"stages": [{"name": "s", "model": {"name": "me_graphau", "lam": 1}},
                                                   {"name": "t", "model": {"bad": 1}}]}}
    with pytest.raises(ConfigError, match=r"^recipe\.stages\[1\]\.model\.bad: model 'me_graphau' has no option"):
        check_experiment(ExperimentConfig.from_dict(stage_model))  # stage models merge, in order


class _Faces:
    def __init__(self) -> None:
        self.au_names = ["AU01", "AU02", "AU04"]

    def __len__(self) -> int:
        return 6


def test_checkpoint_must_predict_the_datas_labels():
    data = Subset(_Faces(), np.arange(3).tolist())  # a wrapper: the names come from the base dataset
    info = {"task": "au", "label_names": ["AU01", "AU02", "AU04"], "model_config": {"name": "baseline",
                                                                                  "num_classes": 3}}
    check_checkpoint_fits(info, data, "c.pt")  # fits: nothing raised
    with pytest.raises(ConfigError, match=r"^checkpoint c\.pt predicts 2 labels \(baseline\) but the data has 3 "
                                          r"\(AU01, AU02, AU04\)$"):
        check_checkpoint_fits({**info, "model_config": {"name": "baseline", "num_classes": 2}}, data, "c.pt")
    with pytest.raises(ConfigError, match="differ from the data's"):
        check_checkpoint_fits({**info, "label_names": ["AU01", "AU02", "AU06"]}, data, "c.pt")
    two_stage = ExperimentConfig.from_dict({**tiny(), "model": {"name": "me_graphau_stage1"}, "recipe": {
        "stages": [{"name": "s1"}, {"name": "s2", "model": {"name": "me_graphau"}}]}})
    check_checkpoint_model({**info, "model_config": {"name": "me_graphau"}}, two_stage, "c.pt", "x.yaml")
    with pytest.raises(ConfigError, match=r"holds model 'baseline' but x\.yaml describes me_graphau / me_graphau_stage1$"):
        check_checkpoint_model(info, two_stage, "c.pt", "x.yaml")


# ------------------------------------------------------------------------------ layout
def test_the_command_line_loads_torch_only_when_a_command_runs():
    code = ("import sys, afg.cli; afg.cli.build_parser().parse_args(['train', 'x.yaml']); "
            "print(sorted(m for m in ('torch', 'afg.experiments', 'afg.cli.train') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_the_demo_uses_the_library_not_the_command_line():
    code = "import sys, afg.demo; print(sorted(m for m in sys.modules if m.startswith('afg.cli')))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO,
                         timeout=300)
    assert out.stdout.strip() == "[]"


def test_first_runs_are_the_first_fold_and_the_first_seed(base_file):
    """The runs the notebooks draw figures from: fold 1 and seed 5 here, never a later seed's run
    overwriting it (a dict built over every result would keep the last seed)."""
    from afg.experiments import Ablation

    abl = Ablation(ExperimentConfig.from_dict(tiny()), {"plain": {}, "drop": {"model.dropout": 0.5}},
                   folds=[1, 3], seeds=[5, 6])
    abl.results = [(name, f, s, f"{name}/{f}/{s}") for name, f, s, _ in abl.configs()]
    assert abl.first_runs() == {"plain": "plain/1/5", "drop": "drop/1/5"}
    one = Ablation(ExperimentConfig.from_dict(tiny()), {"plain": {}}, folds=[3])
    one.results = [("plain", 3, None, "run")]
    assert one.first_runs() == {"plain": "run"}
