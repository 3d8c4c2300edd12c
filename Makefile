# Two commands from a fresh clone: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-all lint typecheck docs bench fuzz clean dist dist-check

venv: $(STAMP)

# torch and torchvision first, pinned to the releases that lie on this machine's disk;
# the package itself only declares ranges.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -e '.[test,docs,plot,bench,slides,dicom,notebooks]'
	touch $(STAMP)

demo: venv
	$(PY) -m histomammo.demo

lint: venv
	$(VENV)/bin/ruff check histomammo tests benchmarks examples tools ci

# [tool.mypy] in pyproject.toml: untyped or incomplete definitions are errors.
typecheck: venv
	$(PY) -m mypy histomammo

# The site is built in its own venv holding only the `docs` extra: mkdocstrings reads the
# package by static analysis, so no torch and no numpy (checked), and tools/check_site.py then
# fails on raw Sphinx roles, reST `::` markers or a public name missing from the site.
DOCS_VENV := .venv-docs
$(DOCS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DOCS_VENV)
	$(PYTHON) tools/docs_requirements.py > $(DOCS_VENV)/requirements.txt
	$(DOCS_VENV)/bin/pip install -r $(DOCS_VENV)/requirements.txt
	touch $@

docs: $(DOCS_VENV)/.installed
	@$(DOCS_VENV)/bin/python -I -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('torch', 'numpy', 'histomammo')))" \
		|| { echo "$(DOCS_VENV) must not hold torch, numpy or histomammo"; exit 1; }
	$(DOCS_VENV)/bin/mkdocs build --strict --site-dir site
	$(DOCS_VENV)/bin/python tools/check_site.py site

test: lint typecheck
	$(PY) -m pytest
	$(MAKE) docs

test-all: lint typecheck
	$(PY) -m pytest -m ""
	$(MAKE) docs

bench: venv
	@set -e; for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(PY) $$script; done

# 10,000 seeded mutants per reader (DICOM, TIFF, HDF5), two reader processes: the tally table.
fuzz: venv
	$(PY) tests/fuzz/run_fuzz.py --mutants 10000 --workers 2

# Wheel and sdist into dist/ (`python -m build`: the sdist first, the wheel built from it), and
# what they hold checked: the package and its metadata, no tests (ci/check_dist_contents.py).
dist: venv
	rm -rf dist
	$(PY) -m build --outdir dist .
	$(PY) ci/check_dist_contents.py dist

# The wheel as a dependency: a clean venv, torch from this machine's disk, a downstream project
# (ci/downstream) that needs histomammo, its script run outside the repository (ci/dist_check.sh).
dist-check: dist
	bash ci/dist_check.sh $(PYTHON)

clean:
	rm -rf $(VENV) $(DOCS_VENV) site demo_out .pytest_cache dist build histomammo.egg-info .cache
