# PyChat developer commands. `make run` and `make test` set everything up on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing PyChat; the first time this compiles llama.cpp (several minutes)."
	$(PY) -m pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@$(PY) -m pychat.engine.demo >/dev/null
	$(PY) -m pychat $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check pychat tests bench

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
