"""afg.data.spec / afg.data.build: the ``data`` section and its builders live in the data package,
and the engine's names for them are the same objects."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from afg.config import ConfigError
from afg.data import build, spec, wrappers

ROOT = Path(__file__).resolve().parents[1]


def test_synthetic_folds_default_without_the_builders_imported():
    """DataSpec alone (afg.data.build not imported, so no builder registered yet) gives the synthetic
    faces their 3 folds: the run-cache key of a synthetic config must not depend on import order."""
    code = ("import sys; from afg.data.spec import DataSpec, DATASETS; "
            "assert 'afg.data.build' not in sys.modules and not DATASETS; "
            "print(DataSpec().folds, DataSpec(dataset='bp4d').folds)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["3", "None"]


def test_a_registered_builder_gets_three_folds_and_bad_folds_are_one_line_errors():
    assert "synthetic" in spec.DATASETS  # build registered it on import
    spec.register_dataset("Tmp_Spec_Test")(lambda s: (None, None))
    try:
        assert spec.DataSpec(dataset="tmp_spec_test").folds == 3
    finally:
        del spec.DATASETS["tmp_spec_test"]
    with pytest.raises(ConfigError, match=r"data\.fold: 4 is not in 1\.\.3"):
        spec.DataSpec(fold=4)
    with pytest.raises(ConfigError, match=r"data\.folds: 1 "):
        spec.DataSpec(folds=1)


def test_the_engine_exports_the_data_packages_objects():
    import afg.experiments as ex

    assert ex.DataSpec is spec.DataSpec and ex.DATASETS is spec.DATASETS
    assert ex.register_dataset is spec.register_dataset and ex.CachedDataset is wrappers.CachedDataset
    for name in ("build_data", "selection_split", "fresh_identities", "item_subjects"):
        assert getattr(ex, name) is getattr(build, name)
    assert ex.ExperimentConfig().data == spec.DataSpec()
