"""Pages whose numbers come from results files: render them, check them (``make docs-numbers``).

Every measured number in ``README.md`` and ``docs/`` sits between markers that name where it comes
from, a results file ``docs/results/<name>.json`` written by the command that measured it
(:func:`afg.measured.write_results`). Two kinds of marker:

* a value, inline::

      <!-- results:demo:f1.me_graphau:.1f -->58.9<!-- /results -->

  ``demo`` is the results file, ``f1.me_graphau`` a dotted path into its ``data`` (list items by
  index; ``@date``, ``@commit``, ``@machine``, ``@precision``, ``@command`` are the file's own
  fields) and ``.1f`` an optional Python format spec;
* a block, a whole generated table or line on lines of its own::

      <!-- results-block:papers -->
      | paper | model | ... |
      <!-- /results-block -->

  ``papers`` (the per-paper table: :data:`PAPER_ROWS` and every results file's ``summary``),
  ``notebooks`` (notebook wall times), ``table:NAME`` (a file whose ``data`` is a list of rows),
  ``provenance:NAME`` (the line saying which command measured ``NAME``, where, when, at which
  commit), ``layers`` (the package layers, highest first, from the import-linter contract in
  ``pyproject.toml`` — :func:`contract_layers` — each package with its docstring's first paragraph;
  not a measurement, but like one it renders from the one place that defines it).

:func:`render_text` replaces what stands between the markers by what the results files say (a
missing file renders as :data:`NOT_MEASURED`), ``python -m afg.docs`` rewrites the pages in place
and ``python -m afg.docs --check`` (``tests/test_docs_numbers.py``) prints one line per page that
disagrees with its results file — ``file:line: marker: page says X, results file says Y`` — and
exits 1. The per-paper table picks up a new results file by itself: a file whose ``data`` holds
``"summary": {"paper": "ME-GraphAU", "<column>": "<cell>", ...}`` (or a list of such dicts) adds
its columns to that paper's row, so a command that measures something new about a paper shows up
in the README without editing it.
"""
from __future__ import annotations

import argparse
import ast
import re
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .measured import read_results, results_dir, write_results

__all__ = ["NOT_MEASURED", "PAGES", "PAPER_ROWS", "Layer", "check_pages", "contract_layers", "main", "mark",
           "page_paths", "record", "render_text", "unmarked_numbers"]

#: the repository (pages are found relative to it)
REPO = Path(__file__).resolve().parents[1]
#: what a value or block renders as while its results file does not exist
NOT_MEASURED = "*not measured yet*"
#: the pages rendered and checked: the README and every Markdown page under docs/
PAGES = ("README.md", "docs")
#: where the layers contract is (``[tool.importlinter]``, the contract with ``id = "layers"``)
PYPROJECT = REPO / "pyproject.toml"

#: the per-paper table's fixed columns: paper, afg model names, configs, notebook
PAPER_ROWS: tuple[dict[str, str], ...] = (
    {"paper": "ME-GraphAU", "key": "me_graphau", "models": "`me_graphau_stage1`, `me_graphau`",
     "configs": "`me_graphau_{bp4d,disfa}_{resnet50,swin_base}.yaml`", "notebook": "02_me_graphau"},
    {"paper": "MAFG+CCFG", "key": "mafg_ccfg", "models": "`mafg_ccfg`",
     "configs": "`mafg_ccfg_{disfa,emotionet}.yaml`", "notebook": "03_mafg_ccfg"},
    {"paper": "AU-GCN", "key": "au_gcn", "models": "`au_gcn`",
     "configs": "`au_gcn_{bp4d,disfa}.yaml`", "notebook": "04_au_gcn"},
    {"paper": "Emotion-GCN", "key": "emotion_gcn", "models": "`emotion_gcn`",
     "configs": "`emotion_gcn_{affectnet,affectnet_bregnext,affwild2}.yaml`", "notebook": "05_emotion_gcn"},
    {"paper": "SVML-RGCN", "key": "svml_rgcn", "models": "`svml_rgcn`",
     "configs": "`svml_rgcn_{rafml,rafcompound,jaffe}.yaml`", "notebook": "06_svml_rgcn"},
)

_VALUE = re.compile(r"<!-- results:(?P<spec>[^>]*?) -->(?P<body>.*?)<!-- /results -->", re.S)
_BLOCK = re.compile(r"<!-- results-block:(?P<spec>[^>]*?) -->\n(?P<body>.*?)<!-- /results-block -->", re.S)
_META = {"@date": "date", "@commit": "commit", "@machine": "machine", "@precision": "precision",
         "@command": "command"}


class _Results:
    """The results files of one folder, read once each (``None`` for a missing file)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, dict[str, Any] | None] = {}

    def get(self, name: str) -> dict[str, Any] | None:
        if name not in self._cache:
            try:
                self._cache[name] = read_results(name, self.folder)
            except FileNotFoundError:
                self._cache[name] = None
        return self._cache[name]

    def all(self) -> list[dict[str, Any]]:
        """Every results file of the folder, in name order."""
        names = sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.is_dir() else []
        return [r for r in (self.get(n) for n in names) if r is not None]


# ---------------------------------------------------------------------------------------- values
def _lookup(record: dict[str, Any], path: str) -> Any:
    """``record[path]``: ``@date``-style fields of the file, else a dotted path into its ``data``."""
    if path in _META:
        return record[_META[path]]
    value: Any = record["data"]
    for part in path.split("."):
        if isinstance(value, list):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise KeyError(f"results file {record['name']!r} has no {path!r} (stops at {part!r})")
    return value


def _format(value: Any, fmt: str) -> str:
    if value is None:
        return "—"
    if fmt:
        return format(value, fmt)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _render_value(spec: str, results: _Results) -> str:
    name, _, rest = spec.partition(":")
    path, _, fmt = rest.partition(":")
    if not name or not path:
        raise ValueError(f"marker 'results:{spec}': expected results:NAME:PATH[:FORMAT]")
    record = results.get(name)
    return NOT_MEASURED if record is None else _format(_lookup(record, path), fmt)


def mark(name: str, path: str, value: Any, fmt: str = "") -> str:
    """``value`` between the markers that tie it to ``name``'s ``path``, formatted as the renderer
    formats it: for a command that writes a page and its results file together (the gallery)."""
    spec = f"{name}:{path}" + (f":{fmt}" if fmt else "")
    return f"<!-- results:{spec} -->{_format(value, fmt)}<!-- /results -->"


def record(name: str, data: Any, *, command: str, precision: str | None = None) -> Path | None:
    """:func:`afg.measured.write_results` where there is a results folder to write to (the
    checkout's ``docs/`` or ``$AFG_RESULTS_DIR``); in an installed package without one, nothing
    (returns ``None``). Prints where it wrote."""
    folder = results_dir()
    if not folder.is_dir() and not folder.parent.is_dir():
        return None
    path = write_results(name, data, command=command, precision=precision)
    print(f"results: {path}", flush=True)
    return path


# ---------------------------------------------------------------------------------------- blocks
def _cell(value: Any) -> str:
    return _format(value, "").replace("|", "\\|").replace("\n", " ")


def _markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _summaries(record: dict[str, Any]) -> list[dict[str, Any]]:
    data = record["data"]
    s = data.get("summary") if isinstance(data, dict) else None
    if s is None:
        return []
    return [s] if isinstance(s, dict) else list(s)


def _block_papers(arg: str, results: _Results) -> str:
    """The per-paper table: :data:`PAPER_ROWS`, then one column per ``summary`` key of any results
    file (columns in file-name order), rows matched by the paper's name."""
    rows = [{"paper": p["paper"], "model names": p["models"], "configs (`configs/`)": p["configs"],
             "notebook": f"`{p['notebook']}`"} for p in PAPER_ROWS]
    by_paper = {r["paper"]: r for r in rows}
    extra: list[str] = []
    for record in results.all():
        for s in _summaries(record):
            row = by_paper.get(str(s.get("paper")))
            if row is None:
                raise ValueError(f"results file {record['name']!r}: summary for unknown paper {s.get('paper')!r} "
                                 f"(one of {', '.join(by_paper)})")
            for k, v in s.items():
                if k != "paper":
                    extra.append(k)
                    row[k] = v
    columns = [*rows[0].keys()][:4] + list(dict.fromkeys(extra))
    for row in rows:  # a paper whose notebook has not written its results file yet
        for c in columns[4:]:
            row.setdefault(c, "not measured yet")
    return _markdown_table(rows, columns)


def _block_notebooks(arg: str, results: _Results) -> str:
    """Notebook wall times from ``notebook_*`` results files (default mode, empty run cache or not
    as the file says)."""
    rows = []
    for record in results.all():
        if not record["name"].startswith("notebook_"):
            continue
        d = record["data"]
        rows.append({"notebook": f"`{d['notebook']}`", "mode": d.get("mode", ""),
                     "wall time (min)": _format(d.get("minutes"), ".1f"),
                     "runs trained": d.get("runs_trained", "—"),
                     "machine": record["machine"], "date": record["date"][:10], "commit": record["commit"]})
    if not rows:
        return NOT_MEASURED + " (each notebook writes `docs/results/notebook_<NN>.json` when it finishes in default mode)"
    return _markdown_table(rows)


def _block_table(arg: str, results: _Results) -> str:
    """``table:NAME`` renders ``data`` (or ``data.rows``) of results file NAME, a list of row dicts;
    ``table:NAME:KEY`` the list ``data[KEY]``; ``table:NAME:KEY:FIELD=VALUE`` only its rows whose
    FIELD is VALUE (e.g. ``table:localisation:localisation:au=mean``)."""
    name, _, rest = arg.partition(":")
    key, _, where = rest.partition(":")
    record = results.get(name)
    if record is None:
        return NOT_MEASURED
    data = record["data"]
    rows = (data.get(key) if key else data.get("rows")) if isinstance(data, dict) else data
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"results file {name!r}: 'table:' needs data{'.' + key if key else ' (or data.rows)'} "
                         "as a list of row dicts")
    if where:
        field, _, value = where.partition("=")
        rows = [r for r in rows if str(r.get(field)) == value]
    return _markdown_table(rows)


def _block_provenance(arg: str, results: _Results) -> str:
    record = results.get(arg)
    if record is None:
        return NOT_MEASURED
    prec = f", {record['precision']}" if record.get("precision") else ""
    return (f"Measured by `{record['command']}` on {record['machine']}{prec}, {record['date']}, "
            f"commit `{record['commit']}` (`docs/results/{arg}.json`).")


@dataclass(frozen=True)
class Layer:
    """One layer of the import-linter ``layers`` contract: its modules (full names), whether
    they must not import each other (``a | b``; ``a : b`` may), and those that may be missing
    (``(x)``: a layer that does not exist yet)."""

    modules: tuple[str, ...]
    independent: bool = True
    optional: frozenset[str] = frozenset()


def contract_layers(pyproject: str | Path | None = None, contract: str = "layers") -> list[Layer]:
    """The layers of the ``layers`` contract in ``pyproject`` (default :data:`PYPROJECT`),
    highest first as import-linter lists them: a module imports only from the layers after its
    own. Layer names are joined to the contract's one container (``afg``)."""
    path = Path(pyproject) if pyproject is not None else PYPROJECT
    config = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("importlinter", {})
    found = [c for c in config.get("contracts", []) if c.get("id") == contract]
    if len(found) != 1 or found[0].get("type") != "layers":
        raise ValueError(f"{path}: no layers contract with id {contract!r} in [tool.importlinter]")
    containers = found[0].get("containers") or [""]
    if len(containers) != 1:
        raise ValueError(f"{path}: contract {contract!r} needs one container, has {containers}")
    prefix = f"{containers[0]}." if containers[0] else ""
    out = []
    for raw in found[0]["layers"]:
        sep = "|" if "|" in raw else ":" if ":" in raw else None
        names, optional = [], set()
        for tail in (raw.split(sep) if sep else [raw]):
            tail = tail.strip()
            if tail.startswith("(") and tail.endswith(")"):
                tail = tail[1:-1]
                optional.add(prefix + tail)
            names.append(prefix + tail)
        out.append(Layer(tuple(names), sep != ":", frozenset(optional)))
    return out


def _summary(module: str, root: Path) -> str | None:
    """The first paragraph of ``module``'s docstring on one line, reST literals as Markdown
    code, read from the source under ``root`` (the repository); ``None`` when the module does
    not exist."""
    base = root.joinpath(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            text = " ".join(doc.split("\n\n")[0].split())
            return re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text.replace("``", "`"))
    return None


def _block_layers(arg: str, results: _Results) -> str:
    """The layer table: one row per package of the layers contract, highest layer first (layer
    numbers count from the bottom), each with its docstring's first paragraph."""
    if not PYPROJECT.is_file():
        return f"*{PYPROJECT.name} not found: the layers render in a checkout*"
    layers = contract_layers()
    rows = []
    for i, layer in enumerate(layers):
        number = str(len(layers) - i) + ("" if layer.independent or len(layer.modules) == 1
                                         else " (import each other)")
        for m in layer.modules:
            summary = _summary(m, PYPROJECT.parent)
            rows.append({"layer": number, "package": f"`{m}`",
                         "holds": "*not there yet*" if summary is None and m in layer.optional
                         else summary})
    return _markdown_table(rows)


_BLOCKS: dict[str, Callable[[str, _Results], str]] = {
    "papers": _block_papers, "notebooks": _block_notebooks, "table": _block_table,
    "provenance": _block_provenance, "layers": _block_layers,
}


def _render_block(spec: str, results: _Results) -> str:
    kind, _, arg = spec.partition(":")
    if kind not in _BLOCKS:
        raise ValueError(f"marker 'results-block:{spec}': unknown block {kind!r} (one of {', '.join(_BLOCKS)})")
    return _BLOCKS[kind](arg, results)


# ---------------------------------------------------------------------------------------- pages
_CODE = re.compile(r"^```.*?^```|`[^`\n]+`", re.S | re.M)


def _in_code(text: str) -> Callable[[int], bool]:
    """Whether a position of ``text`` lies in a fenced code block or an inline code span (markers
    there are examples, not numbers: left as they are)."""
    spans = [m.span() for m in _CODE.finditer(text)]
    return lambda pos: any(a <= pos < b for a, b in spans)


def render_text(text: str, folder: str | Path | None = None) -> str:
    """``text`` with every marker's content replaced by what the results files in ``folder``
    (default :func:`afg.measured.results_dir`) say; markers inside code are left alone."""
    results = folder if isinstance(folder, _Results) else _Results(results_dir(folder))
    in_code = _in_code(text)
    text = _BLOCK.sub(lambda m: m[0] if in_code(m.start()) else
                      f"<!-- results-block:{m['spec']} -->\n{_render_block(m['spec'], results)}\n"
                      "<!-- /results-block -->", text)
    in_code = _in_code(text)
    return _VALUE.sub(lambda m: m[0] if in_code(m.start()) else
                      f"<!-- results:{m['spec']} -->{_render_value(m['spec'], results)}<!-- /results -->", text)


def page_paths(root: str | Path | None = None) -> list[Path]:
    """The pages of :data:`PAGES` under ``root`` (the repository)."""
    root = Path(root) if root is not None else REPO
    out: list[Path] = []
    for p in PAGES:
        path = root / p
        out += sorted(path.rglob("*.md")) if path.is_dir() else [path] if path.is_file() else []
    return out


def _mismatches(path: Path, text: str, results: _Results) -> list[str]:
    """One line per marker of ``text`` whose content differs from its rendering."""
    out = []
    in_code = _in_code(text)
    for pattern, render, kind in ((_BLOCK, _render_block, "results-block"), (_VALUE, _render_value, "results")):
        for m in pattern.finditer(text):
            if in_code(m.start()):
                continue
            line = text.count("\n", 0, m.start()) + 1
            try:
                want = render(m["spec"], results)
            except (KeyError, ValueError, IndexError, TypeError) as e:
                out.append(f"{path}:{line}: {kind}:{m['spec']}: {e}")
                continue
            have = m["body"].rstrip("\n") if kind == "results-block" else m["body"]
            if have != want:
                out.append(f"{path}:{line}: {kind}:{m['spec']}: page says {have!r}, results file says {want!r}")
    return out


def check_pages(paths: Iterable[str | Path] | None = None, folder: str | Path | None = None) -> list[str]:
    """Every disagreement between the pages (default :func:`page_paths`) and the results files in
    ``folder``, one line each (empty: every page agrees)."""
    results = _Results(results_dir(folder))
    out: list[str] = []
    for p in (page_paths() if paths is None else paths):
        p = Path(p)
        out += _mismatches(p, p.read_text(encoding="utf-8"), results)
    return out


#: what a measured number looks like in prose: a value with a unit of time, a percentage (not a
#: confidence level or a power, "95 % CI", "80 % power") or a ratio (not a size, "7×7", "2 × 2
#: seeds", "1×k")
_MEASURED = re.compile(r"(?<![\w.])[−+-]?\d+(?:[.,]\d+)?\s?"
                       r"(?:%(?!\s?(?:CI|confidence|interval|power))|×(?!\s?\d|[A-Za-z])"
                       r"|min\b|minutes\b|s\b|seconds\b|h\b|hours\b)")


def unmarked_numbers(text: str) -> list[str]:
    """Measured-looking numbers (``12.3 %``, ``4.2×``, ``11 min``) of ``text`` outside markers and
    code, one ``line N: ...`` each: on a rendered page every such number must come from a results
    file."""
    masked = _BLOCK.sub(lambda m: "\n" * m[0].count("\n"), text)
    masked = _VALUE.sub("", masked)
    masked = re.sub(r"```.*?```", lambda m: "\n" * m[0].count("\n"), masked, flags=re.S)
    masked = re.sub(r"`[^`\n]*`", "", masked)
    masked = re.sub(r"<!--.*?-->", "", masked, flags=re.S)
    return [f"line {masked.count(chr(10), 0, m.start()) + 1}: {m[0]!r}" for m in _MEASURED.finditer(masked)]


def main(argv: list[str] | None = None) -> int:
    """``python -m afg.docs [--check] [PAGE ...]``: render the pages in place, or (``--check``)
    print each disagreement and exit 1."""
    ap = argparse.ArgumentParser(prog="python -m afg.docs", description=main.__doc__)
    ap.add_argument("pages", nargs="*", help="pages (default: README.md and docs/**/*.md)")
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when a page disagrees")
    ap.add_argument("--results", default=None, help="results folder (default: docs/results)")
    args = ap.parse_args(argv)
    paths = [Path(p) for p in args.pages] or page_paths()
    if args.check:
        bad = check_pages(paths, args.results)
        for line in bad:
            print(line)
        print(f"{len(paths)} pages, {len(bad)} disagreement(s) with docs/results", file=sys.stderr)
        return 1 if bad else 0
    results = _Results(results_dir(args.results))
    # local: afg.utils imports torch; checking the pages (--check) does not need it
    from .utils import atomic_write_text

    changed = 0
    for p in paths:
        text = p.read_text(encoding="utf-8")
        new = render_text(text, results)
        if new != text:
            atomic_write_text(p, new)
            changed += 1
            print(f"rendered: {p}")
    n = len(results.all())
    print(f"{len(paths)} pages, {changed} updated from {n} results file(s) in {results.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
