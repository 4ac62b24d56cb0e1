"""Notebooks that open clean (#44): the "Python (afg)" kernel comes with every install of the
package (into the environment's prefix, never user-wide), each notebook carries the metadata
JupyterLab would otherwise write on opening it (kernelspec and the kernel's language_info), and
JupyterLab's file browser lists each notebook once (the jupytext text forms live in notebooks/py/)."""
from __future__ import annotations

import json
import shutil
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KERNELS = REPO / "share" / "jupyter" / "kernels"
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_the_package_installs_the_afg_kernel_into_its_environment():
    data_files = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert data_files == {"share/jupyter/kernels/afg": ["share/jupyter/kernels/afg/kernel.json"]}
    spec = json.loads((KERNELS / "afg" / "kernel.json").read_text())
    assert (spec["display_name"], spec["language"]) == ("Python (afg)", "python")
    assert spec["argv"][:3] == ["python", "-m", "ipykernel_launcher"]  # no path into one clone


def test_jupyter_finds_the_kernel_and_runs_it_with_the_servers_python():
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    ksm = KernelSpecManager(kernel_dirs=[str(KERNELS)])
    assert ksm.find_kernel_specs()["afg"] == str(KERNELS / "afg")
    km = KernelManager(kernel_name="afg", kernel_spec_manager=ksm)
    cmd = km.format_kernel_cmd()
    assert cmd[0] == sys.executable and cmd[1:3] == ["-m", "ipykernel_launcher"]


@pytest.mark.slow
def test_an_editable_install_carries_the_kernel(tmp_path):
    """setuptools' editable wheels leave data files out (pypa/setuptools#3399) unless setup.py's
    workaround is there: build one from a copy of the packaging files and look inside."""
    from setuptools import build_meta

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "share", "afg"):
        (shutil.copytree if (REPO / name).is_dir() else shutil.copy)(REPO / name, src / name)
    out = tmp_path / "wheel"
    out.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(src)
        name = build_meta.build_editable(str(out))
    names = zipfile.ZipFile(out / name).namelist()
    assert any(n.endswith(".data/data/share/jupyter/kernels/afg/kernel.json") for n in names), names


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_carry_what_jupyterlab_would_write(nb):
    """JupyterLab sets ``kernelspec`` and ``language_info`` from the kernel when a notebook opens
    and marks it modified unless both are already equal; the version field is the kernel's Python
    (here the major.minor that pyproject.toml requires)."""
    from ipykernel.ipkernel import IPythonKernel

    meta = json.loads(nb.read_text())["metadata"]
    assert meta["kernelspec"] == {"display_name": "Python (afg)", "language": "python", "name": "afg"}
    want = dict(IPythonKernel.language_info)
    got = dict(meta["language_info"])
    assert {k: v for k, v in got.items() if k != "version"} == {k: v for k, v in want.items() if k != "version"}
    assert got["version"].startswith("3.11."), got["version"]


def test_the_file_browser_lists_each_notebook_once():
    paired_paths = pytest.importorskip("jupytext.paired_paths").paired_paths
    top = sorted(p.name for p in (REPO / "notebooks").iterdir() if not p.name.startswith("."))
    assert top == sorted([p.name for p in NOTEBOOKS] + ["py"])
    assert sorted(p.stem for p in (REPO / "notebooks" / "py").glob("*.py")) == [p.stem for p in NOTEBOOKS]
    for nb in NOTEBOOKS:
        meta = json.loads(nb.read_text())["metadata"]
        assert meta["jupytext"]["formats"] == "ipynb,py//py:percent", nb.name
        paths = [p for p, _ in paired_paths(str(nb), "ipynb", meta["jupytext"]["formats"])]
        assert paths == [str(nb), str(nb.parent / "py" / f"{nb.stem}.py")]
