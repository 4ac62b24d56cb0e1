"""The documentation site works offline (tools/docs_hooks.py): mkdocs.yml loads nothing from
another host, MathJax comes from the installed django-static-mathjax wheel, and the post-build
check that fails `make docs` finds what a browser would fetch from elsewhere. No MkDocs build here."""
from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "tools" / "docs_hooks.py")
hooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hooks)


def _is_url(s: str) -> bool:
    return s.startswith(("http:", "https:", "//"))


def test_mkdocs_config_loads_nothing_from_other_hosts():
    config = yaml.safe_load((REPO / "mkdocs.yml").read_text())
    assert config["theme"]["font"] is False, "Material's default font comes from Google Fonts"
    scripts = [s if isinstance(s, str) else s["path"] for s in config.get("extra_javascript", [])]
    styles = config.get("extra_css", [])
    assert not [s for s in scripts + styles if _is_url(s)]
    assert f"{hooks.MATHJAX_URI}/{hooks.MATHJAX_ENTRY}" in scripts
    assert "tools/docs_hooks.py" in config["hooks"]
    docs_extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["docs"]
    assert any(d.startswith("django-static-mathjax") for d in docs_extra)


def test_external_loads_are_what_a_browser_fetches_not_what_a_reader_follows():
    page = """<html><head>
    <link rel="preconnect" href="https://fonts.gstatic.com" crossorigin>
    <link rel="stylesheet" href='https://fonts.googleapis.com/css?family=Roboto'>
    <link rel="stylesheet" href="../assets/main.css">
    <link rel="canonical" href="https://example.org/afg/">
    <script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
    <script src="../assets/mathjax/tex-mml-chtml.js"></script>
    <style>@import url("//cdn.example.org/x.css"); .a {background: url(img/a.png)}</style>
    </head><body><a href="https://github.com/x/y">source</a>
    <img src="gallery/a.png" srcset="gallery/a.png 1x, https://img.example.org/a@2x.png 2x">
    <svg xmlns="http://www.w3.org/2000/svg"></svg></body></html>"""
    assert hooks.external_loads(page) == [
        "//cdn.example.org/x.css", "https://fonts.gstatic.com", "https://fonts.googleapis.com/css?family=Roboto",
        "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js", "https://img.example.org/a@2x.png"]
    assert hooks.external_loads("@font-face{src:url(https://f.example.org/r.woff2)}", css=True) == [
        "https://f.example.org/r.woff2"]
    assert hooks.external_loads('<script src="assets/x.js"></script><a href="https://a.b">') == []


def test_check_site_names_the_page_and_the_url(tmp_path):
    (tmp_path / "nb" / "02").mkdir(parents=True)
    (tmp_path / "index.html").write_text('<script src="assets/mathjax/tex-mml-chtml.js"></script>')
    (tmp_path / "nb" / "02" / "index.html").write_text('<script src="https://cdn.x.org/m.js"></script>')
    (tmp_path / "a.css").write_text("@import 'https://fonts.googleapis.com/css';")
    assert hooks.check_site(tmp_path) == ["a.css: https://fonts.googleapis.com/css",
                                          "nb/02/index.html: https://cdn.x.org/m.js"]


def test_mathjax_ships_its_entry_fonts_and_extensions():
    pytest.importorskip("mathjax", reason="the docs extra (django-static-mathjax) is not installed")
    files = hooks.mathjax_files()
    entry = f"{hooks.MATHJAX_URI}/{hooks.MATHJAX_ENTRY}"
    assert entry in files and files[entry].stat().st_size > 500_000
    assert any(u.startswith(f"{hooks.MATHJAX_URI}/output/chtml/fonts/woff-v2/") for u in files)
    assert f"{hooks.MATHJAX_URI}/input/tex/extensions/boldsymbol.js" in files  # autoloaded by \boldsymbol
    assert f"{hooks.MATHJAX_URI}/tex-svg.js" not in files  # the other combined builds stay out
