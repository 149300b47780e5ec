# Two commands for a fresh machine: `make demo` and `make test`. Each makes .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/microgradx demo

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2

lint: $(BIN)/.installed
	$(BIN)/ruff check microgradx tests benchmarks
	$(BIN)/ruff format --check microgradx tests benchmarks
	$(BIN)/mypy --strict microgradx

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_costs.py
	$(BIN)/python benchmarks/bench_page.py
	$(BIN)/python benchmarks/bench_compile.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
