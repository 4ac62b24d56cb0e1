"""Layering of the package: no import cycle between afg's modules, and the dataset-wrapper helper.

The import graph is read from the source with :mod:`ast` (nothing is imported), counting every
``import`` / ``from … import`` — at module level, inside functions and under ``TYPE_CHECKING``
alike: a function-local import hides a cycle from Python's import machinery, not from a reader.
A node is a module (a package is its ``__init__``); ``from pkg import name`` is an edge to
``pkg.name`` when that is a module, else to ``pkg``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from afg.data.wrappers import (
    CachedDataset,
    base_dataset,
    base_positions,
    dataset_layers,
    find_attribute,
)

PACKAGE = Path(__file__).resolve().parents[1] / "afg"


def _modules(root: Path) -> dict[str, Path]:
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        if node.level:
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    out = []
    for name in names:
        while name and name not in modules:  # afg.x.y.Class -> afg.x.y
            name = name.rpartition(".")[0]
        if name and name != module:
            out.append(name)
    return out


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """``module -> modules of the package it imports`` (every import statement, at any depth)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module].update(_targets(module, path, node, modules))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_on_hand_made_graphs():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert sorted(cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}})) == [["a", "b"], ["c", "d"]]


def test_import_graph_reads_relative_function_local_and_package_imports(tmp_path):
    pkg = tmp_path / "afg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .low import X\n")
    (pkg / "sub" / "low.py").write_text("X = 1\n")
    (pkg / "top.py").write_text("import os\n\ndef f():\n    from .sub import low\n    from afg.sub.low import X\n")
    (pkg / "mid.py").write_text("from . import top\nfrom .sub import X\n")
    g = import_graph(pkg)
    assert g["afg.top"] == {"afg.sub.low"}  # function-local imports count; os is not afg's
    assert g["afg.mid"] == {"afg.top", "afg.sub"}  # `from . import top` is the module top
    assert g["afg.sub"] == {"afg.sub.low"}
    (pkg / "sub" / "low.py").write_text("def g():\n    from ..mid import top\n")
    assert cycles(import_graph(pkg)) == [["afg.mid", "afg.sub", "afg.sub.low", "afg.top"]]  # mid -> top -> sub.low -> mid


def test_no_import_cycle_between_afg_modules():
    graph = import_graph()
    assert {"afg.backbones", "afg.pretrain", "afg.data.prepare", "afg.data.datasets.base"} <= set(graph)
    assert "afg.backbones" in graph["afg.pretrain"] and "afg.pretrain" not in graph["afg.backbones"]
    assert cycles(graph) == []


# -- afg.data.wrappers ------------------------------------------------------------------------------
class _Items(Dataset):
    """Base dataset: item i is i; labels()["y"] = 10·i."""

    def __init__(self, n: int) -> None:
        self.n, self.names = n, ["a", "b"]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return int(i)

    def labels(self) -> dict[str, np.ndarray]:
        return {"y": 10 * np.arange(self.n)}


def test_base_dataset_and_positions_through_every_wrapper():
    base = _Items(10)
    inner = Subset(CachedDataset(base), [9, 7, 5, 3, 1])
    outer = Subset(inner, [4, 0, 2])  # items 1, 9, 5 of the base
    loader = DataLoader(CachedDataset(outer), batch_size=2)
    assert [type(x).__name__ for x in dataset_layers(loader)] == [
        "DataLoader", "CachedDataset", "Subset", "Subset", "CachedDataset", "_Items"]
    assert base_dataset(loader) is base and base_dataset(base) is base
    ds, idx = base_positions(loader)
    assert ds is base and idx.tolist() == [1, 9, 5] == [outer[i] for i in range(len(outer))]
    assert base_positions(CachedDataset(base)) == (base, None)
    assert [int(x) for b in loader for x in torch.as_tensor(b)] == [1, 9, 5]


def test_find_attribute_reads_each_layers_own_dict_outermost_first():
    base = _Items(4)
    base.basic_data = "base's"
    cached = CachedDataset(base)
    sub = Subset(cached, [0, 1])
    assert find_attribute(sub, "basic_data") == "base's"  # not forwarded by CachedDataset.__getattr__ first
    sub.basic_data = "the subset's"
    assert find_attribute(DataLoader(sub), "basic_data") == "the subset's"
    assert find_attribute(sub, "missing", default=3) == 3
