"""``afg check DATASET --root RAW``: the report of :func:`afg.data.check.check_release` on a user's copy
of a release, plus what each paper config in ``configs/`` will train and test on in it."""
from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from ..data.build import release_protocol
from ..data.check import check_release
from ..data.datasets import ADAPTERS, get_adapter
from ..experiments import load_experiment
from .errors import UsageError, one_line
from .prepare import _options

__all__ = ["cmd_check", "config_plan"]

#: the repository's paper configs (a source checkout; an installed wheel has none)
CONFIGS_DIR = Path(__file__).resolve().parents[2] / "configs"


def cmd_check(args: argparse.Namespace) -> int:
    """Print the report; exit 0 (complete), 1 (missing images / anomalies) or 2 (layout error)."""
    key = args.dataset.lower().replace("_", "").replace("-", "")
    known = sorted({k.replace("-", "") for k in ADAPTERS} - {"folder"})
    if key not in known:
        raise UsageError(f"unknown dataset {args.dataset!r}; choose from {', '.join(known)}")
    options = _options(args.option)
    report = check_release(key, args.root, **options)
    if report.layout_error is not None:
        raise UsageError(f"check {args.dataset}: {report.layout_error}")
    configs = Path(args.configs) if args.configs else CONFIGS_DIR
    report.plan = config_plan(key, Path(args.root), configs, options)
    print(report.format(max_missing=args.show_missing))
    return report.exit_code


def config_plan(dataset: str, root: Path, configs: Path, options: dict | None = None) -> list[str]:
    """One line per config of ``configs`` whose ``data.dataset`` is ``dataset``: the split or fold
    it uses, its training / test rows on the copy at ``root`` (images on disk) and its classes."""
    lines = []
    for path in sorted(configs.glob("*.yaml")) if configs.is_dir() else []:
        try:
            cfg = load_experiment(path)
        except Exception:  # noqa: BLE001 - not an experiment config (an ablation file, ...)
            continue
        spec = cfg.data
        if spec.dataset.lower().replace("_", "").replace("-", "") != dataset:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                adapter = get_adapter(dataset, root, **{**(options or {}), **spec.options})
            tr, te, where = _train_test(spec, adapter)
        except Exception as exc:  # noqa: BLE001 - the config cannot run on this copy: say why
            lines.append(f"{path.name}: cannot run: {one_line(exc)}")
            continue
        names = _label_names(cfg.model, adapter)
        lines.append(f"{path.name}: {where}: train {len(tr)} / test {len(te)}, "
                     f"{len(names)} labels ({', '.join(names)})")
    return lines


def _train_test(spec, adapter):
    """``(train_idx, test_idx, description)`` of the rows a config's ``data`` section trains and
    scores on: :func:`afg.data.build.release_protocol`, the rule training uses."""
    tr, te, proto = release_protocol(spec, adapter)
    where = proto.fold_text(spec.fold)
    return tr, te, where if proto.official else f"{where} (OFF-PROTOCOL: not the official split)"


def _label_names(model: dict, adapter) -> list[str]:
    """The labels the config's model predicts: AUs, expression classes or multi-label emotions."""
    name = str(model.get("name", ""))
    task = model.get("task") or ("multilabel" if name.startswith("svml") else
                                 "expression" if name.startswith("emotion") else "au")
    by_task = {"au": adapter.au_names, "expression": adapter.expression_names,
               "multilabel": adapter.emotion_names}
    return list(by_task.get(task) or adapter.au_names or adapter.expression_names or adapter.emotion_names)
