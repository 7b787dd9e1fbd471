# Two commands for a fresh machine: `make test` and `make demo` (see README.md).
PY ?= python3
VENV_PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: host test lint demo bench clean-host

host:
	$(PY) scripts/host.py

lint: host
	$(VENV_PY) -m ruff check .

test: lint
	$(VENV_PY) -m pytest $(PYTEST_ARGS)

demo: host
	$(VENV_PY) scripts/demo.py

bench: host
	$(VENV_PY) -m bench run

clean-host:
	rm -rf .venv .comfyui .host .cache
