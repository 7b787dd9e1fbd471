# Two commands for a fresh machine: `make test` and `make demo` (see README.md).
# HOST picks the ComfyUI host of `make demo`, `make bench` and `make lint` (default: the newest, 0.8.0);
# `make test` runs every host (TEST_HOSTS=0.8.0 for one).
PY ?= python3
HOST ?= 0.8.0
TEST_HOSTS ?= 0.3.75,0.8.0
HOST_PY = .hosts/$(HOST)/venv/bin/python
PYTEST_ARGS ?=

.PHONY: host test lint demo bench gpu-bundle gpu-check clean-host

host:
	$(PY) scripts/host.py

lint: host
	$(HOST_PY) -m ruff check .

test: lint
	$(HOST_PY) scripts/run_tests.py --hosts $(TEST_HOSTS) $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

demo: host
	$(HOST_PY) scripts/demo.py

bench: host
	$(HOST_PY) -m bench run

# GPU check (README, Development): the bundle is built here; gpu-check runs on the device machine (its python3,
# no host build there) and, without CUDA, here with the CUDA parts reported as skipped.
gpu-bundle: host
	$(HOST_PY) -m bench.gpu_bundle

gpu-check:
	$(if $(wildcard $(HOST_PY)),$(HOST_PY),python3) -m bench.gpu_check

clean-host:
	rm -rf .hosts .cache .venv .comfyui .host
