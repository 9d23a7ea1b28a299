# gpubot: `make demo` and `make test` work on a fresh machine (Python >= 3.11).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check -q

.PHONY: demo test bench fuzz lint unit scenarios schema wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	touch $@ $(VENV)/.runtime

## demo: install and diagnose the demo snapshot bundled with gpubot
demo: $(VENV)/.runtime
	$(BIN)/gpubot diagnose --demo

## test: lint (ruff, import-linter, playbooks, schema) and the whole test suite, one pytest
## worker per CPU (pytest-xdist; every test makes its own ports, files and PostgreSQL database).
## PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= auto
test: $(VENV)/.dev lint
	$(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS)

## bench: the issue 7 benchmark (5,000 nodes, 150,000 pods; takes minutes, not a test)
bench: $(VENV)/.dev
	$(BIN)/python -m bench.run $(BENCH_ARGS)

## fuzz: coverage-guided fuzzing (atheris), FUZZ_SECONDS per target; not part of `make test`
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= jsonstream commands alerts tokens kql
fuzz: $(VENV)/.dev
	@for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz/$$t.py for $(FUZZ_SECONDS) s (new corpus: .fuzz/corpus/$$t)"; \
	  mkdir -p .fuzz/corpus/$$t .fuzz/crashes; \
	  seeds=""; [ -d fuzz/corpus/$$t ] && seeds=fuzz/corpus/$$t; \
	  $(BIN)/python fuzz/$$t.py -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix=.fuzz/crashes/$$t- .fuzz/corpus/$$t $$seeds \
	    || exit 1; \
	done

lint: $(VENV)/.dev
	$(BIN)/ruff check bot tests
	$(BIN)/lint-imports --no-cache
	$(BIN)/gpubot playbooks lint
	$(BIN)/gpubot playbooks schema | cmp -s - playbooks/playbook.schema.json || \
	  (echo "playbooks/playbook.schema.json is stale: run make schema" && exit 1)
	$(BIN)/gpubot playbooks schema --runbook | cmp -s - runbooks/runbook.schema.json || \
	  (echo "runbooks/runbook.schema.json is stale: run make schema" && exit 1)

## schema: regenerate the shipped JSON Schemas
schema: $(VENV)/.dev
	$(BIN)/gpubot playbooks schema > playbooks/playbook.schema.json
	$(BIN)/gpubot playbooks schema --runbook > runbooks/runbook.schema.json

## scenarios: regenerate tests/scenarios/* and the bundled demo from tests/scenarios/builder
scenarios: $(VENV)/.dev
	$(BIN)/python -m tests.scenarios.builder

wheel: $(VENV)/.dev
	$(BIN)/pip wheel --no-deps -q -w dist .

clean:
	rm -rf $(VENV) build dist *.egg-info
