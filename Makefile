# Two commands for a fresh machine: `make demo` and `make test`. Each makes .venv on first use and
# installs only what it needs (the demo: the package and its pictures; the tests: the test extra).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet

.PHONY: demo test lint lab site lite bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BIN)/.demo-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[demo]'
	touch $@

$(BIN)/.test-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@

$(BIN)/.dev-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[dev]'
	touch $@

$(BIN)/.lite-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[lite]'
	touch $@

$(BIN)/.notebook-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[notebook]'
	touch $@

demo: $(BIN)/.demo-installed
	$(BIN)/microgradx demo

test: $(BIN)/.test-installed
	$(BIN)/python -m pytest -n 2

lint: $(BIN)/.dev-installed
	$(BIN)/ruff check microgradx tests benchmarks playground
	$(BIN)/ruff format --check microgradx tests benchmarks playground
	$(BIN)/mypy --strict microgradx

# JupyterLab on the notebooks (the notebook extra: JupyterLab and everything the notebooks use).
# Run as root (a container, a CI runner) Jupyter refuses to start without --allow-root.
# playground/lab-settings/overrides.json: no prompt about Jupyter's news feed, no update check
# (the server's news_url= alone leaves the prompt; the course asks nothing of the network).
LAB_UID ?= $(shell id -u)
LAB_FLAGS = $(if $(filter 0,$(LAB_UID)),--allow-root)
LAB_SETTINGS = --LabApp.news_url= --LabApp.app_settings_dir=$(CURDIR)/playground/lab-settings
lab: $(BIN)/.notebook-installed
	$(BIN)/jupyter lab $(LAB_FLAGS) $(LAB_SETTINGS) notebooks/

# The browser playground: static files in site/ (Pyodide from npm, this package's wheel, the page)
site: $(BIN)/python
	$(BIN)/python playground/build_site.py

# The course in a browser: a JupyterLite site in lite/ with every notebook and microgradx preloaded
# (Pyodide from npm, the kernel's wheels from PyPI); serve it with python3 -m http.server --bind 127.0.0.1 -d lite.
# LITE_FLAGS='--pyodide-packages-url URL': where numpy and matplotlib load from (a school's copy)
LITE_FLAGS ?=
lite: $(BIN)/.lite-installed
	$(BIN)/python playground/build_lite.py $(LITE_FLAGS)

bench: $(BIN)/.test-installed
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_costs.py
	$(BIN)/python benchmarks/bench_page.py
	$(BIN)/python benchmarks/bench_compile.py
	$(BIN)/python benchmarks/bench_replay_numpy.py
	$(BIN)/python benchmarks/bench_gradcheck.py
	$(BIN)/python benchmarks/bench_layout.py
	$(BIN)/python playground/build_site.py
	$(BIN)/python benchmarks/bench_site.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis site lite \
		notebooks/.hypothesis microgradx-demo
