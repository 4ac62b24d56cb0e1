"""afg.measured: results files carry their provenance and refuse what JSON cannot hold."""
import json
import math

import pytest

from afg.measured import read_results, write_results


def test_write_then_read_round_trips_with_provenance(tmp_path):
    path = write_results("demo_cold_start", {"seconds": 212.5}, command="python -m afg demo",
                         precision="bf16", folder=tmp_path)
    assert path == tmp_path / "demo_cold_start.json"
    rec = read_results("demo_cold_start", folder=tmp_path)
    assert rec["data"] == {"seconds": 212.5}
    assert rec["command"] == "python -m afg demo" and rec["precision"] == "bf16"
    assert rec["date"].endswith("Z") and "core" in rec["machine"] and rec["commit"]


def test_refuses_nan_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_results("bad", {"x": math.nan}, command="x", folder=tmp_path)
    assert not list(tmp_path.iterdir())


def test_results_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("AFG_RESULTS_DIR", str(tmp_path))
    write_results("rows", [{"a": 1}], command="x")
    assert json.loads((tmp_path / "rows.json").read_text())["data"] == [{"a": 1}]


def test_read_missing_or_malformed_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        read_results("nope", folder=tmp_path)
    (tmp_path / "odd.json").write_text('{"data": 1}')
    with pytest.raises(ValueError, match="missing name, command"):
        read_results("odd", folder=tmp_path)
