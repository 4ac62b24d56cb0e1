"""Progress while a user waits: tqdm bars where they render, one plain line per step where not.

Three places show progress, and each picks its form from where the output goes:

* a **terminal** (``sys.stderr.isatty()``): tqdm's text bars, redrawn in place;
* a **Jupyter kernel** (JupyterLab, Notebook, VS Code, papermill): ``tqdm.auto``'s widget bars;
* anything else (a log file, a pipe, ``nohup``, CI, captured output): **no bars** — their
  ``\\r`` frames would pile up in the file — but one plain line per finished step (an epoch of
  training, a run of an ablation), printed with :func:`line`.

:func:`bar` returns a tqdm bar that is disabled (silent) in the third case; :func:`line` prints
only there. Code that reports progress calls both and the right one shows.
"""
from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm.auto import tqdm

__all__ = ["RunsProgress", "bar", "bars_render", "format_seconds", "in_notebook", "line"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where ``tqdm.auto`` draws widgets); the same test as
    ``tqdm.autonotebook``: an IPython shell whose config holds ``IPKernelApp``."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except (AttributeError, TypeError):
        return False


def bars_render(stream: TextIO | None = None) -> bool:
    """True where progress bars render: a Jupyter kernel, or ``stream`` (default ``sys.stderr``,
    where tqdm writes) is a terminal."""
    if in_notebook():
        return True
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def bar(total: int | None = None, desc: str = "", enabled: bool = True, **kwargs: Any) -> Any:
    """A ``tqdm.auto`` bar, disabled unless ``enabled`` and bars render (:func:`bars_render`)."""
    return tqdm(total=total, desc=desc, disable=not (enabled and bars_render()), **kwargs)


def line(text: str, enabled: bool = True) -> None:
    """Print ``text`` as one line on ``sys.stderr`` where bars do not render (see the module)."""
    if enabled and not bars_render():
        print(text, file=sys.stderr, flush=True)


def format_seconds(s: float) -> str:
    """``"42 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``."""
    s = max(0.0, float(s))
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60):02d} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60):02d} min"


class RunsProgress:
    """Progress over the ``total`` runs of an ablation, ``cached`` of them already done.

    A bar ``"<desc>: k/N runs [elapsed<ETA]"`` starting at ``cached`` (so the ETA rests on the
    runs trained here only), or, where bars do not render, one line per run:
    ``"<desc>: run k/N (<label>) trained in 41 s; c cached; ETA 5 min 12 s"``.

    >>> with RunsProgress(20, cached=3, desc="ablation") as p:
    ...     for label, was_cached in ...:
    ...         p.done(label, was_cached)
    """

    def __init__(self, total: int, cached: int = 0, desc: str = "runs", enabled: bool = True):
        self.total, self.cached, self.desc, self.enabled = int(total), int(cached), desc, enabled
        self.k, self.trained, self.trained_s, self._cached_left = self.cached, 0, 0.0, self.cached
        self._t = time.perf_counter()
        self.bar = bar(self.total, desc, enabled, initial=self.cached, unit="run", leave=True)
        self.bar.set_postfix(cached=self.cached, refresh=False)
        todo = self.total - self.cached
        line(f"{desc}: {self.total} runs, {self.cached} cached, {todo} to train", enabled and todo > 0)

    def done(self, label: str, cached: bool) -> None:
        """Run ``label`` finished; ``cached``: nothing was trained (one of the ``cached`` runs
        counted upfront, else one another process finished meanwhile, counted now)."""
        now = time.perf_counter()
        if cached:
            if self._cached_left > 0:  # counted upfront
                self._cached_left -= 1
            else:
                self.k += 1
                self.cached += 1
                self.bar.update(1)
            self.bar.set_postfix(cached=self.cached)
            self._t = now
            return
        self.k += 1
        self.trained += 1
        self.trained_s += now - self._t
        eta = (self.total - self.k) * self.trained_s / self.trained
        self.bar.update(1)
        line(f"{self.desc}: run {self.k}/{self.total} ({label}) trained in {format_seconds(now - self._t)}; "
             f"{self.cached} cached; ETA {format_seconds(eta)}", self.enabled)
        self._t = now

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> RunsProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
