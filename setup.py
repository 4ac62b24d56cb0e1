"""Packaging is declared in pyproject.toml; this file only works around one setuptools bug.

setuptools' editable installs (``pip install -e .``: ``make venv``, environment.yml) ask the
distribution ``has_data()``, which does not exist (it is ``has_data_files()``), so they never install
``[tool.setuptools.data-files]`` — here the notebooks' "Python (afg)" kernel
(share/jupyter/kernels/afg/kernel.json; pypa/setuptools#3399). Regular installs and wheels are
unaffected.
"""
from setuptools import setup
from setuptools.dist import Distribution


class _Distribution(Distribution):
    def has_data(self) -> bool:
        """What setuptools' ``editable_wheel`` asks before installing the data files."""
        return self.has_data_files()


setup(distclass=_Distribution)
