"""Layering of the package: the layers contract, the page that draws it, no import cycle between
afg's modules, and the dataset-wrapper helper.

The import graph is read from the source with :mod:`ast` by ``tools/architecture.py`` (nothing is
imported), counting every ``import`` / ``from … import`` — at module level, inside functions and
under ``TYPE_CHECKING`` alike: a function-local import hides a cycle from Python's import
machinery, not from a reader. A node is a module (a package is its ``__init__``); ``from pkg
import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg``. The layers are
``pyproject.toml``'s import-linter contract (``lint-imports`` in ``make test``), read by
:func:`afg.docs.contract_layers`.
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from afg import docs
from afg.data.wrappers import (
    CachedDataset,
    base_dataset,
    base_positions,
    dataset_layers,
    find_attribute,
)
from afg.docs import Layer, contract_layers

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "afg"
PAGE = REPO / "docs" / "architecture.md"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

_spec = importlib.util.spec_from_file_location("afg_architecture_tool", REPO / "tools" / "architecture.py")
arch = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = arch  # dataclasses look their module up while the file executes
_spec.loader.exec_module(arch)
import_graph, cycles = arch.import_graph, arch.cycles


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
    graph = import_graph(PACKAGE)
    assert {"afg.backbones", "afg.pretrain", "afg.data.prepare", "afg.data.datasets.base"} <= set(graph)
    assert "afg.backbones" in graph["afg.pretrain"] and "afg.pretrain" not in graph["afg.backbones"]
    assert cycles(graph) == []


# -- the layers contract ----------------------------------------------------------------------------
def _pyproject(folder: Path, layers: list[str], ignores: list[str] = (), root: str = "afg") -> Path:
    """A pyproject.toml holding one layers contract (id ``layers``) over ``root``."""
    path = folder / "pyproject.toml"
    path.write_text(textwrap.dedent(f"""
        [tool.importlinter]
        root_package = "{root}"

        [[tool.importlinter.contracts]]
        id = "layers"
        name = "layers"
        type = "layers"
        containers = ["{root}"]
        layers = {list(layers)}
        ignore_imports = {list(ignores)}
    """).replace("'", '"'))
    return path


def test_contract_layers_reads_order_siblings_and_optional_layers(tmp_path):
    p = _pyproject(tmp_path, ["cli", "(papers)", "losses | metrics", "a : b", "utils"])
    assert contract_layers(p) == [
        Layer(("afg.cli",)), Layer(("afg.papers",), optional=frozenset({"afg.papers"})),
        Layer(("afg.losses", "afg.metrics")), Layer(("afg.a", "afg.b"), independent=False), Layer(("afg.utils",))]
    with pytest.raises(ValueError, match="no layers contract with id 'other'"):
        contract_layers(p, "other")


def test_up_arrows_judge_each_import_against_the_layers():
    layers = [Layer(("afg.cli",)), Layer(("afg.losses", "afg.metrics")), Layer(("afg.a", "afg.b"), independent=False),
              Layer(("afg.utils",))]
    imp = arch.Import
    imports = [imp("afg.cli.x", "afg.utils", 1, False, False),  # down: fine
               imp("afg.utils", "afg.metrics.f1", 2, True, False),  # up, in a function
               imp("afg.losses.au", "afg.metrics", 3, False, False),  # independent siblings
               imp("afg.a", "afg.b.c", 4, False, False),  # siblings that may import each other
               imp("afg.b", "afg.cli", 5, False, True),  # up, under TYPE_CHECKING: counted too
               imp("afg.new", "afg.cli", 6, False, False),  # unplaced: not judged here
               imp("afg", "afg.cli", 7, True, False)]  # the package root: not judged here
    got = arch.up_arrows(imports, layers, ["afg.b -> afg.cli", "afg.*.au -> afg.**"])
    assert [(i.line, ok) for i, ok in got] == [(2, False), (3, True), (5, True)]
    assert arch._matches("afg.compat.** -> afg.train.checkpoint", "afg.compat.x.y", "afg.train.checkpoint")
    assert not arch._matches("afg.compat.* -> afg.train.checkpoint", "afg.compat", "afg.train.checkpoint")


def test_every_afg_package_has_its_layer_and_none_imports_against_it():
    """The judgement of `lint-imports` (make test), by the counting tool: the two agree."""
    layers = contract_layers()
    imports, _ = arch.read_imports(PACKAGE)
    assert arch.unplaced(arch.modules(PACKAGE), layers) == []
    bad = [i for i, ok in arch.up_arrows(imports, layers, arch.ignored_imports(REPO / "pyproject.toml")) if not ok]
    assert bad == []


def test_modules_read_only_the_version_from_the_package_root():
    """The contract ignores `afg -> afg.predict` (the root's lazy `afg.Predictor`): honest only
    while no afg module reaches anything but `__version__` (or a subpackage) through the root."""
    subpackages = {m.split(".")[1] for m in arch.modules(PACKAGE) if m != "afg"}
    found = []
    for module, path in arch.modules(PACKAGE).items():
        if module == "afg":
            continue
        root_level = len(module.split(".")) - (path.name != "__init__.py")
        for node in ast.walk(arch.parse(path)[0]):
            if isinstance(node, ast.ImportFrom) and (node.module == "afg" or (node.level == root_level and not node.module)):
                found += [(module, a.name) for a in node.names if a.name not in {"__version__", *subpackages}]
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "afg":
                found += [(module, node.attr)] if node.attr not in {"__version__", *subpackages} else []
    assert found == []


def test_the_root_check_finds_a_planted_predictor(tmp_path):
    """The check above is not vacuous: it reads `from .. import Predictor` and `afg.Predictor`."""
    tree = ast.parse("from .. import Predictor\nimport afg\nafg.Predictor\n")
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 2 for a in n.names]
    attrs = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.value.id == "afg"]
    assert names == attrs == ["Predictor"]


@pytest.mark.skipif(not LINT_IMPORTS.exists(), reason="import-linter not installed (the dev extra)")
def test_lint_imports_sees_function_local_imports(tmp_path):
    """import-linter (grimp) counts an import inside a function: a planted up-import in a
    function body breaks the contract, and `ignore_imports` excuses exactly it."""
    pkg = tmp_path / "pkgx"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "high.py").write_text("X = 1\n")
    (pkg / "low.py").write_text("def f():\n    from .high import X\n\n    return X\n")
    run = [str(LINT_IMPORTS), "--no-cache"]
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    _pyproject(tmp_path, ["high", "low"], root="pkgx")
    out = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "pkgx.low -> pkgx.high (l.2)" in out.stdout, out.stdout + out.stderr
    _pyproject(tmp_path, ["high", "low"], ["pkgx.low -> pkgx.high"], root="pkgx")
    out = subprocess.run(run, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "1 kept, 0 broken" in out.stdout, out.stdout + out.stderr


# -- the counts -------------------------------------------------------------------------------------
def test_counts_of_function_local_imports_reasons_longest_functions_and_run_layout(tmp_path):
    pkg = tmp_path / "afg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("X = 1\n")
    (pkg / "a.py").write_text(textwrap.dedent('''\
        """Mentions best.pt in a docstring: not counted."""
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            from .low import X


        def f(run, i, *, k=1):
            # local: the reason covers this run of two imports
            import json
            from .low import X

            from . import low  # local: its own reason
            import os
            return [run / "best.pt", f"stage{i}-main", json.loads((run / "x").read_text()), X, low, os,
                    tomllib.loads((run / "y").read_text())]


        class C:
            def g(self):
                return "last.pt"
    '''))
    imports, statements = arch.read_imports(pkg)
    assert sorted((i.importer, i.target, i.local, i.type_checking) for i in imports) == [
        ("afg.a", "afg.low", False, True), ("afg.a", "afg.low", True, False), ("afg.a", "afg.low", True, False)]
    assert arch.function_local(pkg, statements)["afg.a"] == {"afg": 2, "other": 2, "reasoned": 3}
    lines, name, where, params = arch.longest_functions(pkg, 1)[0]
    assert (lines, name, where, params) == (9, "afg.a:f", "afg/a.py:8", 3)  # def to the end of return
    assert arch.longest_functions(pkg)[1][1:] == ("afg.a:C.g", "afg/a.py:20", 0)
    knows, reads = arch.run_layout(pkg)
    assert knows == {"afg/a.py": ["best.pt", "last.pt", "stage{}-"]} and reads == {"afg/a.py": 1}



def test_every_function_local_import_has_its_reason():
    """A function-local import only where it saves start-up time, each with ``# local: <reason>``."""
    missing = arch.unreasoned_local_imports(PACKAGE)
    assert not missing, "function-local imports without a `# local: <reason>` comment " \
        "(hoist them to the top of the module, or say why not):\n" + "\n".join(missing)


def test_a_planted_function_local_import_without_a_reason_is_found(tmp_path):
    pkg = tmp_path / "afg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(textwrap.dedent('''\
        from typing import TYPE_CHECKING

        if TYPE_CHECKING:
            import json


        def f():
            import os  # local: a reason
            if True:
                import re
            return os, re


        def g():
            if TYPE_CHECKING:
                import sys
            from . import a
            return a
    '''))
    assert arch.unreasoned_local_imports(pkg) == ["afg/a.py:10: import re", "afg/a.py:17: from . import a"]

# -- docs/architecture.md ---------------------------------------------------------------------------
def test_the_page_draws_the_contract():
    """The layer table between the `layers` markers is what the contract renders to, and every
    package the page names elsewhere is one of the contract's."""
    assert docs.check_pages([PAGE]) == []
    text = PAGE.read_text(encoding="utf-8")
    table = text.split("<!-- results-block:layers -->")[1].split("<!-- /results-block -->")[0]
    listed = re.findall(r"^\| \d+[^|]*\| `([\w.]+)` \|", table, flags=re.M)
    assert listed == [m for layer in contract_layers() for m in layer.modules]
    named = {".".join(n.split(".")[:2]) for n in re.findall(r"`(afg\.\w+)", text)}
    assert named <= set(listed), named - set(listed)


def test_a_page_that_disagrees_with_the_contract_fails(tmp_path, monkeypatch):
    page = tmp_path / "architecture.md"
    page.write_text(docs.render_text("<!-- results-block:layers -->\n<!-- /results-block -->\n"))
    assert docs.check_pages([page]) == []
    layers = [" | ".join(f"({m[4:]})" if m in layer.optional else m[4:] for m in layer.modules)
              for layer in contract_layers()]
    layers[1], layers[2] = layers[2], layers[1]  # the contract changes; the page does not
    planted = tmp_path / "repo"
    planted.mkdir()
    monkeypatch.setattr(docs, "PYPROJECT", _pyproject(planted, layers))
    shutil.copytree(PACKAGE, planted / "afg", ignore=shutil.ignore_patterns("__pycache__", "weights"))
    bad = docs.check_pages([page])
    assert len(bad) == 1 and "results-block:layers: page says" in bad[0], bad


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
