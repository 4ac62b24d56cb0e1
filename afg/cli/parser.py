"""The argument parser of ``afg``: one function per command, its options and its ``--help`` text.

Nothing here imports torch: ``afg --help`` and ``afg --version`` answer at once. :data:`COMMANDS`
names the module of :mod:`afg.cli` that runs each command (``cmd_<command>(args)``), imported only
when that command runs.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from functools import partial
from typing import NoReturn

from .. import __version__

__all__ = ["COMMANDS", "build_parser"]

#: command -> module of afg.cli holding ``cmd_<command>``
COMMANDS = {"train": "train", "cv": "train", "ablate": "train", "eval": "evaluate", "prepare": "prepare",
            "check": "check", "predict": "predict", "export": "export", "demo": "demo"}
#: options that take every following word (``nargs="+"``)
_GREEDY = ("--set", "--option", "--metrics")
_FMT = argparse.RawDescriptionHelpFormatter


def _swallowed(argv: Sequence[str]) -> tuple[str, str] | None:
    """``(option, word)`` when a greedy option took a word that is not ``KEY=VALUE`` (the
    positional argument the user meant to give after it)."""
    opt = None
    for word in argv:
        if word == "--" or (word.startswith("-") and word not in _GREEDY):
            opt = None
        elif word in _GREEDY:
            opt = word
        elif (opt in ("--set", "--option") and "=" not in word) or (
                opt == "--metrics" and word.endswith((".yaml", ".yml"))):
            return opt, word
    return None


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``afg: error: ...``) instead of usage + message; ``argv`` (the
    words being parsed) lets it say when ``--set`` swallowed the positional argument."""

    def __init__(self, *args, argv: Sequence[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.argv = list(argv)

    def error(self, message: str) -> NoReturn:
        sub = " ".join(self.prog.split()[1:])
        where = f"{sub}: " if sub else ""
        took = _swallowed(self.argv) if "arguments are required" in message else None
        if took:
            opt, word = took
            item = "metric names" if opt == "--metrics" else "KEY=VALUE items"
            message = (f"{opt} took {word!r} as one of its {item} ({opt} takes every word "
                       f"after it), so {message.split(': ', 1)[-1]} is missing: put {word} before "
                       f"{opt}, or end the {opt} list with --")
        self.exit(2, f"afg: error: {where}{message} (see `{self.prog} --help`)\n")


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``afg`` parser with every command (``argv``: the words it will parse, for its errors)."""
    parser = _Parser(prog="afg", argv=argv, formatter_class=_FMT,
                     description=f"Graph-based facial affect recognition (afg {__version__}): train, "
                                 "cross-validate, ablate, evaluate, prepare, predict.",
                     epilog="Run `afg COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"afg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=partial(_Parser, argv=argv))
    for add in (_train, _cv, _ablate, _eval, _check, _prepare, _predict, _export, _demo):
        add(sub)
    return parser


def _command(sub: argparse._SubParsersAction, name: str, help: str) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help, description=DOCS[name], formatter_class=_FMT)


# ------------------------------------------------------------------------------ shared options
def _runs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", metavar="DIR", default=None, help="runs folder (default: $AFG_RUNS_DIR or ./runs)")


def _device(p: argparse.ArgumentParser, default: str = "the config's recipe.device / auto") -> None:
    p.add_argument("--device", metavar="D", default=None, help=f"auto, cpu, cuda, cuda:1, mps (default: {default})")


def _device_auto(p: argparse.ArgumentParser) -> None:
    """``--device`` of the commands that take no config (prepare, predict)."""
    _device(p, "auto: CUDA, else MPS, else the CPU")


def _progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _set(p: argparse.ArgumentParser, help: str = "dotted overrides (as for train)") -> None:
    p.add_argument("--set", nargs="+", action="extend", metavar="KEY=VALUE", default=[], help=help)


def _executor(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("where the runs train (afg.experiments.executors)")
    g.add_argument("--executor", choices=("local", "slurm", "submitit-local"), default=None,
                   help="local processes (default), one SLURM job per run, or submitit's local jobs")
    g.add_argument("--jobs", type=int, default=None, metavar="N", help="local: runs at once")
    g.add_argument("--partition", default=None, help="slurm: partition")
    g.add_argument("--gpus", type=int, default=None, metavar="N", help="slurm: GPUs per job (1)")
    g.add_argument("--time", type=int, default=None, metavar="MIN",
                   help="slurm: time limit per job in minutes (240; longer runs are requeued)")
    g.add_argument("--array-parallelism", type=int, default=None, metavar="N",
                   help="slurm: at most N jobs of the array at once (64)")
    g.add_argument("--sbatch", nargs="+", action="extend", metavar="KEY=VALUE", default=[],
                   help="slurm: further sbatch options (account=proj qos=high constraint=h100)")
    g.add_argument("--no-wait", action="store_true",
                   help="submit the missing runs and return; run again later to collect them")


def _table(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "markdown", "latex", "csv"), default="text",
                   help="table format (default: text)")
    p.add_argument("-o", "--output", metavar="FILE", default=None, help="also write the table here")
    p.add_argument("--metrics", nargs="+", metavar="M", default=None,
                   help="metrics to tabulate (default by task, e.g. f1_mean auc_mean)")


def _checkpoint(p: argparse.ArgumentParser, also: str = "ME-GraphAU") -> None:
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help=f"afg checkpoint (.pt), a run folder, or an authors' {also} checkpoint")


def _with(p: argparse.ArgumentParser, *options: Callable[[argparse.ArgumentParser], None]) -> None:
    for add in options:
        add(p)


# ------------------------------------------------------------------------------ commands
def _train(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "train", "train one experiment config (cached by config hash)")
    p.add_argument("config", metavar="CONFIG.yaml", help="experiment config (configs/*.yaml)")
    _set(p, "dotted overrides, values parsed as YAML (recipe.epochs=2 model.neighbor_num=3)")
    p.add_argument("--fold", type=int, default=None, metavar="K", help="1-based fold (sets data.fold)")
    _with(p, _device, _runs)
    p.add_argument("--force", action="store_true", help="retrain even when a finished run is cached")
    _progress(p)


def _cv(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "cv", "cross-validate a config over all folds (mean ± std)")
    p.add_argument("config", metavar="CONFIG.yaml", help="experiment config")
    _set(p, "dotted overrides (as for train)")
    p.add_argument("--folds", type=int, default=None, metavar="K", help="number of folds (default: data.folds)")
    _with(p, _device, _runs, _table, _progress, _executor)


def _ablate(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "ablate", "run an ablation file (variants x folds) and print the table")
    p.add_argument("ablation", metavar="ABLATION.yaml", help="ablation file (configs/ablations/*.yaml)")
    p.add_argument("--dry-run", action="store_true", help="validate and list the runs (cached or not), train nothing")
    p.add_argument("--replicate", nargs="+", type=int, metavar="SEED", default=None,
                   help="then rerun the table on these fresh seeds and print, per row, the verdict "
                   "before and after and whether it replicated")
    _with(p, _device, _runs, _table, _progress, _executor)


def _eval(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "eval", "evaluate a checkpoint on a dataset split")
    _checkpoint(p)
    p.add_argument("--data", metavar="CONFIG.yaml", default=None,
                   help="experiment config (its data: section) or a bare data section; default: "
                   "the config.yaml of the checkpoint's run folder")
    _set(p, "dotted overrides of the data config (data.fold=2)")
    p.add_argument("--split", choices=("val", "train"), default="val",
                   help="held-out part of the fold (val, default) or the training part")
    p.add_argument("--batch-size", type=int, default=32, help="evaluation batch size (default 32)")
    p.add_argument("--json", metavar="FILE", default=None, help="write the metrics as JSON")
    _with(p, _device, _progress)


def _release(p: argparse.ArgumentParser, more: str = "") -> None:
    """``DATASET --root RAW``: a dataset release as distributed (prepare, check)."""
    p.add_argument("dataset", metavar="DATASET",
                   help="bp4d, disfa, emotionet, affectnet, affwild2, rafdb, rafcompound, rafml, jaffe" + more)
    p.add_argument("--root", required=True, metavar="RAW", help="the release folder as distributed")


def _prepare(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "prepare", "detect, align and write every face of a dataset release")
    _release(p, ", folder")
    p.add_argument("--out", required=True, metavar="OUT", help="output folder (faces/, manifest.csv, ...)")
    p.add_argument("--size", type=int, default=256, help="aligned crop size in pixels (default 256)")
    p.add_argument("--margin", type=float, default=0.1, help="alignment margin (default 0.1)")
    p.add_argument("--batch-size", type=int, default=32, help="frames per MTCNN batch (default 32)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="prepare only the first N records")
    p.add_argument("--no-resume", action="store_true", help="redo everything instead of resuming")
    p.add_argument("--option", nargs="+", action="extend", metavar="KEY=VALUE", default=[],
                   help="adapter options (e.g. check_images=false)")
    _with(p, _device_auto, _progress)


def _check(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "check", "read a copy of a dataset release: counts, missing images, label anomalies")
    _release(p)
    p.add_argument("--option", nargs="+", action="extend", metavar="KEY=VALUE", default=[],
                   help="adapter options, as for prepare (e.g. num_classes=7)")
    p.add_argument("--configs", metavar="DIR", default=None,
                   help="configs whose data.dataset is DATASET are planned on the copy (default: "
                        "the repository's configs/)")
    p.add_argument("--show-missing", type=int, default=10, metavar="N",
                   help="missing images listed (default 10)")


def _predict(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "predict", "AU / expression predictions for images, folders and videos")
    _checkpoint(p, "ME-GraphAU or OpenGraphAU (41 AUs)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders, video files")
    p.add_argument("-o", "--output", metavar="out.csv", default=None,
                   help="CSV to write (default: CSV on stdout)")
    p.add_argument("--no-detect", action="store_true",
                   help="inputs are already aligned faces: skip MTCNN, resize the whole image")
    p.add_argument("--fps", type=float, default=1.0, help="frames per second sampled from videos (default 1)")
    p.add_argument("--max-frames", type=int, default=None, help="at most this many frames per video")
    p.add_argument("--face-threshold", type=float, default=0.9,
                   help="minimum MTCNN face probability (default 0.9)")
    p.add_argument("--batch-size", type=int, default=16, help="frames per detection / model batch (default 16)")
    p.add_argument("--show", type=int, default=10, help="rows of the summary printed (default 10)")
    p.add_argument("-q", "--quiet", action="store_true", help="print no preview table")
    p.add_argument("--plot", metavar="DIR", default=None,
                   help="write figures (PDF+PNG) into DIR: each image's faces with their AU "
                        "probabilities, each video's AUs over time")
    _with(p, _device_auto, _progress)


def _export(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "export", "write a checkpoint's model weights as .safetensors (model hubs' format)")
    _checkpoint(p)
    p.add_argument("output", metavar="OUT.safetensors", help="the file to write")


def _demo(sub: argparse._SubParsersAction) -> None:
    p = _command(sub, "demo", "the main job: synthetic DISFA data, baseline vs ME-GraphAU, figures, predict")
    p.add_argument("--quick", action="store_true", help="tiny version for CI (about a minute)")
    _runs(p)
    p.add_argument("--figures", metavar="DIR", default=None,
                   help="figures folder (default: $AFG_FIGURES_DIR or ./figures)")
    _device(p)


#: each command's --help description
DOCS = {
    "train": "Train one experiment (model + data + recipe) unless the identical run is cached.\n"
             "Example: afg train configs/me_graphau_synthetic.yaml --fold 2 --set recipe.epochs=1\n"
             "A recipe.* override also reaches the stages that set that field themselves (here both\n"
             "stages' epochs), and the command prints so. Put CONFIG.yaml before --set (or end the\n"
             "--set list with --).",
    "cv": "Run every fold of the config's k-fold protocol through the run cache; print the per-fold "
          "metrics and the mean ± std table.",
    "ablate": "Run an ablation file: the base config with each variant's dotted overrides, on each fold,\n"
              "through the run cache; print the mean ± std table (and the paper's table when\n"
              "`reference:` is set). File format:\n\n"
              "  base: ../me_graphau_synthetic.yaml   # relative to the ablation file\n"
              "  set: {recipe.epochs: 1}              # optional, every variant\n"
              "  folds: 3                             # k or [1, 2]; default: the base's data.fold\n"
              "  seeds: [0, 1]                        # optional\n"
              "  metrics: [f1_mean, auc_mean]         # optional\n"
              "  reference: me_graphau/table3         # optional (afg.reference table id)\n"
              "  variants:\n"
              "    Backbone: {model.use_afg: false}\n"
              "    Full: {}",
    "eval": "Evaluate a checkpoint on the held-out (or training) part of a data config's fold.\n"
            "The checkpoint must predict the data's labels (same number and names).",
    "check": "Read a copy of an official release the way training will, before any GPU time: labelled\n"
             "rows per official split / protocol fold against the published counts, images listed but\n"
             "missing, label anomalies (a label with no value or no positive, a class absent from a\n"
             "split, rows in no fold), and the faces each paper config in configs/ trains and tests on.\n"
             "Exit 0: complete; 1: readable, with missing images or anomalies; 2: the layout cannot be\n"
             "read (one line naming the file). Counts and sources: docs/datasets.md.",
    "prepare": "Detect (MTCNN) and align every face of an official release once, resumably; writes\n"
               "OUT/faces/, OUT/manifest.csv, OUT/failures.csv and OUT/prepare.json.",
    "predict": "Detect and align every face (MTCNN, batched) in images, folders (recursive) and videos\n"
               "(sampled at --fps) and write one CSV row per face: input, frame, face, FaceRectX,\n"
               "FaceRectY, FaceRectWidth, FaceRectHeight, FaceScore, the model's outputs (AU01 ...\n"
               "probabilities, or expression classes / valence / arousal), status, reason.\n"
               "Inputs without a face get a row with status no_face.",
    "export": "Write the model weights of a checkpoint as a .safetensors file (no pickle; the format\n"
              "model hubs use), with the model config and label names in its metadata, so that\n"
              "`afg predict OUT.safetensors ...`, `afg eval`, Predictor, model.weights and a stage's\n"
              "init_from read it back. Optimizer state is not exported (training resumes from the run folder).",
    "demo": "The main job: a synthetic DISFA-profile dataset; the backbone baseline and ME-GraphAU\n"
            "(stage 1 + stage 2) on resnet_tiny at 112 px on one subject-independent fold (cached runs);\n"
            "per-AU F1 vs the paper's DISFA row; figures/demo_f1.pdf|png and demo_knn_graph.pdf|png;\n"
            "predictions (afg.Predictor, as `afg predict`) on a real photograph and on synthetic faces.",
}
