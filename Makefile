# Two commands do all set-up on a fresh machine: `make demo` (the main job) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
FACTORY := $(VENV)/bin/factory

.PHONY: setup machine langgraph-venv demo test lint typecheck

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt -e ".[dev]"
	touch $@

# What the tests need beside Python: Chromium, a Docker engine with a local base image, Postgres.
machine:
	bash scripts/setup-machine.sh

# LangGraph's own server (`langgraph dev`) in a venv of its own, for the tests that host the generated
# agent on it (its pins clash with LangServe's, so it never goes into .venv).
langgraph-venv: setup
	bash scripts/langgraph-venv.sh

demo: setup
	bash scripts/demo.sh

# The suite runs on four workers (pytest-xdist; most tests wait on servers, not on the 2 cores); tests that share a port or a database use their own.
test: setup machine langgraph-venv
	. ./.factory-env 2>/dev/null; $(VENV)/bin/pytest -q -n 4

lint: setup
	$(VENV)/bin/ruff check graphs factory tests benchmarks

typecheck: setup
	$(VENV)/bin/mypy
