"""MkDocs hooks (``mkdocs.yml`` → ``hooks``): the documentation site works offline.

* :func:`on_files` adds MathJax 3 to the site from the installed ``django-static-mathjax`` wheel
  (the ``docs`` extra; a PyPI package that ships MathJax's own ``es5`` build as static files, no
  Django needed): ``tex-mml-chtml.js`` and the folders it loads from at run time (fonts, TeX
  extensions, menu, accessibility), under ``assets/mathjax/``. Nothing is committed, nothing comes
  from a CDN.
* :func:`on_post_build` fails the build when a page of ``site/`` still loads a script, a style
  sheet, a font or an image from another host (:func:`external_loads`).
"""
from __future__ import annotations

import re
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files

#: where MathJax goes in the site (``extra_javascript`` names ``MATHJAX_URI/MATHJAX_ENTRY``)
MATHJAX_URI = "assets/mathjax"
#: MathJax's combined component (TeX and MathML in, CommonHTML out), as on its CDN
MATHJAX_ENTRY = "tex-mml-chtml.js"
#: the other combined components of MathJax's es5 folder: not loaded by the entry, left out
_OTHER_COMBINED = re.compile(r"^(?!tex-mml-chtml\.js$)[\w-]+\.js$")


def mathjax_dir() -> Path:
    """MathJax's ``es5`` folder in the installed ``django-static-mathjax`` package (``mathjax``)."""
    spec = find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("MathJax is not installed: pip install -e '.[docs]' (django-static-mathjax)")
    es5 = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (es5 / MATHJAX_ENTRY).is_file():
        raise FileNotFoundError(f"no {MATHJAX_ENTRY} in {es5}: the 'mathjax' module is not django-static-mathjax")
    return es5


def mathjax_files(es5: Path | None = None) -> dict[str, Path]:
    """``{site path: file}`` for MathJax: the entry and every file under the es5 sub-folders."""
    es5 = es5 or mathjax_dir()
    out = {}
    for path in sorted(es5.rglob("*")):
        rel = path.relative_to(es5)
        if path.is_file() and not (len(rel.parts) == 1 and _OTHER_COMBINED.match(rel.name)):
            out[f"{MATHJAX_URI}/{rel.as_posix()}"] = path
    return out


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """MathJax's files join the site's, served from the installed package."""
    from mkdocs.structure.files import File

    for uri, path in mathjax_files().items():
        files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


# ------------------------------------------------------------------------------ offline check
_TAG = re.compile(r"<(script|link|img|iframe|source|video|audio|embed)\b([^>]*)>", re.I)
_ATTR = re.compile(r"""\b(src|href|srcset)\s*=\s*(["'])(.*?)\2""", re.I)
_REL = re.compile(r"""\brel\s*=\s*(["'])(.*?)\1""", re.I)
_CSS_URL = re.compile(r"""(?:@import\s+|url\()\s*["']?((?:https?:)?//[^"')\s]+)""", re.I)
_EXTERNAL = re.compile(r"^(?:https?:)?//", re.I)
#: ``<link rel=...>`` that name a page rather than load one
_NOT_LOADED = {"canonical", "alternate", "author", "license", "help", "next", "prev", "search"}


def external_loads(text: str, css: bool = False) -> list[str]:
    """The URLs on other hosts that a browser loads when it opens ``text`` (an HTML page, or a
    style sheet with ``css=True``): ``<script src>``, ``<link href>`` (a style sheet, a font, an
    icon, a preconnect; not ``canonical``/``alternate``), ``<img src>`` and the like, CSS ``url()``
    and ``@import``. Links a reader follows (``<a href>``) are not loads."""
    out = [m[1] for m in _CSS_URL.finditer(text)]
    if css:
        return out
    for tag in _TAG.finditer(text):
        attrs = tag[2]
        rel = _REL.search(attrs)
        if tag[1].lower() == "link" and rel and set(rel[2].lower().split()) <= _NOT_LOADED:
            continue
        for a in _ATTR.finditer(attrs):
            urls = [u.split()[0] for u in a[3].split(",") if u.strip()] if a[1].lower() == "srcset" else [a[3]]
            out += [u for u in urls if _EXTERNAL.match(u)]
    return out


def check_site(site: str | Path) -> list[str]:
    """``file: url`` for every external load of every page and style sheet under ``site``."""
    site = Path(site)
    bad = []
    for path in sorted(site.rglob("*")):
        if path.suffix in (".html", ".css") and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            bad += [f"{path.relative_to(site)}: {u}" for u in external_loads(text, css=path.suffix == ".css")]
    return bad


def on_post_build(config: MkDocsConfig) -> None:
    """Fail the build on an external load (:func:`check_site`)."""
    from mkdocs.exceptions import Abort

    bad = check_site(config["site_dir"])
    if bad:
        shown = "\n  ".join(bad[:20]) + (f"\n  ... {len(bad) - 20} more" if len(bad) > 20 else "")
        raise Abort(f"the site loads {len(bad)} thing(s) from other hosts (it must work offline):\n  {shown}")
