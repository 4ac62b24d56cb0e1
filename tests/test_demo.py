"""`afg demo --quick` end to end in temporary folders (AFG_RUNS_DIR / AFG_FIGURES_DIR): both runs,
the F1 table with the paper's DISFA row, both figures, `afg predict` on the photograph and on
synthetic faces; a second call trains nothing (run cache)."""
from __future__ import annotations

import pandas as pd
import pytest

from afg.cli import main

pytest.importorskip("skimage")


@pytest.mark.slow
def test_quick_demo_end_to_end_and_cached_rerun(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AFG_CACHE_DIR", str(tmp_path / "cache"))  # pretrained weights: not ~/.cache/afg
    monkeypatch.setenv("AFG_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("AFG_FIGURES_DIR", str(tmp_path / "figures"))
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    for row in ("Baseline (backbone + linear)", "ME-GraphAU stage 1 (ANFL)", "ME-GraphAU stage 2 (full)"):
        assert row in out
    paper = [ln for ln in out.splitlines() if ln.startswith("Paper: ME-GraphAU R-50 (real DISFA)")]
    assert paper and paper[0].split()[-9:] == ["54.6", "47.1", "72.9", "54.0", "55.7", "76.7", "91.1",
                                               "53.0", "63.1"]
    chance = [ln for ln in out.splitlines() if ln.startswith("Chance: every AU present")]
    assert chance and all(0 <= float(v) <= 100 for v in chance[0].split()[-9:])
    assert out.count("trained in") == 2
    for name in ("demo_f1", "demo_knn_graph"):
        for ext in ("pdf", "png"):
            assert (tmp_path / "figures" / f"{name}.{ext}").stat().st_size > 1000
    photo = pd.read_csv(tmp_path / "runs" / "demo" / "predict_photo.csv")
    aus = ["AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26"]
    assert len(photo) == 1 and photo.loc[0, "status"] == "ok" and photo.loc[0, "FaceScore"] > 0.9
    assert photo[aus].notna().all().all()
    synth = pd.read_csv(tmp_path / "runs" / "demo" / "predict_synthetic.csv")
    assert len(synth) == 2 and (synth["status"] == "ok").all() and synth["FaceScore"].isna().all()
    # the second call finds both runs in the cache
    assert main(["demo", "--quick"]) == 0
    out2 = capsys.readouterr().out
    assert out2.count("cached in") == 2 and "trained in" not in out2
