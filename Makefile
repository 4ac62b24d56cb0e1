# afg — the two README commands are `make demo` (main job) and `make test` (tests).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: demo demo-quick test test-fast lab bench lint clean venv docs docs-numbers slurm-up slurm-down \
        slurm-test

venv: $(STAMP)

# (Re-)install when pyproject.toml changes. facenet-pytorch pins torch<2.3/numpy<2, which
# cannot co-exist with the stack, so it is installed without its (already satisfied) deps.
# The notebooks' "Python (afg)" kernel comes with the package (pyproject.toml's data-files, into
# $(VENV)/share/jupyter/kernels/afg): nothing is registered user-wide.
$(STAMP): pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps facenet-pytorch==2.6.0
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m afg demo

demo-quick: $(STAMP)
	$(PY) -m afg demo --quick

# lint first (seconds; the rules are pyproject.toml's [tool.ruff.lint]), the layers contract
# (pyproject.toml's [tool.importlinter]: no import against docs/architecture.md's layer order),
# then every test
test: $(STAMP)
	$(VENV)/bin/ruff check afg tests benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n 2 --dist loadgroup

# quick loop for development: leaves out notebook execution and the tests marked slow (demo,
# parallel and DDP runs, cold CLI subprocesses, each paper's CPU training); `make test` runs all
test-fast: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup -m "not notebook and not slow"

# --allow-root when run as root (containers): Jupyter refuses to start as root otherwise
lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/ $$(test "$$(id -u)" = 0 && echo --allow-root)

bench: $(STAMP)
	for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# the measured numbers of README.md and docs/ from docs/results/*.json (afg.docs; --check: compare only)
docs-numbers: $(STAMP)
	$(PY) -m afg.docs

# the documentation site into site/ (MkDocs + Material, mkdocstrings, the notebooks as pages;
# strict: broken links and references fail). Needs the `docs` extra: pip install -e '.[docs]'
docs: $(STAMP)
	$(PY) -m afg.docs --check
	$(PY) -c "import mkdocs, material, mkdocstrings, mkdocs_jupyter, mathjax" 2>/dev/null || $(PY) -m pip install -q -e '.[docs]'
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# a one-node SLURM cluster on this machine (root; installs Debian's slurm-wlm and munge when
# missing; docs/cluster.md), and the tests marked slurm run against it: up, test, down (even
# when a test fails); a missing cluster fails them here (they are skipped by `make test`)
SLURM_DIR ?= /tmp/afg-slurm
slurm-up:
	AFG_SLURM_DIR=$(SLURM_DIR) tools/slurm/up.sh

slurm-down:
	AFG_SLURM_DIR=$(SLURM_DIR) tools/slurm/down.sh

slurm-test: $(STAMP)
	AFG_SLURM_DIR=$(SLURM_DIR) tools/slurm/up.sh; up=$$?; \
	if [ $$up -eq 0 ]; then SLURM_CONF=$(SLURM_DIR)/slurm.conf AFG_REQUIRE_SLURM=1 \
		$(PY) -m pytest -q -n 0 -s -p no:cacheprovider -m slurm tests/slurm; rc=$$?; else rc=$$up; fi; \
	AFG_SLURM_DIR=$(SLURM_DIR) tools/slurm/down.sh; exit $$rc

lint: $(STAMP)
	$(VENV)/bin/ruff check afg tests benchmarks
	$(VENV)/bin/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache site .cache
