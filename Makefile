# The two commands of README.md are `make demo` and `make test`; the rest are their parts.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: help venv up down status demo live smoke test test-unit lint bench lock go-test browser lab

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

demo: up  ## set everything up and run the main job: scenario -> Lambda -> Flink -> incident report
	@$(PY) -m pipeline demo

live: up  ## the pipeline live for 10 minutes (payment-outage): dashboard URL, alerts as they arrive
	@$(PY) -m pipeline live --scenario payment-outage --duration 600

smoke: up  ## a quick round trip through every server
	@$(PY) -m pipeline smoke

lab: up  ## JupyterLab on the notebooks (the package is installed in the environment)
	@$(PY) -m jupyter lab notebooks/

go-test:  ## unit tests of the FerretDB wire proxy (Go)
	@cd env/ferretdb && go vet ./... && go test ./...

lint: venv  ## ruff over the Python code
	@$(PY) -m ruff check pipeline tests lambda notebooks

browser:  ## Debian's chromium, for the test that opens the report in a real browser
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then echo "installing chromium (Debian) ..."; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "error: chromium is missing; install it: sudo apt-get install chromium" >&2; exit 1; fi; }

test: up lint go-test browser  ## set everything up and run the whole test suite (notebooks too, with nbval)
	@$(PY) -m pytest tests notebooks/0*.ipynb --nbval-lax

test-unit: venv  ## the tests that need no running stack
	@$(PY) -m pytest tests/unit

bench: up  ## throughput and latency figures against the running stack
	@$(PY) -m pipeline bench

lock: venv  ## re-pin requirements.lock from pyproject.toml (needs PyPI)
	@bash env/lock.sh
