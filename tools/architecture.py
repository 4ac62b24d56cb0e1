"""The architecture counts of #48, read from the source (nothing of afg is imported but
:func:`afg.docs.contract_layers`, the one reader of the layers contract in ``pyproject.toml``).

``python tools/architecture.py [--root REPO]`` prints a Markdown block:

* **imports against the layers**: every afg→afg import statement (at module level, inside
  functions, under ``TYPE_CHECKING``) whose target's layer is above the importer's, or a sibling
  of an independent layer (``a | b``); those the contract's ``ignore_imports`` excuses are marked;
* **function-local imports** per package: statements inside a function body (``if
  TYPE_CHECKING:`` blocks left out), afg's own and third-party, and how many carry a
  ``# local: <reason>`` comment (on the statement, or on the line above a run of imports);
* the **five longest functions** (lines from ``def`` to the body's end);
* the **files that know the run folder's layout**: string literals (docstrings left out) naming
  ``best.pt``, ``last.pt``, ``result.json`` or a stage folder (``stage*-…``, ``stage{i}-…``),
  and ``json.loads(….read_text())`` calls;
* **import edges** between packages (a package is ``afg.X``: a subpackage or a top-level module)
  and the cycles among modules and among packages.

``--root`` reads another checkout (e.g. ``git archive HEAD | tar -x -C /tmp/before``) against
this checkout's contract: the counts before a change.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

from afg.docs import Layer, contract_layers  # noqa: E402

#: what names the run folder's layout in a string literal
RUN_LAYOUT = re.compile(r"(?:^|/)(?:best\.pt|last\.pt|result\.json)$|(?:^|/)stage(?:\*|\{\})-")


@dataclass(frozen=True)
class Import:
    """One afg→afg import statement: importer module, imported module, line, whether it sits in
    a function body, and under ``if TYPE_CHECKING``."""

    importer: str
    target: str
    line: int
    local: bool
    type_checking: bool


def modules(root: Path) -> dict[str, Path]:
    """``module name -> file`` of the package at ``root`` (a package is its ``__init__``)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


@lru_cache(maxsize=1024)
def _parsed(path: Path, mtime_ns: int) -> tuple[ast.Module, list[str]]:
    text = path.read_text(encoding="utf-8")
    return ast.parse(text, filename=str(path)), text.splitlines()


def parse(path: Path) -> tuple[ast.Module, list[str]]:
    """``path``'s syntax tree and lines, read once while the file is unchanged."""
    return _parsed(path, path.stat().st_mtime_ns)


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom, mods: dict[str, Path]) -> list[str]:
    """The package's modules ``node`` imports: ``from pkg import name`` is ``pkg.name`` when that
    is a module, else ``pkg``; ``afg.x.y.Class`` is ``afg.x.y``."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        if node.level:
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
    out = []
    for name in names:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        if name and name != module and name not in out:
            out.append(name)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(tree: ast.AST):
    """``(node, in_function, under_type_checking)`` for every node of ``tree``."""
    stack = [(tree, False, False)]
    while stack:
        node, fn, tc = stack.pop()
        yield node, fn, tc
        inner_fn = fn or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        for child in ast.iter_child_nodes(node):
            child_tc = tc or (isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body)
            stack.append((child, inner_fn, child_tc))


def read_imports(root: Path) -> tuple[list[Import], list[tuple[str, int, bool, bool]]]:
    """Every afg→afg import of the package at ``root``, and every import statement as
    ``(module, line, local, afg's own)`` for the function-local counts."""
    mods = modules(root)
    found, statements = [], []
    for module, path in mods.items():
        for node, local, tc in _walk(parse(path)[0]):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            targets = _targets(module, path, node, mods)
            if not tc:
                statements.append((module, node.lineno, local, bool(targets) or bool(
                    isinstance(node, ast.ImportFrom) and node.level)))
            found += [Import(module, t, node.lineno, local, tc) for t in targets]
    return found, statements


def import_graph(root: Path) -> dict[str, set[str]]:
    """``module -> modules of the package it imports`` (every import statement, at any depth)."""
    graph: dict[str, set[str]] = {m: set() for m in modules(root)}
    for imp in read_imports(root)[0]:
        graph[imp.importer].add(imp.target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
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


def package(module: str) -> str:
    """The layer unit of ``module``: ``afg.X`` (``afg`` itself for the root)."""
    return ".".join(module.split(".")[:2])


def ignored_imports(pyproject: Path, contract: str = "layers") -> list[str]:
    """The contract's ``ignore_imports`` expressions (``importer -> imported``)."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c.get("id") == contract).get("ignore_imports", [])


def _matches(expression: str, importer: str, target: str) -> bool:
    """Whether an import-linter import expression (``*``: one name segment, ``**``: any) names
    the import ``importer -> target``."""
    def pattern(p: str) -> str:
        return re.escape(p.strip()).replace(r"\*\*", ".+").replace(r"\*", "[^.]+")
    a, _, b = expression.partition("->")
    return bool(re.fullmatch(pattern(a), importer) and re.fullmatch(pattern(b), target))


def up_arrows(imports: list[Import], layers: list[Layer], ignores: list[str]) -> list[tuple[Import, bool]]:
    """The imports against ``layers`` (highest first), each with whether ``ignores`` excuses it.
    Imports of or by the package root (``afg``) and of undeclared packages are not judged here
    (:func:`unplaced` lists the latter)."""
    level = {m: i for i, layer in enumerate(layers) for m in layer.modules}
    independent = {m: layer.independent for layer in layers for m in layer.modules}
    out = []
    for imp in imports:
        a, b = package(imp.importer), package(imp.target)
        if a == b or a not in level or b not in level:
            continue
        if level[b] < level[a] or (level[b] == level[a] and independent[a]):
            out.append((imp, any(_matches(e, imp.importer, imp.target) for e in ignores)))
    return out


def unplaced(mods: dict[str, Path], layers: list[Layer]) -> list[str]:
    """Packages of the source that the contract does not place."""
    declared = {m for layer in layers for m in layer.modules}
    return sorted({package(m) for m in mods} - declared - {"afg"})


def _local_reasons(path: Path) -> set[int]:
    """Lines of ``path``'s import statements whose function-local import has its reason: a
    ``# local:`` comment on the statement, or on the line above the run of imports it is in."""
    tree, lines = parse(path)
    ok: set[int] = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list):
                continue
            run_reason, previous_end = False, -1  # a run: imports on consecutive lines
            for stmt in body:
                if not isinstance(stmt, ast.Import | ast.ImportFrom):
                    previous_end = -1
                    continue
                if stmt.lineno != previous_end + 1:
                    above = lines[stmt.lineno - 2].strip() if stmt.lineno >= 2 else ""
                    run_reason = above.startswith("# local:")
                own = any("# local:" in lines[i - 1] for i in range(stmt.lineno, stmt.end_lineno + 1))
                if own or run_reason:
                    ok.add(stmt.lineno)
                previous_end = stmt.end_lineno
    return ok


def function_local(root: Path, statements: list[tuple[str, int, bool, bool]]) -> dict[str, Counter]:
    """Per package: function-local import statements (``afg``: afg's own, ``other``: third-party),
    ``reasoned``: those with a ``# local:`` reason."""
    mods = modules(root)
    reasons = {m: _local_reasons(p) for m, p in mods.items()}
    out: dict[str, Counter] = defaultdict(Counter)
    for module, line, local, own in statements:
        if local:
            out[package(module)]["afg" if own else "other"] += 1
            out[package(module)]["reasoned"] += line in reasons[module]
    return out


def unreasoned_local_imports(root: Path) -> list[str]:
    """``file:line: statement`` of every function-local import (``if TYPE_CHECKING:`` blocks left
    out) without its ``# local: <reason>`` comment: the house rule allows one only where it saves
    start-up time (the torch-free command line, ``import afg``, a heavy optional dependency)."""
    out = []
    for path in modules(root).values():
        tree, lines = parse(path)
        reasons = _local_reasons(path)
        for node, local, tc in _walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom) and local and not tc and node.lineno not in reasons:
                out.append(f"{path.relative_to(root.parent)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return sorted(out)


def longest_functions(root: Path, n: int = 5) -> list[tuple[int, str, str, int]]:
    """The ``n`` longest functions: ``(lines, module:qualified name, file:line, parameters)``."""
    out = []
    for module, path in modules(root).items():
        stack: list[tuple[ast.AST, str]] = [(parse(path)[0], "")]
        while stack:
            node, prefix = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}{child.name}"
                    if not isinstance(child, ast.ClassDef):
                        a = child.args
                        params = len(a.posonlyargs + a.args + a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
                        params -= bool(a.args and a.args[0].arg in ("self", "cls"))
                        out.append((child.end_lineno - child.lineno + 1, f"{module}:{name}",
                                    f"{path.relative_to(root.parent)}:{child.lineno}", params))
                    stack.append((child, name + "."))
                else:
                    stack.append((child, prefix))
    return sorted(out, key=lambda r: (-r[0], r[1]))[:n]


def _strings(tree: ast.AST):
    """The string literals of ``tree`` (f-strings with ``{}`` for each field), docstrings and
    other bare string statements left out."""
    bare = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)}
    parts = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            yield "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in bare
              and id(node) not in parts):
            yield node.value


def _json_reads(tree: ast.AST) -> int:
    """``json.loads(<x>.read_text(...))`` calls."""
    return sum(1 for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr == "loads" and isinstance(n.func.value, ast.Name) and n.func.value.id == "json"
               and n.args and isinstance(n.args[0], ast.Call)
               and isinstance(n.args[0].func, ast.Attribute) and n.args[0].func.attr == "read_text")


def run_layout(root: Path) -> tuple[dict[str, list[str]], dict[str, int]]:
    """``file -> run-folder names its code spells`` and ``file -> json.loads(read_text) calls``."""
    knows, reads = {}, {}
    for path in modules(root).values():
        tree = parse(path)[0]
        rel = str(path.relative_to(root.parent))
        names = sorted({m.group(0).lstrip("/") for s in _strings(tree) for m in [RUN_LAYOUT.search(s)] if m})
        if names:
            knows[rel] = names
        if (k := _json_reads(tree)):
            reads[rel] = k
    return knows, reads


def report(root: Path, pyproject: Path) -> str:
    """The Markdown block of counts for the package at ``root``."""
    layers, ignores = contract_layers(pyproject), ignored_imports(pyproject)
    imports, statements = read_imports(root)
    mods = modules(root)
    arrows = up_arrows(imports, layers, ignores)
    edges: set[tuple[str, str]] = {(package(i.importer), package(i.target)) for i in imports
                                   if package(i.importer) != package(i.target)}
    pkg_graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        if "afg" not in (a, b):
            pkg_graph[a].add(b)
    mod_graph: dict[str, set[str]] = defaultdict(set)
    for i in imports:
        mod_graph[i.importer].add(i.target)
    local = function_local(root, statements)
    n_afg = sum(1 for s in statements if s[3])
    n_layers = sum(1 for layer in layers if any(m in mods for m in layer.modules))
    out = [f"### Architecture counts (`python tools/architecture.py`, package `{root}`)", "",
           f"- packages and top-level modules: {len({package(m) for m in mods} - {'afg'})} in "
           f"{n_layers} layers present ({len(layers)} in the contract); unplaced: "
           f"{', '.join(unplaced(mods, layers)) or 'none'}",
           f"- afg→afg import statements: {n_afg}, of them inside functions: "
           f"{sum(c['afg'] for c in local.values())}; package edges: {len(edges - {e for e in edges if 'afg' in e})}",
           f"- import cycles: modules {len(cycles(mod_graph))}, packages {len(cycles(pkg_graph))}"
           + "".join(f"; `{' ↔ '.join(c)}`" for c in cycles(pkg_graph)),
           f"- imports against the layers: {len(arrows)} statements "
           f"({sum(1 for _, ok in arrows if not ok)} not excused by `ignore_imports`), package edges: "
           f"{len({(package(i.importer), package(i.target)) for i, _ in arrows})}", ""]
    if arrows:
        out += ["| importer | imports | line | in a function | excused |", "|---|---|---|---|---|"]
        out += [f"| `{i.importer}` | `{i.target}` | {i.line} | {'yes' if i.local else ''} | "
                f"{'ignore_imports' if ok else '**no**'} |" for i, ok in arrows]
        out.append("")
    out += ["Function-local imports by package (afg's own / third-party / with a `# local:` reason):", "",
            "| package | afg | third-party | with reason |", "|---|---|---|---|"]
    for p in sorted(local, key=lambda k: (-(local[k]["afg"] + local[k]["other"]), k)):
        c = local[p]
        out.append(f"| `{p}` | {c['afg']} | {c['other']} | {c['reasoned']} |")
    total = sum(local.values(), Counter())
    out += [f"| **all** | {total['afg']} | {total['other']} | {total['reasoned']} |", "",
            "The five longest functions:", "", "| lines | function | where | parameters |", "|---|---|---|---|"]
    out += [f"| {n} | `{name}` | `{where}` | {params} |" for n, name, where, params in longest_functions(root)]
    knows, reads = run_layout(root)
    out += ["", f"Files that know the run folder's layout: {len(knows)} "
            f"(`json.loads(….read_text())`: {sum(reads.values())} calls in {len(reads)} files)", "",
            "| file | names it spells |", "|---|---|"]
    out += [f"| `{f}` | {', '.join(f'`{n}`' for n in names)} |" for f, names in sorted(knows.items())]
    out += ["", "Package edges (importer → imported):", ""]
    by = defaultdict(list)
    for a, b in sorted(edges):
        by[a].append(b)
    out += [f"- `{a}` → {', '.join(f'`{b}`' for b in bs)}" for a, bs in sorted(by.items())]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=REPO, help="checkout to read (default: this one)")
    ap.add_argument("--pyproject", type=Path, default=REPO / "pyproject.toml",
                    help="the layers contract (default: this checkout's pyproject.toml)")
    args = ap.parse_args(argv)
    print(report(args.root / "afg", args.pyproject))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
