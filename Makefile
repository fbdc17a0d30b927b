# The two commands of README.md are `make demo` and `make test`; the rest are their parts.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: help venv up down status demo test test-unit lint bench lock go-test

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

venv:  ## create the Python environment (cached under ~/.cache/log-workbench/venvs)
	@bash env/bootstrap.sh

up: venv  ## install what is missing and start the local stack
	@$(PY) -m pipeline stack up

down: venv  ## stop what `make up` started (data is kept)
	@$(PY) -m pipeline stack down

status: venv  ## the state of each server; non-zero if one is down
	@$(PY) -m pipeline stack status

demo: up  ## set everything up and run the main job
	@$(PY) -m pipeline smoke

go-test:  ## unit tests of the FerretDB wire proxy (Go)
	@cd env/ferretdb && go vet ./... && go test ./...

lint: venv  ## ruff over the Python code
	@$(PY) -m ruff check pipeline tests lambda

test: up lint go-test  ## set everything up and run the whole test suite
	@$(PY) -m pytest

test-unit: venv  ## the tests that need no running stack
	@$(PY) -m pytest tests/unit

bench: up  ## throughput and latency figures against the running stack
	@$(PY) -m pipeline bench

lock: venv  ## re-pin requirements.lock from pyproject.toml (needs PyPI)
	@bash env/lock.sh
