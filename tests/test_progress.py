"""Progress where a user waits (afg.progress): one plain line per epoch / trained run when the
output is not a terminal, tqdm bars (widgets in Jupyter) where it is; an ablation's bar counts its
runs and the cached ones."""
from __future__ import annotations

import re

import pytest
from test_experiments import _cfg

import afg.progress
from afg.experiments import Ablation, run
from afg.progress import RunsProgress, bars_render, format_seconds, in_notebook


def _lines(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.strip()]


def test_captured_output_is_not_a_terminal_and_not_a_notebook(capsys):
    assert not in_notebook() and not bars_render()


def test_a_run_without_a_terminal_prints_one_plain_line_per_epoch(tmp_path, capsys):
    res = run(_cfg().override({"recipe.progress": True, "recipe.epochs": 3, "recipe.max_steps_per_epoch": 1}),
              root=tmp_path)
    err = capsys.readouterr().err
    assert "\r" not in err  # no tqdm frames in a log file
    epochs = [ln for ln in _lines(err) if " epoch " in ln]
    assert len(epochs) == 3 == len(res.history)
    for k, ln in enumerate(epochs, 1):
        assert re.fullmatch(rf"stage1 epoch {k}/3: train_loss [0-9.]+, f1_mean [0-9.]+, [0-9.]+ s", ln), ln


def test_progress_false_prints_nothing(tmp_path, capsys):
    run(_cfg(), root=tmp_path)  # recipe.progress: False
    assert capsys.readouterr().err == ""


def test_ablation_lines_count_runs_and_cached_ones(tmp_path, capsys):
    base = _cfg().override({"recipe.epochs": 1, "recipe.max_steps_per_epoch": 1})
    variants = {"A": {}, "B": {"recipe.optimizer.lr": 0.01}, "C": {"recipe.optimizer.lr": 0.02}}
    run(base, root=tmp_path)  # A is cached before the ablation starts
    Ablation(base, {"C": variants["C"]}, root=tmp_path).run(progress=False)  # and C, silently
    assert capsys.readouterr().err == ""
    abl = Ablation(base, variants, root=tmp_path)
    tidy = abl.run()
    lines = _lines(capsys.readouterr().err)
    assert lines == ["ablation tiny: 3 runs, 2 cached, 1 to train", lines[1]]
    assert re.fullmatch(r"ablation tiny: run 3/3 \(B, fold 1\) trained in \d+ s; 2 cached; ETA 0 s", lines[1])
    assert list(tidy.groupby("variant", sort=False)["cached"].first()) == [True, False, True]
    abl.run()  # everything cached: nothing to say
    assert capsys.readouterr().err == ""


def test_ablation_bar_starts_at_the_cached_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(afg.progress, "bars_render", lambda stream=None: True)
    p = RunsProgress(5, cached=2, desc="ablation x")
    assert (p.bar.n, p.bar.total, p.bar.postfix) == (2, 5, "cached=2")
    p.done("a", cached=True)  # one of the two counted upfront
    p.done("b", cached=False)
    assert (p.bar.n, p.trained, p.cached) == (3, 1, 2)
    p.done("c", cached=True)
    p.done("d", cached=True)  # finished by another process meanwhile: counted now
    assert (p.bar.n, p.cached, p.trained) == (4, 3, 1) and p.bar.postfix == "cached=3"
    p.close()
    err = capsys.readouterr().err
    assert "ablation x" in err and "4/5" in err  # tqdm's bar, no plain lines
    assert "run 3/5" not in err


@pytest.mark.parametrize(("s", "text"), [(0.4, "0 s"), (59, "59 s"), (65, "1 min 05 s"), (3725, "1 h 02 min")])
def test_format_seconds(s, text):
    assert format_seconds(s) == text
