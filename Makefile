# Two commands for a fresh machine: `make test` and `make demo` (see README.md).
PY ?= python3
VENV_PY := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: host test lint demo bench gpu-bundle gpu-check clean-host

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

# GPU check (README, Development): the bundle is built here; gpu-check runs on the device machine (its python3,
# no host build there) and, without CUDA, here with the CUDA parts reported as skipped.
gpu-bundle: host
	$(VENV_PY) -m bench.gpu_bundle

gpu-check:
	$(if $(wildcard $(VENV_PY)),$(VENV_PY),python3) -m bench.gpu_check

clean-host:
	rm -rf .venv .comfyui .host .cache
