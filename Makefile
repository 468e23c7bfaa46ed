# Two commands on a fresh Debian/Ubuntu machine: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
# RabbitMQ is installed locally only when no AMQP_URL points elsewhere.
RUN_PACKAGES := nginx $(if $(AMQP_URL),,rabbitmq-server)
TEST_PACKAGES := $(RUN_PACKAGES) chromium fonts-noto-core nodejs
PYTEST_ARGS ?=
# Every Python dependency (runtime, local, test) pinned: make, the Dockerfile
# and CI install from it. `make lock` rewrites it after pyproject.toml changes;
# tests/unit/test_lock.py fails while the two disagree.
LOCK := requirements.lock
UV_VERSION := 0.13.9
LOCK_COMMAND = uv pip compile pyproject.toml --extra local --extra test --extra iac --extra mutation --universal --python-version 3.11 --quiet -o $(LOCK)

.PHONY: run run-offline install install-test lint format test test-fast test-e2e bench clean lock gateway mutation

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.run-deps: pyproject.toml $(LOCK) | $(VENV)/bin/python
	$(PY) -m pip install -q -c $(LOCK) -e '.[local]'
	touch $@

$(VENV)/.test-deps: pyproject.toml $(LOCK) | $(VENV)/bin/python
	$(PY) -m pip install -q -c $(LOCK) -e '.[local,test,iac]'
	$(PY) deploy/tools/install_helm.py --dest $(VENV)/bin
	touch $@

install: $(VENV)/.run-deps  ## Python packages and system packages to run the stack
	scripts/install-system-packages.sh $(RUN_PACKAGES)

install-test: $(VENV)/.test-deps  ## everything the tests need
	scripts/install-system-packages.sh $(TEST_PACKAGES)

BROKER_NODES ?= 1

run: install  ## the whole stack on http://127.0.0.1:$${HTTP_PORT:-8080}; OFFLINE=1 uses the simulator; BROKER_NODES=3 a local RabbitMQ cluster
	$(PY) -m devstack --broker-nodes $(BROKER_NODES)

run-offline: install
	OFFLINE=1 $(PY) -m devstack

lint: $(VENV)/.test-deps
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) scripts/check_test_paths.py tests
	$(VENV)/bin/lint-imports

format: $(VENV)/.test-deps
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: install-test lint  ## lint, then every test (unit, integration, e2e)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(VENV)/.test-deps  ## unit tests only: no services, under 60 s
	$(PY) -m pytest -m "not integration and not e2e" $(PYTEST_ARGS)

test-e2e: install-test
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

# Mutation testing of the core (docs/TESTING.md): a measure, not a gate, and not
# part of `make test`. One mutant at a time (the machine is shared); unit tests
# only. Narrow it with e.g. MODULES="contracts sync_worker/validation.py".
MODULES ?= contracts common/consuming.py common/delivery.py sync_worker/validation.py sync_worker/upstream.py \
	sync_worker/randomuser.py sync_worker/fetching.py query_service/projection.py query_service/promotion.py query_service/snapshot_build.py \
	query_service/mongo.py query_service/mongo_snapshots.py query_service/mongo_syncs.py query_service/mongo_staging.py
MUTATION_CHILDREN ?= 1

$(VENV)/.mutation-deps: pyproject.toml $(VENV)/.test-deps
	$(PY) -m pip install -q -c $(LOCK) -e '.[local,test,mutation]'
	touch $@

mutation: $(VENV)/.mutation-deps  ## mutation score per core module (mutmut; minutes per module)
	rm -rf mutants
	@start=$$SECONDS; $(VENV)/bin/mutmut run --max-children $(MUTATION_CHILDREN) \
		$(foreach m,$(MODULES),'$(subst /,.,$(patsubst %.py,%,$(m:/=))).*') >mutants.log 2>&1 \
		|| { tail -n 40 mutants.log; exit 1; }; \
		echo "mutmut ran in $$((SECONDS - start)) s (log: mutants.log)"
	$(VENV)/bin/mutmut results --all true | $(PY) scripts/mutation_report.py $(MODULES)

bench: bench-read bench-sync  ## both benchmarks (about 5 minutes); results in docs/BENCHMARKS.md

.PHONY: bench-read bench-live bench-rebuild bench-sync bench-sync-growth bench-deps
bench-deps: install
	scripts/install-system-packages.sh wrk

bench-read: bench-deps  ## GET /queries/countries through nginx against nginx static (wrk)
	$(PY) -m bench.read

bench-live: bench-deps  ## promotion to a plain reader; 1,000 SSE streams: RSS and fan-out
	$(PY) -m bench.live

bench-rebuild: bench-deps  ## rebuild the read model from the event log: 48 snapshots of 5,000 users
	$(PY) -m bench.rebuild

bench-sync: bench-deps  ## POST /commands/sync to the new snapshot served, 1,000 to 20,000 users
	$(PY) -m bench.sync

lock: | $(VENV)/bin/python  ## re-pin requirements.lock from pyproject.toml (keeps current pins where they still fit)
	$(PY) -m pip install -q 'uv==$(UV_VERSION)'
	$(VENV)/bin/$(LOCK_COMMAND)

gateway: | $(VENV)/bin/python  ## re-render the compose and Helm gateway configs from nginx/gateway.conf.in
	$(PY) -m devstack.gateway

bench-sync-growth: bench-deps  ## time, peak RSS and largest document, 5,000 to 500,000 users
	$(PY) -m bench.sync --growth $(GROWTH_SIZES)

clean:
	rm -rf .run .mypy_cache .ruff_cache .pytest_cache tests/artifacts mutants mutants.log
